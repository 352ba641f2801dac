package dns01

import (
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kubefake "k8s.io/client-go/kubernetes/fake"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

const (
	azSub    = "00000000-1111-2222-3333-444444444444"
	azRG     = "dns-rg"
	azTenant = "55555555-6666-7777-8888-999999999999"
	azClient = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	azSecret = "az-client-secret-value"
)

// azFixture runs the fake Azure DNS API and token endpoint over TLS (zones
// example.biz, example.org) and returns Activities using it (trusting the
// server's certificate through a CA file), with secretValue in Secret az (key
// client-secret).
func azFixture(t *testing.T, secretValue string) (*Activities, *fakedns.Store) {
	t.Helper()
	store := fakedns.NewStore([]string{"example.biz", "example.org"}, nil)
	fake := &fakedns.AzureDNS{Store: store, SubscriptionID: azSub, ResourceGroup: azRG,
		Apps: []fakedns.AzureApp{{TenantID: azTenant, ClientID: azClient, ClientSecret: azSecret}}}
	hs := httptest.NewUnstartedServer(fake.Handler())
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-server case's handshake errors
	hs.StartTLS()
	t.Cleanup(hs.Close)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	kube := kubefake.NewClientset(actSecret(actIssuerNS, "az", "client-secret", secretValue))
	return &Activities{Kube: kube, ClusterResourceNamespace: actClusterNS,
		AzureEndpoints: AzureEndpoints{AuthorityHost: hs.URL, ResourceManager: hs.URL}, ProviderCAFile: caFile}, store
}

func azInput(name, keyAuth string, sel string) DNS01Input {
	return DNS01Input{
		IssuerNamespace: actIssuerNS,
		Solver: acmev1.ACMEChallengeSolverDNS01{AzureDNS: &acmev1.ACMEIssuerDNS01ProviderAzureDNS{
			SubscriptionID: azSub, ResourceGroupName: azRG, TenantID: azTenant, ClientID: azClient,
			ClientSecret: actSelPtr("az", sel)}},
		DNSName:          name,
		KeyAuthorization: keyAuth,
	}
}

func TestAzureDNSRoundTrip(t *testing.T) {
	for _, hosted := range []string{"", "example.biz"} {
		t.Run("hostedZoneName="+hosted, func(t *testing.T) {
			a, store := azFixture(t, azSecret)
			ctx := actCtx(t)
			apex, wild := azInput("sub.example.biz", "ka-apex", "client-secret"), azInput("*.sub.example.biz", "ka-wild", "client-secret")
			apex.Solver.AzureDNS.HostedZoneName, wild.Solver.AzureDNS.HostedZoneName = hosted, hosted
			const fqdn = "_acme-challenge.sub.example.biz"
			for range 2 { // presenting again (a retried activity) leaves one value
				for _, in := range []DNS01Input{apex, wild} {
					rec, err := a.PresentDNS01(ctx, in)
					if err != nil {
						t.Fatalf("present %s: %v", in.DNSName, err)
					}
					if rec.Provider != ProviderAzureDNS || rec.FQDN != fqdn+"." {
						t.Fatalf("present = %+v", rec)
					}
				}
			}
			want := []string{TXTValue("ka-apex"), TXTValue("ka-wild")}
			if got := store.TXT(fqdn); !slices.Equal(got, want) {
				t.Fatalf("TXT %s = %q, want %q", fqdn, got, want)
			}
			if recs := store.Records("example.biz"); len(recs) != 2 || recs[0].TTL != azureDNSTTL {
				t.Fatalf("records = %+v", recs)
			}
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
		})
	}
}

func TestAzureDNSErrors(t *testing.T) {
	ctx := actCtx(t)
	t.Run("wrong secret: Entra ID's words, refused for good, no secret", func(t *testing.T) {
		a, store := azFixture(t, "not-the-secret")
		_, err := a.PresentDNS01(ctx, azInput("example.biz", actKeyAuth, "client-secret"))
		actWantNonRetryable(t, err, ErrTypeRefused, "via azuredns", "get an access token: HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided.")
		if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(err.Error(), "Trace ID") {
			t.Errorf("error %q shows the secret or a trace id", err)
		}
		if len(store.Records("example.biz")) != 0 {
			t.Error("a record was created")
		}
	})
	t.Run("unknown resource group: ARM's words", func(t *testing.T) {
		a, _ := azFixture(t, azSecret)
		in := azInput("example.biz", actKeyAuth, "client-secret")
		in.Solver.AzureDNS.ResourceGroupName = "other-rg"
		_, err := a.PresentDNS01(ctx, in)
		actWantRetryable(t, err, "azuredns: no zone of the account holds _acme-challenge.example.biz.")
		in.Solver.AzureDNS.HostedZoneName = "example.biz"
		_, err = a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeRefused, "HTTP 404: Resource group 'other-rg' could not be found. (ResourceGroupNotFound)")
	})
	t.Run("missing Secret", func(t *testing.T) {
		a, _ := azFixture(t, azSecret)
		in := azInput("example.biz", actKeyAuth, "client-secret")
		in.Solver.AzureDNS.ClientSecret.Name = "nope"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeConfig, "azuredns clientSecretSecretRef", "Secret team-a/nope", "not found")
		actWantNonRetryable(t, a.CleanUpDNS01(ctx, in), ErrTypeConfig, "not found")
	})
	t.Run("wrong key", func(t *testing.T) {
		a, _ := azFixture(t, azSecret)
		_, err := a.PresentDNS01(ctx, azInput("example.biz", actKeyAuth, "secret"))
		actWantNonRetryable(t, err, ErrTypeConfig, "Secret team-a/az has no key \"secret\"")
	})
	for _, tc := range []struct {
		name string
		edit func(z *acmev1.ACMEIssuerDNS01ProviderAzureDNS)
		want string
	}{
		{"clientID without tenantID", func(z *acmev1.ACMEIssuerDNS01ProviderAzureDNS) { z.TenantID = "" }, "clientID needs tenantID and clientSecretSecretRef"},
		{"secret without clientID", func(z *acmev1.ACMEIssuerDNS01ProviderAzureDNS) { z.ClientID = "" }, "clientSecretSecretRef and tenantID need clientID"},
		{"ambient for an Issuer", func(z *acmev1.ACMEIssuerDNS01ProviderAzureDNS) {
			z.ClientID, z.TenantID, z.ClientSecret, z.ManagedIdentity = "", "", nil, &acmev1.AzureManagedIdentity{ClientID: "x"}
		}, "not allowed for Issuers (worker flag --issuer-ambient-credentials)"},
		{"clientID and managedIdentity", func(z *acmev1.ACMEIssuerDNS01ProviderAzureDNS) { z.ManagedIdentity = &acmev1.AzureManagedIdentity{} }, "not both"},
		{"German cloud", func(z *acmev1.ACMEIssuerDNS01ProviderAzureDNS) { z.Environment = acmev1.AzureGermanCloud }, "AzureGermanCloud was closed"},
		{"no subscription", func(z *acmev1.ACMEIssuerDNS01ProviderAzureDNS) { z.SubscriptionID = "" }, "subscriptionID is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := azFixture(t, azSecret)
			in := azInput("example.biz", actKeyAuth, "client-secret")
			tc.edit(in.Solver.AzureDNS)
			_, err := a.PresentDNS01(ctx, in)
			actWantNonRetryable(t, err, ErrTypeConfig, tc.want)
		})
	}
	t.Run("a server the worker does not trust", func(t *testing.T) {
		a, _ := azFixture(t, azSecret)
		a.ProviderCAFile = ""
		_, err := a.PresentDNS01(ctx, azInput("example.biz", actKeyAuth, "client-secret"))
		actWantRetryable(t, err, "certificate")
	})
}
