package dns01

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DigitalOceanConfig holds a DigitalOcean API token (upstream's
// digitalocean.tokenSecretRef) and the API's endpoint.
type DigitalOceanConfig struct {
	Token string
	// BaseURL is the API base, without "/v2"; empty means https://api.digitalocean.com.
	BaseURL string
	// HTTPClient makes the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
}

// digitalOceanDefaultURL is DigitalOcean's API.
const digitalOceanDefaultURL = "https://api.digitalocean.com"

// digitalOceanTTL is the TTL of presented records (DigitalOcean's minimum, 30s).
const digitalOceanTTL = 30

// NewDigitalOcean returns a Provider that manages TXT records through DigitalOcean's
// DNS API (/v2/domains/{zone}/records), statelessly: the zone and record ids are
// looked up on every call.
func NewDigitalOcean(cfg DigitalOceanConfig) (Provider, error) {
	tok := strings.TrimSpace(cfg.Token)
	if tok == "" {
		return nil, fmt.Errorf("digitalocean: no API token")
	}
	u, err := apiBaseURL("digitalocean", cfg.BaseURL, digitalOceanDefaultURL)
	if err != nil {
		return nil, err
	}
	return &apiProvider{name: "digitalocean", api: &digitalOceanAPI{base: u, token: tok, hc: apiHTTPClient(cfg.HTTPClient)}}, nil
}

type digitalOceanAPI struct {
	base  *url.URL
	token string
	hc    *http.Client
}

type doDomainRecord struct {
	ID   int    `json:"id,omitempty"`
	Type string `json:"type"`
	Name string `json:"name"`
	Data string `json:"data"`
	TTL  int    `json:"ttl,omitempty"`
}

// do sends one request; a status of 400 or more is an *APIError with DigitalOcean's
// message and id. notFoundOK makes a 404 return (false, nil).
func (d *digitalOceanAPI) do(ctx context.Context, op, method string, u *url.URL, body, out any, notFoundOK bool) (bool, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return false, fmt.Errorf("digitalocean: %s: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return false, fmt.Errorf("digitalocean: %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "certflow")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		// url.Error holds the URL only, never the Authorization header.
		return false, fmt.Errorf("digitalocean: %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return false, fmt.Errorf("digitalocean: %s: read answer: %w", op, err)
	}
	if resp.StatusCode == http.StatusNotFound && notFoundOK {
		return false, nil
	}
	if resp.StatusCode >= 400 {
		var e struct {
			ID      string `json:"id"`
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			msg = e.Message
			if e.ID != "" {
				msg += " (" + e.ID + ")"
			}
		}
		if len(msg) > 512 {
			msg = msg[:512] + "..."
		}
		return false, &APIError{Provider: "digitalocean", Op: op, StatusCode: resp.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return false, fmt.Errorf("digitalocean: %s: HTTP %d with an unreadable answer: %w", op, resp.StatusCode, err)
		}
	}
	return true, nil
}

func (d *digitalOceanAPI) hasZone(ctx context.Context, zone string) (bool, error) {
	return d.do(ctx, "look up domain "+zone, http.MethodGet, d.base.JoinPath("v2", "domains", zone), nil, nil, true)
}

func (d *digitalOceanAPI) listTXT(ctx context.Context, zone, name string) ([]txtRecord, error) {
	const perPage = 200
	var out []txtRecord
	for page := 1; page <= 100; page++ {
		u := d.base.JoinPath("v2", "domains", zone, "records")
		u.RawQuery = url.Values{"type": {"TXT"}, "name": {name}, "page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}.Encode()
		var res struct {
			Records []doDomainRecord `json:"domain_records"`
		}
		if _, err := d.do(ctx, "list TXT records "+name, http.MethodGet, u, nil, &res, false); err != nil {
			return nil, err
		}
		for _, r := range res.Records {
			// DigitalOcean names records relative to the zone ("@" is the apex).
			full := strings.ToLower(strings.TrimSuffix(r.Name, "."))
			switch {
			case full == "@":
				full = zone
			case !strings.HasSuffix(r.Name, "."):
				full += "." + zone
			}
			if strings.EqualFold(r.Type, "TXT") && full == name {
				out = append(out, txtRecord{ID: strconv.Itoa(r.ID), Value: r.Data})
			}
		}
		if len(res.Records) < perPage {
			break
		}
	}
	return out, nil
}

func (d *digitalOceanAPI) createTXT(ctx context.Context, zone, name, value string) error {
	rec := doDomainRecord{Type: "TXT", Name: name + ".", Data: value, TTL: digitalOceanTTL}
	_, err := d.do(ctx, "create TXT record "+name, http.MethodPost, d.base.JoinPath("v2", "domains", zone, "records"), rec, nil, false)
	return err
}

func (d *digitalOceanAPI) deleteTXT(ctx context.Context, zone string, rec txtRecord) error {
	_, err := d.do(ctx, "delete TXT record id "+rec.ID, http.MethodDelete, d.base.JoinPath("v2", "domains", zone, "records", rec.ID), nil, nil, true)
	return err
}
