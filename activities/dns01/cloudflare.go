package dns01

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go"

	"github.com/certflow/certflow/internal/bounded"
)

// CloudflareConfig holds the credentials and endpoint of a Cloudflare account.
// Set either APIToken (an API token with Zone:Read and DNS:Edit, like cert-manager's
// apiTokenSecretRef) or Email and APIKey (the global API key, like cert-manager's
// apiKeySecretRef), not both.
type CloudflareConfig struct {
	APIToken string
	Email    string
	APIKey   string
	// BaseURL is the API base including "/client/v4"; empty means the real API
	// (https://api.cloudflare.com/client/v4).
	BaseURL string
	// HTTPClient makes the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
}

// cloudflareTTL is the TTL of presented records, as cert-manager's Cloudflare solver.
const cloudflareTTL = 120

// Cloudflare error codes the provider acts on.
const (
	cfCodeRecordNotFound  = 81044 // "Record does not exist."
	cfCodeRecordExists    = 81057 // "The record already exists."
	cfCodeIdenticalRecord = 81058 // "An identical record already exists."
)

type cloudflareProvider struct {
	api *cloudflare.API
}

// NewCloudflare returns a Provider that manages TXT records through the Cloudflare v4
// API. It keeps no state between calls: the zone and record ids are looked up each
// time, so a record presented by one process can be cleaned up by another.
//
// The zone of a record is found through the API only: the parent names of the fqdn
// are tried from the most specific to the least, and the first one that is a zone of
// the account is used.
func NewCloudflare(cfg CloudflareConfig) (Provider, error) {
	token := strings.TrimSpace(cfg.APIToken)
	email := strings.TrimSpace(cfg.Email)
	key := strings.TrimSpace(cfg.APIKey)

	hc := cfg.HTTPClient
	if hc == nil {
		// cloudflare-go reads bodies whole; a page of DNS records or zones is far below
		// this.
		hc = &http.Client{Timeout: 30 * time.Second, Transport: bounded.Body(nil, 8<<20)}
	}
	opts := []cloudflare.Option{cloudflare.HTTPClient(hc), cloudflare.UserAgent("certflow")}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("cloudflare: invalid BaseURL %q: want an http(s) URL such as https://api.cloudflare.com/client/v4", cfg.BaseURL)
		}
		opts = append(opts, cloudflare.BaseURL(strings.TrimSuffix(cfg.BaseURL, "/")))
		if cfIsLoopback(u.Hostname()) {
			// A local API (a test fake) has no rate limit; the client's default of 4
			// requests per second exists for the real API's 1200 requests / 5 min.
			opts = append(opts, cloudflare.UsingRateLimit(math.Inf(1)))
		}
	}

	var (
		api *cloudflare.API
		err error
	)
	switch {
	case token != "" && (email != "" || key != ""):
		return nil, errors.New("cloudflare: set either an API token or an email and global API key, not both")
	case token != "":
		api, err = cloudflare.NewWithAPIToken(token, opts...)
	case key != "" && email != "":
		api, err = cloudflare.New(key, email, opts...)
	case key != "":
		return nil, errors.New("cloudflare: a global API key needs the account's email address")
	case email != "":
		return nil, errors.New("cloudflare: an email address needs a global API key (or use an API token instead)")
	default:
		return nil, errors.New("cloudflare: no credentials: set an API token, or an email and global API key")
	}
	if err != nil {
		return nil, fmt.Errorf("cloudflare: %w", err)
	}
	return &cloudflareProvider{api: api}, nil
}

func cfIsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Present implements Provider.
func (p *cloudflareProvider) Present(ctx context.Context, fqdn, value string) error {
	name, zoneID, recs, err := p.lookup(ctx, fqdn, value)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		return nil
	}
	_, err = p.api.CreateDNSRecord(ctx, cloudflare.ZoneIdentifier(zoneID), cloudflare.CreateDNSRecordParams{
		Type:    "TXT",
		Name:    name,
		Content: value,
		TTL:     cloudflareTTL,
	})
	if err != nil {
		// Another process presented the same record between our list and create.
		if cfHasCode(err, cfCodeIdenticalRecord, cfCodeRecordExists) {
			return nil
		}
		return cfWrapError(fmt.Sprintf("create TXT record %s", name), err)
	}
	return nil
}

// lookup finds the record name of fqdn, its zone and the TXT records there holding value.
func (p *cloudflareProvider) lookup(ctx context.Context, fqdn, value string) (name, zoneID string, recs []cloudflare.DNSRecord, err error) {
	if name, err = cfRecordName(fqdn); err != nil {
		return "", "", nil, err
	}
	if zoneID, err = p.findZone(ctx, fqdn, name); err != nil {
		return "", "", nil, err
	}
	recs, err = p.findTXT(ctx, zoneID, name, value)
	return name, zoneID, recs, err
}

// CleanUp implements Provider.
func (p *cloudflareProvider) CleanUp(ctx context.Context, fqdn, value string) error {
	name, zoneID, recs, err := p.lookup(ctx, fqdn, value)
	if err != nil {
		return err
	}
	for _, r := range recs {
		err := p.api.DeleteDNSRecord(ctx, cloudflare.ZoneIdentifier(zoneID), r.ID)
		if err != nil && !cfIsNotFound(err) {
			return cfWrapError(fmt.Sprintf("delete TXT record %s (id %s)", name, r.ID), err)
		}
	}
	return nil
}

// findZone returns the id of the most specific zone of the account that holds name.
func (p *cloudflareProvider) findZone(ctx context.Context, fqdn, name string) (string, error) {
	var tried []string
	for _, cand := range cfParentNames(name) {
		tried = append(tried, cand)
		res, err := p.api.ListZonesContext(ctx, cloudflare.WithZoneFilters(cand, "", ""))
		if err != nil {
			return "", cfWrapError(fmt.Sprintf("look up zone %s for %s", cand, fqdn), err)
		}
		for _, z := range res.Result {
			if strings.EqualFold(strings.TrimSuffix(z.Name, "."), cand) {
				return z.ID, nil
			}
		}
	}
	return "", fmt.Errorf("cloudflare: no zone of the Cloudflare account holds %s (tried %s)", fqdn, strings.Join(tried, ", "))
}

// findTXT lists the TXT records name=value in the zone.
func (p *cloudflareProvider) findTXT(ctx context.Context, zoneID, name, value string) ([]cloudflare.DNSRecord, error) {
	recs, _, err := p.api.ListDNSRecords(ctx, cloudflare.ZoneIdentifier(zoneID), cloudflare.ListDNSRecordsParams{
		Type:    "TXT",
		Name:    name,
		Content: value,
	})
	if err != nil {
		return nil, cfWrapError(fmt.Sprintf("list TXT records %s", name), err)
	}
	// The API filters already; check again so that a looser server-side match (or
	// content stored in quotes) never makes us delete someone else's record.
	var out []cloudflare.DNSRecord
	for _, r := range recs {
		if r.Type == "TXT" && strings.EqualFold(strings.TrimSuffix(r.Name, "."), name) && cfUnquoteTXT(r.Content) == value {
			out = append(out, r)
		}
	}
	return out, nil
}

// cfRecordName turns "_acme-challenge.Example.com." into "_acme-challenge.example.com".
func cfRecordName(fqdn string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(fqdn), "."))
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("cloudflare: invalid record name %q", fqdn)
	}
	return name, nil
}

// cfParentNames returns the names above name, most specific first:
// "_acme-challenge.a.b.example.com" → a.b.example.com, b.example.com, example.com, com.
func cfParentNames(name string) []string {
	labels := strings.Split(name, ".")
	var out []string
	for i := 1; i < len(labels); i++ {
		out = append(out, strings.Join(labels[i:], "."))
	}
	return out
}

func cfUnquoteTXT(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func cfHasCode(err error, codes ...int) bool {
	var e *cloudflare.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.InternalErrorCodeIs(c) {
			return true
		}
	}
	return false
}

func cfIsNotFound(err error) bool {
	var nf *cloudflare.NotFoundError
	return errors.As(err, &nf) || cfHasCode(err, cfCodeRecordNotFound)
}

// CloudflareAPIError is an error the Cloudflare API returned, with its HTTP status
// and Cloudflare's error codes and messages. It unwraps to cloudflare-go's error
// (e.g. *cloudflare.AuthenticationError for HTTP 403).
type CloudflareAPIError struct {
	Op         string
	StatusCode int
	Errors     []cloudflare.ResponseInfo
	err        error
}

func (e *CloudflareAPIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cloudflare: %s: HTTP %d", e.Op, e.StatusCode)
	for i, ri := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (code %d)", ri.Message, ri.Code)
	}
	return b.String()
}

func (e *CloudflareAPIError) Unwrap() error { return e.err }

// cfWrapError names the operation and, for API errors, Cloudflare's codes and
// messages.
func cfWrapError(op string, err error) error {
	var e *cloudflare.Error
	if errors.As(err, &e) {
		return &CloudflareAPIError{Op: op, StatusCode: e.StatusCode, Errors: e.Errors, err: err}
	}
	return fmt.Errorf("cloudflare: %s: %w", op, err)
}
