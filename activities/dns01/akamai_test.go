package dns01

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

var akCreds = fakedns.AkamaiCredentials{ClientToken: "akab-client-token", ClientSecret: "akamai-client-secret=", AccessToken: "akab-access-token"}

// akamaiFixture runs the fake Edge DNS API over TLS (zone example.co) and returns
// Activities trusting its certificate, with Secret team-a/akamai holding creds, and the
// serviceConsumerDomain to use.
func akamaiFixture(t *testing.T, creds fakedns.AkamaiCredentials) (*Activities, *fakedns.Store, string) {
	t.Helper()
	store := fakedns.NewStore([]string{"example.co"}, nil)
	hs := httptest.NewTLSServer((&fakedns.Akamai{Store: store, Clients: []fakedns.AkamaiCredentials{akCreds}}).Handler())
	t.Cleanup(hs.Close)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	kube := kubefake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: actIssuerNS, Name: "akamai"},
		Data: map[string][]byte{"client-token": []byte(creds.ClientToken), "client-secret": []byte(creds.ClientSecret),
			"access-token": []byte(creds.AccessToken)},
	})
	return &Activities{Kube: kube, ClusterResourceNamespace: actClusterNS, ProviderCAFile: caFile}, store, strings.TrimPrefix(hs.URL, "https://")
}

func akamaiInput(host, name, keyAuth string) DNS01Input {
	return DNS01Input{
		IssuerNamespace: actIssuerNS,
		Solver: acmev1.ACMEChallengeSolverDNS01{Akamai: &acmev1.ACMEIssuerDNS01ProviderAkamai{
			ServiceConsumerDomain: host,
			ClientToken:           actSel("akamai", "client-token"),
			ClientSecret:          actSel("akamai", "client-secret"),
			AccessToken:           actSel("akamai", "access-token"),
		}},
		DNSName:          name,
		KeyAuthorization: keyAuth,
	}
}

func TestAkamaiRoundTrip(t *testing.T) {
	a, store, host := akamaiFixture(t, akCreds)
	ctx := actCtx(t)
	apex, wild := akamaiInput(host, "sub.example.co", "ka-apex"), akamaiInput(host, "*.sub.example.co", "ka-wild")
	const fqdn = "_acme-challenge.sub.example.co"
	for range 2 { // presenting again (a retried activity) leaves one value
		for _, in := range []DNS01Input{apex, wild} {
			rec, err := a.PresentDNS01(ctx, in)
			if err != nil {
				t.Fatalf("present %s: %v", in.DNSName, err)
			}
			if rec.Provider != ProviderAkamai || rec.FQDN != fqdn+"." {
				t.Fatalf("present = %+v", rec)
			}
		}
	}
	want := []string{TXTValue("ka-apex"), TXTValue("ka-wild")}
	if got := store.TXT(fqdn); !slices.Equal(got, want) {
		t.Fatalf("TXT %s = %q, want %q", fqdn, got, want)
	}
	other := *a // another process: nothing shared but the API
	for range 2 {
		if err := other.CleanUpDNS01(ctx, apex); err != nil {
			t.Fatalf("clean up: %v", err)
		}
	}
	if got := store.TXT(fqdn); !slices.Equal(got, want[1:]) {
		t.Fatalf("TXT after clean up = %q, want %q", got, want[1:])
	}
	if err := a.CleanUpDNS01(ctx, wild); err != nil {
		t.Fatalf("clean up wildcard: %v", err)
	}
	if recs := store.Records("example.co"); len(recs) != 0 {
		t.Fatalf("records left: %+v", recs)
	}
}

func TestAkamaiErrors(t *testing.T) {
	ctx := actCtx(t)
	t.Run("wrong client secret: Akamai's words, refused for good, no secret", func(t *testing.T) {
		bad := akCreds
		bad.ClientSecret = "not-the-client-secret"
		a, store, host := akamaiFixture(t, bad)
		_, err := a.PresentDNS01(ctx, akamaiInput(host, "example.co", actKeyAuth))
		actWantNonRetryable(t, err, ErrTypeRefused, "via akamai", "HTTP 401: Not authorized: The signature does not match")
		if strings.Contains(err.Error(), bad.ClientSecret) {
			t.Errorf("error %q shows the secret", err)
		}
		if len(store.Records("example.co")) != 0 {
			t.Error("a record was written")
		}
	})
	t.Run("wrong client token", func(t *testing.T) {
		bad := akCreds
		bad.ClientToken = "akab-other"
		a, _, host := akamaiFixture(t, bad)
		_, err := a.PresentDNS01(ctx, akamaiInput(host, "example.co", actKeyAuth))
		actWantNonRetryable(t, err, ErrTypeRefused, "HTTP 401: Not authorized: Invalid client token")
	})
	t.Run("CA not trusted: retryable TLS error", func(t *testing.T) {
		a, _, host := akamaiFixture(t, akCreds)
		a.ProviderCAFile = ""
		_, err := a.PresentDNS01(ctx, akamaiInput(host, "example.co", actKeyAuth))
		actWantRetryable(t, err, "certificate")
	})
	t.Run("bad CA file", func(t *testing.T) {
		a, _, host := akamaiFixture(t, akCreds)
		a.ProviderCAFile = filepath.Join(t.TempDir(), "none.crt")
		_, err := a.PresentDNS01(ctx, akamaiInput(host, "example.co", actKeyAuth))
		actWantNonRetryable(t, err, ErrTypeConfig, "DNS provider CA file")
	})
	t.Run("no zone", func(t *testing.T) {
		a, _, host := akamaiFixture(t, akCreds)
		_, err := a.PresentDNS01(ctx, akamaiInput(host, "example.com", actKeyAuth))
		actWantRetryable(t, err, "akamai: no zone of the account holds _acme-challenge.example.com.")
	})
	t.Run("missing Secret", func(t *testing.T) {
		a, _, host := akamaiFixture(t, akCreds)
		in := akamaiInput(host, "example.co", actKeyAuth)
		in.Solver.Akamai.AccessToken.Name = "nope"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeConfig, "akamai accessTokenSecretRef", "Secret team-a/nope", "not found")
		actWantNonRetryable(t, a.CleanUpDNS01(ctx, in), ErrTypeConfig, "not found")
	})
	t.Run("wrong key", func(t *testing.T) {
		a, _, host := akamaiFixture(t, akCreds)
		in := akamaiInput(host, "example.co", actKeyAuth)
		in.Solver.Akamai.ClientSecret.Key = "secret"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeConfig, "akamai clientSecretSecretRef", `Secret team-a/akamai has no key "secret"`)
	})
	t.Run("bad serviceConsumerDomain", func(t *testing.T) {
		a, _, _ := akamaiFixture(t, akCreds)
		for _, host := range []string{"", "https://akab.luna.akamaiapis.net/"} {
			_, err := a.PresentDNS01(ctx, akamaiInput(host, "example.co", actKeyAuth))
			actWantNonRetryable(t, err, ErrTypeConfig, "akamai:", "serviceConsumerDomain")
		}
	})
}
