package dns01

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	kubefake "k8s.io/client-go/kubernetes/fake"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

const doToken = "do-test-token"

// doFixture runs the fake DigitalOcean API (zones example.net, example.org) and
// returns Activities using it, with the given objects in the fake Kubernetes client.
func doFixture(t *testing.T, cnames map[string]string, secretValue string) (*Activities, *fakedns.Store) {
	t.Helper()
	store := fakedns.NewStore([]string{"example.net", "example.org"}, nil)
	hs := httptest.NewServer((&fakedns.DigitalOcean{Store: store, Tokens: []string{doToken}}).Handler())
	t.Cleanup(hs.Close)
	ns := serveDNS(t, func(m, q *dns.Msg) {
		qn := q.Question[0].Name
		if target, ok := cnames[strings.ToLower(qn)]; ok {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: qn, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: target})
			return
		}
		m.Rcode = dns.RcodeNameError
	})
	kube := kubefake.NewClientset(actSecret(actIssuerNS, "do", "access-token", secretValue))
	return &Activities{Kube: kube, ClusterResourceNamespace: actClusterNS, DigitalOceanAPIURL: hs.URL,
		RecursiveNameservers: []string{ns}}, store
}

func doInput(name, keyAuth string, sel string) DNS01Input {
	return DNS01Input{
		IssuerNamespace:  actIssuerNS,
		Solver:           acmev1.ACMEChallengeSolverDNS01{DigitalOcean: &acmev1.ACMEIssuerDNS01ProviderDigitalOcean{Token: actSel("do", sel)}},
		DNSName:          name,
		KeyAuthorization: keyAuth,
	}
}

func TestDigitalOceanRoundTrip(t *testing.T) {
	a, store := doFixture(t, nil, doToken)
	ctx := actCtx(t)
	apex, wild := doInput("sub.example.net", "ka-apex", "access-token"), doInput("*.sub.example.net", "ka-wild", "access-token")
	const fqdn = "_acme-challenge.sub.example.net"
	for range 2 { // presenting again (a retried activity) leaves one record
		for _, in := range []DNS01Input{apex, wild} {
			rec, err := a.PresentDNS01(ctx, in)
			if err != nil {
				t.Fatalf("present %s: %v", in.DNSName, err)
			}
			if rec.Provider != ProviderDigitalOcean || rec.FQDN != fqdn+"." {
				t.Fatalf("present = %+v", rec)
			}
		}
	}
	want := []string{TXTValue("ka-apex"), TXTValue("ka-wild")}
	if got := store.TXT(fqdn); !slices.Equal(got, want) {
		t.Fatalf("TXT %s = %q, want %q", fqdn, got, want)
	}
	if recs := store.Records("example.net"); len(recs) != 2 || recs[0].TTL != digitalOceanTTL {
		t.Fatalf("records = %+v", recs)
	}
	// Another process (nothing shared but the API) cleans up one value; the other stays.
	other := *a
	if err := other.CleanUpDNS01(ctx, apex); err != nil {
		t.Fatalf("clean up: %v", err)
	}
	if got := store.TXT(fqdn); !slices.Equal(got, want[1:]) {
		t.Fatalf("TXT after clean up = %q, want %q", got, want[1:])
	}
	if err := other.CleanUpDNS01(ctx, apex); err != nil {
		t.Fatalf("clean up again: %v", err)
	}
	if err := a.CleanUpDNS01(ctx, wild); err != nil {
		t.Fatalf("clean up wildcard: %v", err)
	}
	if got := store.TXT(fqdn); len(got) != 0 {
		t.Fatalf("TXT left: %q", got)
	}
}

func TestDigitalOceanFollowCNAME(t *testing.T) {
	const target = "_acme-challenge.delegated.example.org."
	a, store := doFixture(t, map[string]string{"_acme-challenge.alias.other.": target}, doToken)
	ctx := actCtx(t)
	in := doInput("alias.other", actKeyAuth, "access-token")
	in.Solver.CNAMEStrategy = acmev1.FollowStrategy
	rec, err := a.PresentDNS01(ctx, in)
	if err != nil || rec.FQDN != target {
		t.Fatalf("present = %+v, %v; want the record at %s", rec, err, target)
	}
	if got := store.TXT(target); !slices.Equal(got, []string{TXTValue(actKeyAuth)}) {
		t.Fatalf("TXT %s = %q", target, got)
	}
	none := in
	none.Solver.CNAMEStrategy = acmev1.NoneStrategy
	_, err = a.PresentDNS01(ctx, none)
	actWantRetryable(t, err, "no zone of the account holds _acme-challenge.alias.other")
	if err := a.CleanUpDNS01(ctx, in); err != nil {
		t.Fatalf("clean up: %v", err)
	}
	if got := store.TXT(target); len(got) != 0 {
		t.Fatalf("TXT left: %q", got)
	}
}

func TestDigitalOceanErrors(t *testing.T) {
	ctx := actCtx(t)
	t.Run("wrong token: the API's words, refused for good, no token", func(t *testing.T) {
		a, store := doFixture(t, nil, "not-the-token")
		_, err := a.PresentDNS01(ctx, doInput("example.net", actKeyAuth, "access-token"))
		actWantNonRetryable(t, err, ErrTypeRefused, "via digitalocean", "HTTP 401: Unable to authenticate you (unauthorized)")
		if strings.Contains(err.Error(), "not-the-token") {
			t.Errorf("error %q shows the token", err)
		}
		if len(store.Records("example.net")) != 0 {
			t.Error("a record was created")
		}
	})
	t.Run("server error: retryable", func(t *testing.T) {
		a, _ := doFixture(t, nil, doToken)
		hs := httptest.NewServer(httpHandlerStatus(503, `{"id":"service_unavailable","message":"Service is temporarily unavailable."}`))
		defer hs.Close()
		a.DigitalOceanAPIURL = hs.URL
		in := doInput("example.net", actKeyAuth, "access-token")
		_, err := a.PresentDNS01(ctx, in)
		actWantRetryable(t, err, "HTTP 503: Service is temporarily unavailable. (service_unavailable)")
		actWantRetryable(t, a.CleanUpDNS01(ctx, in), "HTTP 503")
	})
	t.Run("missing Secret", func(t *testing.T) {
		a, _ := doFixture(t, nil, doToken)
		in := doInput("example.net", actKeyAuth, "access-token")
		in.Solver.DigitalOcean.Token.Name = "nope"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeConfig, "digitalocean tokenSecretRef", "Secret team-a/nope", "not found")
		actWantNonRetryable(t, a.CleanUpDNS01(ctx, in), ErrTypeConfig, "not found")
	})
	t.Run("wrong key", func(t *testing.T) {
		a, _ := doFixture(t, nil, doToken)
		_, err := a.PresentDNS01(ctx, doInput("example.net", actKeyAuth, "token"))
		actWantNonRetryable(t, err, ErrTypeConfig, "Secret team-a/do has no key \"token\"")
	})
	t.Run("empty token", func(t *testing.T) {
		a, _ := doFixture(t, nil, "  ")
		_, err := a.PresentDNS01(ctx, doInput("example.net", actKeyAuth, "access-token"))
		actWantNonRetryable(t, err, ErrTypeConfig, "is empty")
	})
	t.Run("no zone", func(t *testing.T) {
		a, _ := doFixture(t, nil, doToken)
		_, err := a.PresentDNS01(ctx, doInput("example.com", actKeyAuth, "access-token"))
		actWantRetryable(t, err, "digitalocean: no zone of the account holds _acme-challenge.example.com.", "tried example.com, com")
	})
	t.Run("bad API URL", func(t *testing.T) {
		a, _ := doFixture(t, nil, doToken)
		a.DigitalOceanAPIURL = "ftp://x"
		_, err := a.PresentDNS01(ctx, doInput("example.net", actKeyAuth, "access-token"))
		actWantNonRetryable(t, err, ErrTypeConfig, "digitalocean: invalid API URL")
	})
}

func TestDigitalOceanAPIErrorWords(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string
	}{
		{`{"id":"forbidden","message":"You do not have access for the attempted action."}`, "HTTP 403: You do not have access for the attempted action. (forbidden)"},
		{`{"message":"rate limited"}`, "HTTP 403: rate limited"},
		{`upstream proxy said no`, "HTTP 403: upstream proxy said no"},
	} {
		hs := httptest.NewServer(httpHandlerStatus(403, tc.body))
		p, err := NewDigitalOcean(DigitalOceanConfig{Token: "t", BaseURL: hs.URL})
		if err != nil {
			t.Fatal(err)
		}
		err = p.Present(actCtx(t), "_acme-challenge.example.net.", "v")
		hs.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("body %s: error %v, want %q", tc.body, err, tc.want)
		}
	}
}

// httpHandlerStatus answers every request with status and body.
func httpHandlerStatus(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

func TestRefusedOrErr(t *testing.T) {
	for _, tc := range []struct {
		err     error
		refused bool
	}{
		{&APIError{Provider: "p", Op: "o", StatusCode: 400}, true},
		{&APIError{Provider: "p", Op: "o", StatusCode: 401}, true},
		{&APIError{Provider: "p", Op: "o", StatusCode: 403}, true},
		{&APIError{Provider: "p", Op: "o", StatusCode: 404}, true},
		{&APIError{Provider: "p", Op: "o", StatusCode: 422}, true},
		{&APIError{Provider: "p", Op: "o", StatusCode: 408}, false},
		{&APIError{Provider: "p", Op: "o", StatusCode: 429}, false},
		{&APIError{Provider: "p", Op: "o", StatusCode: 500}, false},
		{errors.New("connection refused"), false},
	} {
		err := refusedOrErr("op", tc.err)
		typ, nonRetryable := actAppError(err)
		if nonRetryable != tc.refused || (tc.refused && typ != ErrTypeRefused) {
			t.Errorf("%v: type %q non-retryable %v, want refused %v", tc.err, typ, nonRetryable, tc.refused)
		}
		if want := "op: " + tc.err.Error(); err.Error() != want && !strings.HasPrefix(err.Error(), want+" (type") {
			t.Errorf("%v: message %q, want %q", tc.err, err, want)
		}
	}
}
