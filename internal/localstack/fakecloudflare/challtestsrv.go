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
// /clear-txt removes them all. A value added next to others (the two challenges of a
// wildcard and its apex share one name) is only appended: clearing and setting them
// all again would leave a moment without records, and an ACME server validating the
// other challenge in that moment fails it, as a real Cloudflare never would. Only a
// removal clears the host and sets the rest again.
type ChallTestSrvSink struct {
	BaseURL string
	Client  *http.Client // nil means http.DefaultClient

	mu     sync.Mutex
	served map[string][]string // what challtestsrv holds per host, as far as known
}

// SetTXT implements TXTSink.
func (c *ChallTestSrvSink) SetTXT(ctx context.Context, fqdn string, values []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.served == nil {
		c.served = map[string][]string{}
	}
	prev, known := c.served[fqdn]
	delete(c.served, fqdn) // unknown until the calls below succeed
	add, ok := appended(prev, values)
	if !known || !ok {
		if err := c.post(ctx, "/clear-txt", map[string]string{"host": fqdn}); err != nil {
			return err
		}
		add = values
	}
	for _, v := range add {
		if err := c.post(ctx, "/set-txt", map[string]string{"host": fqdn, "value": v}); err != nil {
			return err
		}
	}
	c.served[fqdn] = slices.Clone(values)
	return nil
}

// appended returns the values of next that prev lacks, and whether next holds every
// value of prev (counting repeats).
func appended(prev, next []string) (add []string, ok bool) {
	left := slices.Clone(prev)
	for _, v := range next {
		if i := slices.Index(left, v); i >= 0 {
			left = slices.Delete(left, i, i+1)
		} else {
			add = append(add, v)
		}
	}
	return add, len(left) == 0
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
