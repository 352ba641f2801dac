package fakecloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ChallTestSrvSink is a TXTSink that serves the fake's TXT records from
// pebble-challtestsrv's DNS server, through its management API (the -management
// address, e.g. BaseURL "http://127.0.0.1:8055").
//
// challtestsrv appends the values of repeated /set-txt calls for one host and its
// /clear-txt removes them all, so SetTXT clears the host and then sets every value
// again. A DNS query that lands between the two may see fewer values for a moment;
// ACME servers retry their lookups, and the DNS-01 solver checks propagation first.
type ChallTestSrvSink struct {
	BaseURL string
	Client  *http.Client // nil means http.DefaultClient
}

// SetTXT implements TXTSink.
func (c ChallTestSrvSink) SetTXT(ctx context.Context, fqdn string, values []string) error {
	if err := c.post(ctx, "/clear-txt", map[string]string{"host": fqdn}); err != nil {
		return err
	}
	for _, v := range values {
		if err := c.post(ctx, "/set-txt", map[string]string{"host": fqdn, "value": v}); err != nil {
			return err
		}
	}
	return nil
}

func (c ChallTestSrvSink) post(ctx context.Context, path string, body map[string]string) error {
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
