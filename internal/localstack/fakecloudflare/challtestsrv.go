package fakecloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// ChallTestSrvSink is a TXTSink that serves the fake's TXT records from
// pebble-challtestsrv's DNS server, through its management API (the -management
// address, e.g. BaseURL "http://127.0.0.1:8055").
//
// challtestsrv appends the values of repeated /set-txt calls for one host and its
// /clear-txt removes them all; it cannot remove one value. A real Cloudflare changes a
// name's records without a moment in which it has none, and an ACME server validating
// the other challenge of a name in such a moment fails it (the two challenges of a
// wildcard and its apex share one name). So a value added next to others is only
// appended, and a value removed while others stay is left served until the name's
// last record goes: then the host is cleared. Only a value's absence next to others
// is not like Cloudflare (a validator looks for its own value, never for another's
// absence). A change that drops values and adds others at once (a replacement, as
// localstack's InterceptCloudflareTXT makes) clears the host and sets the new values.
type ChallTestSrvSink struct {
	BaseURL string
	Client  *http.Client // nil means http.DefaultClient

	mu     sync.Mutex
	wanted map[string][]string // the values last set per host
	served map[string][]string // what challtestsrv holds per host (wanted and left-over), as far as known
}

// SetTXT implements TXTSink.
func (c *ChallTestSrvSink) SetTXT(ctx context.Context, fqdn string, values []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.served == nil {
		c.served, c.wanted = map[string][]string{}, map[string][]string{}
	}
	prev, known := c.served[fqdn]
	delete(c.served, fqdn) // unknown until the calls below succeed
	add := missing(prev, values)
	replaced := len(add) > 0 && len(missing(values, c.wanted[fqdn])) > 0
	if !known || len(values) == 0 || replaced {
		if err := c.post(ctx, "/clear-txt", map[string]string{"host": fqdn}); err != nil {
			return err
		}
		prev, add = nil, values
	}
	for _, v := range add {
		if err := c.post(ctx, "/set-txt", map[string]string{"host": fqdn, "value": v}); err != nil {
			return err
		}
	}
	c.wanted[fqdn] = slices.Clone(values)
	if len(values) > 0 {
		c.served[fqdn] = append(slices.Clone(prev), add...)
	}
	return nil
}

// missing returns the values of next that served lacks (counting repeats).
func missing(served, next []string) (add []string) {
	left := slices.Clone(served)
	for _, v := range next {
		if i := slices.Index(left, v); i >= 0 {
			left = slices.Delete(left, i, i+1)
		} else {
			add = append(add, v)
		}
	}
	return add
}

func (c *ChallTestSrvSink) post(ctx context.Context, path string, body map[string]string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("challtestsrv %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("challtestsrv %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("challtestsrv %s %s: %s %s", path, body["host"], resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
