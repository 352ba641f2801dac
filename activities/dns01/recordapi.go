package dns01

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/certflow/certflow/internal/bounded"
)

// recordAPI is what a DNS provider's API has to offer for the shared, stateless
// Present and CleanUp of apiProvider: each provider is one small file implementing it
// (DigitalOcean: digitalocean.go). Every call goes to the API; nothing is kept
// between calls, so a record presented by one process is found and removed by another.
// Errors carry the provider's own words (see APIError).
type recordAPI interface {
	// hasZone reports whether the account holds the zone name (no trailing dot).
	hasZone(ctx context.Context, zone string) (bool, error)
	// listTXT returns the TXT records at name (full name, no trailing dot) of zone.
	listTXT(ctx context.Context, zone, name string) ([]txtRecord, error)
	// createTXT adds the TXT record name=value to zone.
	createTXT(ctx context.Context, zone, name, value string) error
	// deleteTXT removes rec from zone; a record already gone is not an error.
	deleteTXT(ctx context.Context, zone string, rec txtRecord) error
}

// txtRecord is a TXT record as an API lists it.
type txtRecord struct {
	ID    string
	Value string
}

// apiProvider is a Provider over a recordAPI: the zone is the most specific parent
// name the account holds, Present adds the value unless it is there, CleanUp removes
// every record holding the value and leaves other values alone.
type apiProvider struct {
	name string // "digitalocean", in error messages
	api  recordAPI
}

// Present implements Provider.
func (p *apiProvider) Present(ctx context.Context, fqdn, value string) error {
	name, zone, recs, err := p.lookup(ctx, fqdn, value)
	if err != nil || len(recs) > 0 {
		return err
	}
	return p.api.createTXT(ctx, zone, name, value)
}

// CleanUp implements Provider.
func (p *apiProvider) CleanUp(ctx context.Context, fqdn, value string) error {
	_, zone, recs, err := p.lookup(ctx, fqdn, value)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := p.api.deleteTXT(ctx, zone, r); err != nil {
			return err
		}
	}
	return nil
}

// lookup finds the record name of fqdn, its zone and the records there holding value.
func (p *apiProvider) lookup(ctx context.Context, fqdn, value string) (name, zone string, recs []txtRecord, err error) {
	name = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(fqdn), "."))
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
		return "", "", nil, fmt.Errorf("%s: invalid record name %q", p.name, fqdn)
	}
	var tried []string
	for _, cand := range cfParentNames(name) {
		tried = append(tried, cand)
		ok, err := p.api.hasZone(ctx, cand)
		if err != nil {
			return "", "", nil, err
		}
		if ok {
			zone = cand
			break
		}
	}
	if zone == "" {
		return "", "", nil, fmt.Errorf("%s: no zone of the account holds %s (tried %s)", p.name, fqdn, strings.Join(tried, ", "))
	}
	all, err := p.api.listTXT(ctx, zone, name)
	if err != nil {
		return "", "", nil, err
	}
	for _, r := range all {
		if cfUnquoteTXT(r.Value) == value {
			recs = append(recs, r)
		}
	}
	return name, zone, recs, nil
}

// APIError is an error a DNS provider's API answered, in its own words.
type APIError struct {
	Provider   string
	Op         string
	StatusCode int
	// Message is the API's error message (and code, where it has one).
	Message string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: %s: HTTP %d", e.Provider, e.Op, e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// apiBaseURL checks a base URL override ("" means def).
func apiBaseURL(provider, raw, def string) (*url.URL, error) {
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: invalid API URL %q: want an http(s) URL such as %s", provider, raw, def)
	}
	return u, nil
}

// apiHTTPClient is hc, or a client with a 30s timeout reading at most 8 MiB.
func apiHTTPClient(hc *http.Client) *http.Client {
	if hc != nil {
		return hc
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: bounded.Body(nil, 8<<20)}
}
