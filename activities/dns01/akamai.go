package dns01

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/akamai/AkamaiOPEN-edgegrid-golang/v13/pkg/edgegrid"

	"github.com/certflow/certflow/internal/bounded"
)

// AkamaiConfig holds Akamai EdgeGrid API credentials (upstream's akamai solver:
// serviceConsumerDomain and the client token, client secret and access token Secrets).
type AkamaiConfig struct {
	// ServiceConsumerDomain is the API host ("akab-....luna.akamaiapis.net"), reached
	// over https; a port may follow.
	ServiceConsumerDomain string
	ClientToken           string
	ClientSecret          string
	AccessToken           string
	// HTTPClient makes the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
}

// akamaiTTL is the TTL of presented record sets.
const akamaiTTL = 60

// NewAkamai returns a Provider that manages TXT records through Akamai Edge DNS's
// config-dns v2 API, with requests signed by EdgeGrid's own signer (EG1-HMAC-SHA256).
//
// lego's edgedns provider is not used: it finds the zone through public DNS (SOA
// lookups) and makes its own HTTP client, so it could neither find zones on a private
// network nor trust a private CA. Here the zone is the most specific parent name the
// account holds (GET /config-dns/v2/zones/{zone}), and Edge DNS's record sets (all TXT
// values of a name in one object) are read and written on every call: Present adds its
// value to the set, CleanUp removes it (deleting the set with its last value), and
// neither keeps anything between calls.
func NewAkamai(cfg AkamaiConfig) (Provider, error) {
	host := strings.TrimSpace(cfg.ServiceConsumerDomain)
	switch {
	case host == "":
		return nil, fmt.Errorf("akamai: no serviceConsumerDomain set")
	case strings.Contains(host, "/"):
		return nil, fmt.Errorf("akamai: serviceConsumerDomain %q must be a host name (with an optional port), without scheme or path", host)
	case strings.TrimSpace(cfg.ClientToken) == "" || strings.TrimSpace(cfg.ClientSecret) == "" || strings.TrimSpace(cfg.AccessToken) == "":
		return nil, fmt.Errorf("akamai: client token, client secret and access token are all required")
	}
	u, err := url.Parse("https://" + host)
	if err != nil || u.Host != host || u.Hostname() == "" {
		return nil, fmt.Errorf("akamai: serviceConsumerDomain %q is not a host name", host)
	}
	signer := edgegrid.Config{
		Host:         host,
		ClientToken:  strings.TrimSpace(cfg.ClientToken),
		ClientSecret: strings.TrimSpace(cfg.ClientSecret),
		AccessToken:  strings.TrimSpace(cfg.AccessToken),
		MaxBody:      edgegrid.MaxBodySize,
	}
	api := &akamaiAPI{base: u, signer: signer, hc: apiHTTPClient(cfg.HTTPClient)}
	return &apiProvider{name: "akamai", api: api}, nil
}

type akamaiAPI struct {
	base   *url.URL
	signer edgegrid.Config
	hc     *http.Client
}

// akamaiRecordSet is a record set of the config-dns v2 API.
type akamaiRecordSet struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	TTL   int      `json:"ttl"`
	RData []string `json:"rdata"`
}

// do sends one signed request; a status of 400 or more is an *APIError with the API's
// problem title and detail. notFoundOK makes a 404 return (false, nil).
func (a *akamaiAPI) do(ctx context.Context, op, method, path string, body, out any, notFoundOK bool) (bool, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return false, fmt.Errorf("akamai: %s: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	u := *a.base
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return false, fmt.Errorf("akamai: %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "certflow")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	a.signer.SignRequest(req)
	resp, err := a.hc.Do(req)
	if err != nil {
		// url.Error holds the URL only, never the Authorization header.
		return false, fmt.Errorf("akamai: %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return false, fmt.Errorf("akamai: %s: read answer: %w", op, err)
	}
	if resp.StatusCode == http.StatusNotFound && notFoundOK {
		return false, nil
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && (e.Title != "" || e.Detail != "") {
			msg = strings.TrimSuffix(e.Title+": "+e.Detail, ": ")
			msg = strings.TrimPrefix(msg, ": ")
		}
		if len(msg) > 512 {
			msg = msg[:512] + "..."
		}
		return false, &APIError{Provider: "akamai", Op: op, StatusCode: resp.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return false, fmt.Errorf("akamai: %s: HTTP %d with an unreadable answer: %w", op, resp.StatusCode, err)
		}
	}
	return true, nil
}

func akamaiSetPath(zone, name string) string {
	return "/config-dns/v2/zones/" + zone + "/names/" + name + "/types/TXT"
}

func (a *akamaiAPI) hasZone(ctx context.Context, zone string) (bool, error) {
	return a.do(ctx, "look up zone "+zone, http.MethodGet, "/config-dns/v2/zones/"+zone, nil, nil, true)
}

// getSet returns the TXT record set at name (nil when there is none).
func (a *akamaiAPI) getSet(ctx context.Context, zone, name string) (*akamaiRecordSet, error) {
	var rs akamaiRecordSet
	found, err := a.do(ctx, "get TXT record set "+name, http.MethodGet, akamaiSetPath(zone, name), nil, &rs, true)
	if err != nil || !found {
		return nil, err
	}
	return &rs, nil
}

// listTXT returns one txtRecord per value of the record set; its ID is the name and
// the value as Edge DNS holds it (quoted), which deleteTXT needs.
func (a *akamaiAPI) listTXT(ctx context.Context, zone, name string) ([]txtRecord, error) {
	rs, err := a.getSet(ctx, zone, name)
	if err != nil || rs == nil {
		return nil, err
	}
	var out []txtRecord
	for _, v := range rs.RData {
		out = append(out, txtRecord{ID: name + "\t" + v, Value: v})
	}
	return out, nil
}

// hasValue reports whether the set holds value (quoted or not).
func (rs *akamaiRecordSet) hasValue(value string) bool {
	return rs != nil && slices.ContainsFunc(rs.RData, func(v string) bool { return cfUnquoteTXT(v) == value })
}

// createTXT adds value to the record set at name, creating the set when there is none.
// A concurrent change of the same set (the two challenges of a wildcard and its apex
// share one name) can make a write drop the other's value, or the creation fail: the
// set is read again after the write, and a value not there is a retryable error.
func (a *akamaiAPI) createTXT(ctx context.Context, zone, name, value string) error {
	rs, err := a.getSet(ctx, zone, name)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = &akamaiRecordSet{Name: name, Type: "TXT", TTL: akamaiTTL, RData: []string{fmt.Sprintf("%q", value)}}
		if _, err := a.do(ctx, "create TXT record set "+name, http.MethodPost, akamaiSetPath(zone, name), rs, nil, false); err != nil {
			return err
		}
	} else if !rs.hasValue(value) {
		rs.RData = append(rs.RData, fmt.Sprintf("%q", value))
		if _, err := a.do(ctx, "update TXT record set "+name, http.MethodPut, akamaiSetPath(zone, name), rs, nil, false); err != nil {
			return err
		}
	}
	after, err := a.getSet(ctx, zone, name)
	if err != nil {
		return err
	}
	if !after.hasValue(value) {
		return fmt.Errorf("akamai: TXT record set %s lost the value just written (a concurrent change): trying again", name)
	}
	return nil
}

// deleteTXT removes rec's value from its record set, and the set with its last value;
// as createTXT, it reads the set again after the write.
func (a *akamaiAPI) deleteTXT(ctx context.Context, zone string, rec txtRecord) error {
	name, raw, ok := strings.Cut(rec.ID, "\t")
	if !ok {
		return fmt.Errorf("akamai: bad record id %q", rec.ID)
	}
	value := cfUnquoteTXT(raw)
	rs, err := a.getSet(ctx, zone, name)
	if err != nil || !rs.hasValue(value) {
		return err
	}
	rs.RData = slices.DeleteFunc(rs.RData, func(v string) bool { return cfUnquoteTXT(v) == value })
	if len(rs.RData) == 0 {
		_, err = a.do(ctx, "delete TXT record set "+name, http.MethodDelete, akamaiSetPath(zone, name), nil, nil, true)
	} else {
		_, err = a.do(ctx, "update TXT record set "+name, http.MethodPut, akamaiSetPath(zone, name), rs, nil, false)
	}
	if err != nil {
		return err
	}
	after, err := a.getSet(ctx, zone, name)
	if err != nil {
		return err
	}
	if after.hasValue(value) {
		return fmt.Errorf("akamai: TXT record set %s still holds the value just removed (a concurrent change): trying again", name)
	}
	return nil
}

// providerHTTPClient is nil (apiHTTPClient's default) without ProviderCAFile, else a
// client of the same limits that also trusts the file's CA certificates.
func (a *Activities) providerHTTPClient() (*http.Client, error) {
	cfg, err := a.providerTLSConfig()
	if cfg == nil || err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Timeout: 30 * time.Second, Transport: bounded.Body(tr, 8<<20)}, nil
}

// providerTLSConfig is nil without ProviderCAFile, else a TLS configuration trusting
// the system's roots and the file's CA certificates (read now, so a rotated file
// takes effect at the next call).
func (a *Activities) providerTLSConfig() (*tls.Config, error) {
	if a.ProviderCAFile == "" {
		return nil, nil
	}
	pemBytes, err := os.ReadFile(a.ProviderCAFile)
	if err != nil {
		return nil, configError("dns01: the worker's DNS provider CA file: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, configError("dns01: the worker's DNS provider CA file %s holds no PEM certificate", a.ProviderCAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
