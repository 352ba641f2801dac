package localstack_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/akamai/AkamaiOPEN-edgegrid-golang/v13/pkg/edgegrid"

	. "github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/localstack/fakedns"
	"github.com/certflow/certflow/internal/testkit/dnsquery"
)

// checkAcmeDNS: an account registered at the fake acme-dns server over its API sets a
// value that challtestsrv serves at the account's fulldomain, and through a CNAME
// delegated to it, as Pebble resolves it.
func checkAcmeDNS(ctx context.Context, t *testing.T, s *Stack) {
	u := s.AcmeDNSURL()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || s.AcmeDNS() == nil {
		t.Fatalf("AcmeDNSURL %q, AcmeDNS() %v", u, s.AcmeDNS())
	}
	post := func(path string, hdr map[string]string, body string, want int) []byte {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %s %s, want HTTP %d", path, resp.Status, b, want)
		}
		return b
	}
	var acct fakedns.AcmeDNSAccount
	if err := json.Unmarshal(post("/register", nil, "", http.StatusCreated), &acct); err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("v", 43)
	body := `{"subdomain": "` + acct.SubDomain + `", "txt": "` + value + `"}`
	post("/update", map[string]string{"X-Api-User": acct.Username, "X-Api-Key": strings.Repeat("x", 40)}, body, http.StatusUnauthorized)
	post("/update", map[string]string{"X-Api-User": acct.Username, "X-Api-Key": acct.Password}, body, http.StatusOK)
	if err := s.SetCNAME(ctx, "_acme-challenge.acmedns-check.example.info", acct.FullDomain); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{acct.FullDomain + ".", "_acme-challenge.acmedns-check.example.info."} {
		if got := dnsquery.TXT(t, s.ChallTestSrvDNS, name); !slices.Equal(got, []string{value}) {
			t.Errorf("challtestsrv serves TXT %q at %s, want the value set through acme-dns", got, name)
		}
	}
}

// checkAkamai: the fake Akamai API answers on loopback over TLS with a certificate of
// the stack's ACME CA, accepts EdgeGrid signatures of the stack's client only, and a
// TXT record set created through it is served by challtestsrv's DNS until deleted.
func checkAkamai(ctx context.Context, t *testing.T, s *Stack) {
	host := s.AkamaiHost()
	if !strings.HasPrefix(host, "127.0.0.1:") || s.Akamai() == nil {
		t.Fatalf("AkamaiHost %q, Akamai() %v", host, s.Akamai())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.ACMECABundlePEM) {
		t.Fatal("no ACME CA")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	c := AkamaiCredentials
	signer := edgegrid.Config{Host: host, ClientToken: c.ClientToken, ClientSecret: c.ClientSecret, AccessToken: c.AccessToken, MaxBody: edgegrid.MaxBodySize}
	call := func(sig edgegrid.Config, method, path, body string, want int) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, "https://"+host+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		sig.SignRequest(req)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s %s, want HTTP %d", method, path, resp.Status, b, want)
		}
	}
	wrong := signer
	wrong.ClientSecret = "not-the-secret"
	call(wrong, http.MethodGet, "/config-dns/v2/zones/example.co", "", http.StatusUnauthorized)
	call(signer, http.MethodGet, "/config-dns/v2/zones/example.co", "", http.StatusOK)
	const fqdn = "_acme-challenge.akamai-check.example.co."
	set := "/config-dns/v2/zones/example.co/names/" + strings.TrimSuffix(fqdn, ".") + "/types/TXT"
	call(signer, http.MethodPost, set, `{"name":"`+strings.TrimSuffix(fqdn, ".")+`","type":"TXT","ttl":60,"rdata":["\"via-akamai\""]}`, http.StatusCreated)
	if got := dnsquery.TXT(t, s.ChallTestSrvDNS, fqdn); !slices.Equal(got, []string{"via-akamai"}) {
		t.Errorf("challtestsrv serves TXT %q, want the record set created through Akamai", got)
	}
	call(signer, http.MethodDelete, set, "", http.StatusNoContent)
	if got := dnsquery.TXT(t, s.ChallTestSrvDNS, fqdn); len(got) != 0 {
		t.Errorf("challtestsrv still serves TXT %q after the delete", got)
	}
}
