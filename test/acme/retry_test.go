package acme

// ACME retries start clean: a retry after a failed order gets a fresh Order (the failed
// one of the replaced request is removed, with no garbage collector on the local stack),
// and an account the server forgot (a Pebble restarted with no accounts, as after
// stopping and starting `make run` again) is registered again at once instead of
// failing every Certificate into a one-hour backoff.

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
	"github.com/certflow/certflow/workflows"
)

// Wrong TXT → fixed → renew → Ready within 90 s: the failed Order of the first attempt
// (same request name, so same Order name) does not block the retry.
func TestRetryAfterFailedOrderStartsClean(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, dnsName := "retry-clean", "retry.example.org"
	fqdn := "_acme-challenge." + dnsName + "."
	wrong := acmetest.TXTValue("not the key authorization")
	createNamespace(t, ns)
	interceptTXT(t, func(name string, values []string) []string {
		if name == fqdn && len(values) > 0 {
			return []string{wrong}
		}
		return values
	})
	cloudflareIssuer(t, ns)
	mustKubectl(t, acmetest.Certificate("retry", "Issuer", "cloudflare", dnsName), "apply", "-n", ns, "-f", "-")
	acmetest.WaitCertificate(t, env, ns, "retry", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	failed := failedOrder(t, ns)
	t.Logf("first attempt: Order %s %s: %s", failed.Name, failed.Status.State, failed.Status.Reason)

	// The cause is fixed, and the user asks for a renewal.
	if err := env.Stack.InterceptCloudflareTXT(nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := env.Temporal.SignalWorkflow(context.Background(), workflows.CertificateWorkflowID(ns, "retry"), "", workflows.SignalRenew, workflows.RenewSignal{}); err != nil {
		t.Fatal(err)
	}
	cert := acmetest.WaitCertificate(t, env, ns, "retry", 90*time.Second, "Ready after the renewal", func(c *cmapi.Certificate) bool {
		if n := c.Status.FailedIssuanceAttempts; n != nil && *n > 1 {
			i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
			t.Fatalf("the retry failed too (failedIssuanceAttempts %d): %+v; %s", *n, i, acmetest.DescribeACME(env, ns))
		}
		r := testkit.CertificateCondition(c, cmapi.CertificateConditionReady)
		return r != nil && r.Status == cmmeta.ConditionTrue && c.Status.Revision != nil && *c.Status.Revision == 1
	})
	t.Logf("Ready %s after the renew signal", time.Since(start).Round(100*time.Millisecond))
	if msg := strings.Join(certificateEvents(t, ns, "retry"), "; "); strings.Contains(msg, "OrderConflict") || strings.Contains(msg, "belongs to another") {
		t.Errorf("Certificate events mention an Order conflict: %s", msg)
	}
	verifyChain(t, ns, cert.Spec.SecretName, dnsName)
	orders := acmetest.AssertOrdersValid(t, env, ns, 1)
	if orders[0].UID == failed.UID {
		t.Errorf("Order %s is still the failed one (UID %s)", orders[0].Name, failed.UID)
	}
	crs, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(crs.Items) != 1 {
		t.Errorf("%d CertificateRequests in %s, want 1", len(crs.Items), ns)
	}
	assertNothingLeft(t, ns)
	acmetest.AssertNoCloudflareTXT(t, env, "example.org")
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, fqdn)
}

// certificateEvents returns the messages of the Events about a Certificate.
func certificateEvents(t *testing.T, ns, name string) []string {
	t.Helper()
	l, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}
