package dns01

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// AcmeDNSConfig configures an acme-dns server (upstream's acmeDNS solver): its URL
// (host) and the accounts JSON of accountSecretRef.
type AcmeDNSConfig struct {
	// Host is the acme-dns server's URL, e.g. https://auth.example.com.
	Host string
	// AccountsJSON is the accountSecretRef value: a JSON object from each domain to its
	// acme-dns account, as acme-dns's /register answered it ({"username", "password",
	// "fulldomain", "subdomain", ...}).
	AccountsJSON []byte
	// Domain is the challenge's DNS name without "*.": the key of its account.
	Domain string
	// HTTPClient makes the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
}

// acmeDNSAccount is one account of the accounts JSON.
type acmeDNSAccount struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	FullDomain string `json:"fulldomain"`
	SubDomain  string `json:"subdomain"`
}

// NewAcmeDNS returns a Provider that sets the challenge's TXT value at the acme-dns
// account of cfg.Domain (POST {host}/update). The user delegates the challenge name
// with a CNAME, _acme-challenge.<domain> to the account's fulldomain, so the record
// is at the fulldomain whatever fqdn Present is given.
//
// acme-dns keeps the two newest values of an account and offers no way to delete one:
// CleanUp does nothing, as upstream's, and an old value is pushed out by the next.
// Errors never hold the password or the accounts JSON.
func NewAcmeDNS(cfg AcmeDNSConfig) (Provider, error) {
	host := strings.TrimSpace(cfg.Host)
	if host == "" {
		return nil, fmt.Errorf("acmeDNS: no host set: want the acme-dns server's URL, e.g. https://auth.example.com")
	}
	u, err := apiBaseURL("acmeDNS", host, "https://auth.example.com")
	if err != nil {
		return nil, err
	}
	var accounts map[string]acmeDNSAccount
	if err := json.Unmarshal(cfg.AccountsJSON, &accounts); err != nil {
		// The JSON error may quote the credentials: only say where it failed.
		where := ""
		if se, ok := err.(*json.SyntaxError); ok {
			where = fmt.Sprintf(" (syntax error at byte %d)", se.Offset)
		}
		return nil, fmt.Errorf("acmeDNS: accountSecretRef is not a JSON object of domain to acme-dns account%s", where)
	}
	domain := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(cfg.Domain), "*."), "."))
	acct, ok := lookupAcmeDNSAccount(accounts, domain)
	if !ok {
		var have []string
		for d := range accounts {
			have = append(have, d)
		}
		slices.Sort(have)
		return nil, fmt.Errorf("acmeDNS: accountSecretRef holds no account for %s (it has %d: %s)", domain, len(have), strings.Join(have, ", "))
	}
	switch {
	case acct.Username == "" || acct.Password == "" || acct.SubDomain == "":
		return nil, fmt.Errorf("acmeDNS: the account for %s in accountSecretRef lacks username, password or subdomain", domain)
	}
	return &acmeDNS{base: u, acct: acct, hc: apiHTTPClient(cfg.HTTPClient)}, nil
}

// lookupAcmeDNSAccount finds domain's account; keys may be written with a trailing dot,
// in upper case or (for a wildcard) with "*.".
func lookupAcmeDNSAccount(accounts map[string]acmeDNSAccount, domain string) (acmeDNSAccount, bool) {
	if a, ok := accounts[domain]; ok {
		return a, true
	}
	for k, a := range accounts {
		if strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(k), "*."), ".")) == domain {
			return a, true
		}
	}
	return acmeDNSAccount{}, false
}

type acmeDNS struct {
	base *url.URL
	acct acmeDNSAccount
	hc   *http.Client
}

// Present implements Provider: it sets value at the account's fulldomain.
func (p *acmeDNS) Present(ctx context.Context, _ string, value string) error {
	op := "update " + p.acct.FullDomain
	b, err := json.Marshal(map[string]string{"subdomain": p.acct.SubDomain, "txt": value})
	if err != nil {
		return fmt.Errorf("acmeDNS: %s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base.JoinPath("update").String(), bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("acmeDNS: %s: %w", op, err)
	}
	req.Header.Set("X-Api-User", p.acct.Username)
	req.Header.Set("X-Api-Key", p.acct.Password)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "certflow")
	resp, err := p.hc.Do(req)
	if err != nil {
		// url.Error holds the URL only, never the headers.
		return fmt.Errorf("acmeDNS: %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("acmeDNS: %s: read answer: %w", op, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	return &APIError{Provider: "acmeDNS", Op: op, StatusCode: resp.StatusCode, Message: msg}
}

// CleanUp implements Provider. acme-dns has no delete: the value stays until two newer
// ones replace it (upstream's solver does nothing here either).
func (p *acmeDNS) CleanUp(context.Context, string, string) error { return nil }
