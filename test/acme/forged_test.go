package acme

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/certflow/certflow/activities/kube"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
	"github.com/certflow/certflow/workflows"
)

// Temporal is not a back door: a ChallengeWorkflow started by hand for a Challenge that
// does not exist, naming an issuer's Cloudflare credentials and a name of the forger's
// choosing, presents no TXT record (the DNS-01 activities take the solver and the
// credentials' namespace from the Challenge object, confirmed by UID).
func TestForgedDNS01ChallengeInputPresentsNothing(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	const ns = "forged-dns01"
	const victim = "victim.example.com"
	fqdn := "_acme-challenge." + victim + "."
	testkit.CreateNamespace(t, env.Kube, ns)
	acmetest.Kubectl(t, env, acmetest.CloudflareTokenSecret("cloudflare-token"), "apply", "-n", ns, "-f", "-")

	// Every record the fake Cloudflare publishes passes here.
	var mu sync.Mutex
	var published []string
	if err := env.Stack.InterceptCloudflareTXT(func(name string, values []string) []string {
		if name == fqdn && len(values) > 0 {
			mu.Lock()
			published = append(published, values...)
			mu.Unlock()
		}
		return values
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stack.InterceptCloudflareTXT(nil); err != nil {
			t.Error(err)
		}
	})

	in := workflows.ChallengeInput{
		Challenge:       kube.ObjectRef{Namespace: ns, Name: "forged", UID: "forged-uid"},
		IssuerNamespace: ns,
		Spec: acmev1.ChallengeSpec{Type: acmev1.ACMEChallengeTypeDNS01, DNSName: victim, Key: "forged.key-authorization",
			Solver: acmev1.ACMEChallengeSolver{DNS01: &acmev1.ACMEChallengeSolverDNS01{Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{
				APIToken: &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "cloudflare-token"}, Key: "api-token"},
			}}}},
		SelfCheckTimeout: 30 * time.Second,
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	id := "forged-challenge/" + ns
	run, err := env.Temporal.ExecuteWorkflow(wctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.ChallengeWorkflow, in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Temporal.TerminateWorkflow(context.Background(), id, "", "end of test") })
	var res workflows.ChallengeResult
	if err := run.Get(wctx, &res); err != nil {
		t.Errorf("the forged ChallengeWorkflow did not end: %v", err)
	} else if res.State != acmev1.Errored || !strings.Contains(res.Reason, "does not exist") {
		t.Errorf("the forged challenge ended %s: %s; want errored, its Challenge does not exist", res.State, res.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(published) > 0 {
		t.Errorf("the fake Cloudflare published %q at %s for the forged input", published, fqdn)
	}
	if vals := env.Stack.Cloudflare().TXT(fqdn); len(vals) > 0 {
		t.Errorf("the fake Cloudflare holds %q at %s", vals, fqdn)
	}
}
