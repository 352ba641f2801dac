package dns01

import (
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	kubefake "k8s.io/client-go/kubernetes/fake"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

const acmeDNSZone = "auth.acme-dns.test"

// acmeDNSFixture runs the fake acme-dns (zone auth.acme-dns.test) with one account for
// example.org, whose accounts JSON is in Secret team-a/acme-dns (key accounts.json), and
// a nameserver where _acme-challenge.example.org is a CNAME to the account's fulldomain
// and TXT queries are answered from the fake's records. accounts, when not nil,
// replaces the Secret's content.
func acmeDNSFixture(t *testing.T, accounts func(fakedns.AcmeDNSAccount) string) (*Activities, *fakedns.Store, fakedns.AcmeDNSAccount, string) {
	t.Helper()
	store := fakedns.NewStore([]string{acmeDNSZone}, nil)
	fake := &fakedns.AcmeDNS{Store: store, Domain: acmeDNSZone}
	hs := httptest.NewServer(fake.Handler())
	t.Cleanup(hs.Close)
	acct, err := fake.Register()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]fakedns.AcmeDNSAccount{"example.org": acct})
	content := string(raw)
	if accounts != nil {
		content = accounts(acct)
	}
	ns := serveDNS(t, func(m, q *dns.Msg) {
		qn := strings.ToLower(q.Question[0].Name)
		hdr := dns.RR_Header{Name: q.Question[0].Name, Class: dns.ClassINET, Ttl: 1}
		if qn == "_acme-challenge.example.org." {
			hdr.Rrtype = dns.TypeCNAME
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr, Target: acct.FullDomain + "."})
			return
		}
		if q.Question[0].Qtype == dns.TypeTXT {
			hdr.Rrtype = dns.TypeTXT
			for _, v := range store.TXT(qn) {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: []string{v}})
			}
		}
	})
	kube := kubefake.NewClientset(actSecret(actIssuerNS, "acme-dns", "accounts.json", content))
	return &Activities{Kube: kube, ClusterResourceNamespace: actClusterNS, RecursiveNameservers: []string{ns}}, store, acct, hs.URL
}

func acmeDNSInput(host, name, keyAuth, key string) DNS01Input {
	return DNS01Input{
		IssuerNamespace: actIssuerNS,
		Solver: acmev1.ACMEChallengeSolverDNS01{AcmeDNS: &acmev1.ACMEIssuerDNS01ProviderAcmeDNS{
			Host: host, AccountSecret: actSel("acme-dns", key)}},
		DNSName:          name,
		KeyAuthorization: keyAuth,
	}
}

func TestAcmeDNSRoundTrip(t *testing.T) {
	a, store, acct, host := acmeDNSFixture(t, nil)
	ctx := actCtx(t)
	apex, wild := acmeDNSInput(host, "example.org", "ka-apex", "accounts.json"), acmeDNSInput(host, "*.example.org", "ka-wild", "accounts.json")
	for _, in := range []DNS01Input{apex, wild} {
		rec, err := a.PresentDNS01(ctx, in)
		if err != nil {
			t.Fatalf("present %s: %v", in.DNSName, err)
		}
		if rec.Provider != ProviderAcmeDNS || rec.Value != TXTValue(in.KeyAuthorization) {
			t.Fatalf("present = %+v", rec)
		}
		// The check asks for _acme-challenge.example.org and follows its CNAME to the
		// account's fulldomain although cnameStrategy is not set.
		res, err := a.CheckDNS01Propagation(ctx, in)
		if err != nil || !res.Ready {
			t.Fatalf("check %s = %+v, %v", in.DNSName, res, err)
		}
	}
	want := []string{TXTValue("ka-apex"), TXTValue("ka-wild")}
	if got := store.TXT(acct.FullDomain); !slices.Equal(got, want) {
		t.Fatalf("TXT %s = %q, want %q", acct.FullDomain, got, want)
	}
	// acme-dns has no delete: the clean-up leaves the values, the next update pushes
	// out the oldest.
	if err := a.CleanUpDNS01(ctx, apex); err != nil {
		t.Fatalf("clean up: %v", err)
	}
	if got := store.TXT(acct.FullDomain); !slices.Equal(got, want) {
		t.Fatalf("TXT after clean up = %q, want %q", got, want)
	}
	if _, err := a.PresentDNS01(ctx, acmeDNSInput(host, "example.org", "ka-next", "accounts.json")); err != nil {
		t.Fatal(err)
	}
	if got, want := store.TXT(acct.FullDomain), []string{TXTValue("ka-wild"), TXTValue("ka-next")}; !slices.Equal(got, want) {
		t.Fatalf("TXT after a third update = %q, want the two newest %q", got, want)
	}
	// Follow writes nowhere else: the record is the account's.
	follow := acmeDNSInput(host, "example.org", "ka-follow", "accounts.json")
	follow.Solver.CNAMEStrategy = acmev1.FollowStrategy
	rec, err := a.PresentDNS01(ctx, follow)
	if err != nil || rec.FQDN != acct.FullDomain+"." {
		t.Fatalf("present with Follow = %+v, %v", rec, err)
	}
	if got := store.TXT(acct.FullDomain); !slices.Contains(got, TXTValue("ka-follow")) {
		t.Fatalf("TXT = %q", got)
	}
}

func TestAcmeDNSErrors(t *testing.T) {
	ctx := actCtx(t)
	t.Run("wrong password: acme-dns's words, refused for good, no password", func(t *testing.T) {
		const wrong = "wrongwrongwrongwrongwrongwrongwrongwrong"
		a, store, _, host := acmeDNSFixture(t, func(acct fakedns.AcmeDNSAccount) string {
			acct.Password = wrong
			raw, _ := json.Marshal(map[string]fakedns.AcmeDNSAccount{"example.org": acct})
			return string(raw)
		})
		_, err := a.PresentDNS01(ctx, acmeDNSInput(host, "example.org", actKeyAuth, "accounts.json"))
		actWantNonRetryable(t, err, ErrTypeRefused, "via acmeDNS", "HTTP 401: forbidden")
		if strings.Contains(err.Error(), wrong) {
			t.Errorf("error %q shows the password", err)
		}
		if len(store.Records(acmeDNSZone)) != 0 {
			t.Error("a record was written")
		}
	})
	t.Run("server error: retryable", func(t *testing.T) {
		a, _, _, _ := acmeDNSFixture(t, nil)
		hs := httptest.NewServer(httpHandlerStatus(500, `{"error": "db_error"}`))
		defer hs.Close()
		_, err := a.PresentDNS01(ctx, acmeDNSInput(hs.URL, "example.org", actKeyAuth, "accounts.json"))
		actWantRetryable(t, err, "HTTP 500: db_error")
	})
	t.Run("no account for the domain", func(t *testing.T) {
		a, _, _, host := acmeDNSFixture(t, nil)
		_, err := a.PresentDNS01(ctx, acmeDNSInput(host, "*.other.example", actKeyAuth, "accounts.json"))
		actWantNonRetryable(t, err, ErrTypeConfig, "accountSecretRef holds no account for other.example (it has 1: example.org)")
	})
	t.Run("not JSON: no content in the error", func(t *testing.T) {
		a, _, _, host := acmeDNSFixture(t, func(fakedns.AcmeDNSAccount) string { return `{"example.org": {"password": "s3cret-pw"` })
		_, err := a.PresentDNS01(ctx, acmeDNSInput(host, "example.org", actKeyAuth, "accounts.json"))
		actWantNonRetryable(t, err, ErrTypeConfig, "accountSecretRef is not a JSON object")
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %q shows the Secret's content", err)
		}
	})
	t.Run("account without credentials", func(t *testing.T) {
		a, _, _, host := acmeDNSFixture(t, func(fakedns.AcmeDNSAccount) string { return `{"example.org": {"fulldomain": "x.auth.acme-dns.test"}}` })
		_, err := a.PresentDNS01(ctx, acmeDNSInput(host, "example.org", actKeyAuth, "accounts.json"))
		actWantNonRetryable(t, err, ErrTypeConfig, "lacks username, password or subdomain")
	})
	t.Run("missing Secret", func(t *testing.T) {
		a, _, _, host := acmeDNSFixture(t, nil)
		in := acmeDNSInput(host, "example.org", actKeyAuth, "accounts.json")
		in.Solver.AcmeDNS.AccountSecret.Name = "nope"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeConfig, "acmeDNS accountSecretRef", "Secret team-a/nope", "not found")
		actWantNonRetryable(t, a.CleanUpDNS01(ctx, in), ErrTypeConfig, "not found")
	})
	t.Run("wrong key", func(t *testing.T) {
		a, _, _, host := acmeDNSFixture(t, nil)
		_, err := a.PresentDNS01(ctx, acmeDNSInput(host, "example.org", actKeyAuth, "acmedns.json"))
		actWantNonRetryable(t, err, ErrTypeConfig, `Secret team-a/acme-dns has no key "acmedns.json"`)
	})
	t.Run("no host", func(t *testing.T) {
		a, _, _, _ := acmeDNSFixture(t, nil)
		_, err := a.PresentDNS01(ctx, acmeDNSInput(" ", "example.org", actKeyAuth, "accounts.json"))
		actWantNonRetryable(t, err, ErrTypeConfig, "acmeDNS: no host set")
	})
}

// An acme-dns server behind TLS with a private CA is reached through ProviderCAFile.
func TestAcmeDNSPrivateCA(t *testing.T) {
	a, store, acct, _ := acmeDNSFixture(t, nil)
	fake := &fakedns.AcmeDNS{Store: store, Domain: acmeDNSZone}
	// A second fake acme-dns, over TLS, with an account of its own.
	hs := httptest.NewTLSServer(fake.Handler())
	defer hs.Close()
	registered, err := fake.Register()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]fakedns.AcmeDNSAccount{"example.org": registered})
	a.Kube = kubefake.NewClientset(actSecret(actIssuerNS, "acme-dns", "accounts.json", string(raw)))
	ctx := actCtx(t)
	in := acmeDNSInput(hs.URL, "example.org", actKeyAuth, "accounts.json")
	_, err = a.PresentDNS01(ctx, in)
	actWantRetryable(t, err, "certificate")
	a.ProviderCAFile = filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(a.ProviderCAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PresentDNS01(ctx, in); err != nil {
		t.Fatalf("present through the private CA: %v", err)
	}
	if got := store.TXT(registered.FullDomain); !slices.Equal(got, []string{TXTValue(actKeyAuth)}) || acct.FullDomain == registered.FullDomain {
		t.Fatalf("TXT %s = %q", registered.FullDomain, got)
	}
}
