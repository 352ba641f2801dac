package dns01

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	kubefake "k8s.io/client-go/kubernetes/fake"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

const gcpProject = "certflow-test"

// gcpFixture runs the fake Cloud DNS API and token endpoint (zones example.info,
// example.org) and returns Activities using it, with a service account key in Secret
// gcp (key key.json) that the fake knows when known, else one it does not.
func gcpFixture(t *testing.T, known bool) (*Activities, *fakedns.Store, []byte) {
	t.Helper()
	store := fakedns.NewStore([]string{"example.info", "example.org"}, nil)
	fake := &fakedns.CloudDNS{Store: store, Project: gcpProject}
	hs := httptest.NewServer(fake.Handler())
	t.Cleanup(hs.Close)
	key, acct, err := fakedns.NewServiceAccountKey(gcpProject, "certflow@"+gcpProject+".iam.gserviceaccount.com", hs.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	if known {
		fake.Accounts = append(fake.Accounts, acct)
	} else {
		_, other, err := fakedns.NewServiceAccountKey(gcpProject, acct.Email, hs.URL+"/token")
		if err != nil {
			t.Fatal(err)
		}
		fake.Accounts = append(fake.Accounts, other) // same account, another key
	}
	kube := kubefake.NewClientset(actSecret(actIssuerNS, "gcp", "key.json", string(key)))
	return &Activities{Kube: kube, ClusterResourceNamespace: actClusterNS, CloudDNSAPIURL: hs.URL}, store, key
}

func gcpInput(name, keyAuth string, sel string) DNS01Input {
	return DNS01Input{
		IssuerNamespace: actIssuerNS,
		Solver: acmev1.ACMEChallengeSolverDNS01{CloudDNS: &acmev1.ACMEIssuerDNS01ProviderCloudDNS{
			Project: gcpProject, ServiceAccount: actSelPtr("gcp", sel)}},
		DNSName:          name,
		KeyAuthorization: keyAuth,
	}
}

func TestCloudDNSRoundTrip(t *testing.T) {
	for _, hosted := range []string{"", "example-info"} {
		t.Run("hostedZoneName="+hosted, func(t *testing.T) {
			a, store, _ := gcpFixture(t, true)
			ctx := actCtx(t)
			apex, wild := gcpInput("sub.example.info", "ka-apex", "key.json"), gcpInput("*.sub.example.info", "ka-wild", "key.json")
			apex.Solver.CloudDNS.HostedZoneName, wild.Solver.CloudDNS.HostedZoneName = hosted, hosted
			const fqdn = "_acme-challenge.sub.example.info"
			for range 2 { // presenting again (a retried activity) leaves one value
				for _, in := range []DNS01Input{apex, wild} {
					rec, err := a.PresentDNS01(ctx, in)
					if err != nil {
						t.Fatalf("present %s: %v", in.DNSName, err)
					}
					if rec.Provider != ProviderCloudDNS || rec.FQDN != fqdn+"." {
						t.Fatalf("present = %+v", rec)
					}
				}
			}
			want := []string{TXTValue("ka-apex"), TXTValue("ka-wild")}
			if got := store.TXT(fqdn); !slices.Equal(got, want) {
				t.Fatalf("TXT %s = %q, want %q", fqdn, got, want)
			}
			if recs := store.Records("example.info"); len(recs) != 2 || recs[0].TTL != cloudDNSTTL {
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
		})
	}
}

func TestCloudDNSErrors(t *testing.T) {
	ctx := actCtx(t)
	t.Run("key the token endpoint does not know: its words, refused for good, no key", func(t *testing.T) {
		a, store, key := gcpFixture(t, false)
		_, err := a.PresentDNS01(ctx, gcpInput("example.info", actKeyAuth, "key.json"))
		actWantNonRetryable(t, err, ErrTypeRefused, "via clouddns", "get an access token: HTTP 400: invalid_grant: Invalid JWT Signature.")
		if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(key[20:60])) {
			t.Errorf("error %q shows the key", err)
		}
		if len(store.Records("example.info")) != 0 {
			t.Error("a record was created")
		}
	})
	t.Run("unknown project: the API's words", func(t *testing.T) {
		a, _, _ := gcpFixture(t, true)
		in := gcpInput("example.info", actKeyAuth, "key.json")
		in.Solver.CloudDNS.Project = "nope"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeRefused, "HTTP 404: The 'parameters.project' resource named 'nope' does not exist. (notFound)")
	})
	t.Run("unknown hostedZoneName: the API's words", func(t *testing.T) {
		a, _, _ := gcpFixture(t, true)
		in := gcpInput("example.info", actKeyAuth, "key.json")
		in.Solver.CloudDNS.HostedZoneName = "other-zone"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeRefused, "HTTP 404: The 'parameters.managedZone' resource named 'other-zone' does not exist.")
	})
	t.Run("missing Secret", func(t *testing.T) {
		a, _, _ := gcpFixture(t, true)
		in := gcpInput("example.info", actKeyAuth, "key.json")
		in.Solver.CloudDNS.ServiceAccount.Name = "nope"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeConfig, "clouddns serviceAccountSecretRef", "Secret team-a/nope", "not found")
		actWantNonRetryable(t, a.CleanUpDNS01(ctx, in), ErrTypeConfig, "not found")
	})
	t.Run("wrong key", func(t *testing.T) {
		a, _, _ := gcpFixture(t, true)
		_, err := a.PresentDNS01(ctx, gcpInput("example.info", actKeyAuth, "credentials.json"))
		actWantNonRetryable(t, err, ErrTypeConfig, "Secret team-a/gcp has no key \"credentials.json\"")
	})
	t.Run("not a service account key", func(t *testing.T) {
		for _, tc := range []struct{ value, want string }{
			{"not json at all", "the service account key is not JSON"},
			{`{"type":"authorized_user","client_id":"x"}`, `the key is of type "authorized_user"`},
			{`{"type":"service_account","client_email":"a@b"}`, "the service account key has no private_key, token_uri"},
		} {
			a, _, _ := gcpFixture(t, true)
			a.Kube = kubefake.NewClientset(actSecret(actIssuerNS, "gcp", "key.json", tc.value))
			_, err := a.PresentDNS01(ctx, gcpInput("example.info", actKeyAuth, "key.json"))
			actWantNonRetryable(t, err, ErrTypeConfig, tc.want)
		}
	})
	t.Run("ambient credentials for an Issuer", func(t *testing.T) {
		a, _, _ := gcpFixture(t, true)
		in := gcpInput("example.info", actKeyAuth, "key.json")
		in.Solver.CloudDNS.ServiceAccount = nil
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeConfig, "clouddns: no credentials: set serviceAccountSecretRef", "not allowed for Issuers (worker flag --issuer-ambient-credentials)")
	})
	t.Run("no project", func(t *testing.T) {
		a, _, _ := gcpFixture(t, true)
		in := gcpInput("example.info", actKeyAuth, "key.json")
		in.Solver.CloudDNS.Project = " "
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeConfig, "clouddns: project is required")
	})
	t.Run("no zone", func(t *testing.T) {
		a, _, _ := gcpFixture(t, true)
		_, err := a.PresentDNS01(ctx, gcpInput("example.com", actKeyAuth, "key.json"))
		actWantRetryable(t, err, "clouddns: no zone of the account holds _acme-challenge.example.com.", "tried example.com, com")
	})
	t.Run("server error: retryable", func(t *testing.T) {
		a, _, _ := gcpFixture(t, true)
		hs := httptest.NewServer(httpHandlerStatus(503, `{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}`))
		defer hs.Close()
		a.CloudDNSAPIURL = hs.URL
		a.Kube = kubefake.NewClientset(actSecret(actIssuerNS, "gcp", "key.json", `{"type":"service_account","client_email":"a@b","private_key":"x","token_uri":"`+hs.URL+`/token"}`))
		_, err := a.PresentDNS01(ctx, gcpInput("example.info", actKeyAuth, "key.json"))
		if err == nil {
			t.Fatal("no error")
		}
		if typ, nonRetryable := actAppError(err); nonRetryable {
			t.Fatalf("error %v (%s) is not retryable", err, typ)
		}
	})
}
