package acme

import (
	"context"
	"fmt"
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

// accountRecheck is the suite's worker's --acme-account-recheck-interval: short, so
// that a test sees a Ready issuer notice on its own that the server forgot its account.
const accountRecheck = 40 * time.Second

// `make run` stopped and started again: etcd keeps the ClusterIssuer, its account key
// Secret and status.acme.uri, but the new Pebble knows no account. Every ACME
// Certificate renews at once (its order is refused for the unknown account, the
// account is registered again, the order retried: no failure, no backoff), the
// ClusterIssuer names the new account, and, with no Certificate to tell it, the
// ClusterIssuer notices on its own re-check.
func TestPebbleRestartedCertificatesRenewAtOnce(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	ns, issuer := "pebble-restart", "restart-dns01"
	createNamespace(t, ns)
	mustKubectl(t, acmetest.CloudflareTokenSecret("restart-cloudflare-token"), "apply", "-n", "cert-manager", "-f", "-")
	mustKubectl(t, acmetest.Issuer(env, "ClusterIssuer", issuer, acmetest.CloudflareSolver("restart-cloudflare-token")), "apply", "-f", "-")
	acmetest.WaitIssuerReady(t, env, "", issuer)
	names := map[string]string{"one": "one.restart.example.org", "two": "two.restart.example.org"}
	for _, name := range []string{"one", "two"} {
		mustKubectl(t, acmetest.Certificate(name, "ClusterIssuer", issuer, names[name]), "apply", "-n", ns, "-f", "-")
	}
	for _, name := range []string{"one", "two"} {
		waitACMERevision(t, ns, name, 1, 2*time.Minute)
	}
	first := accountURI(t, issuer)

	// A new Pebble, then the renewals.
	restartPebble(t)
	start := time.Now()
	for _, name := range []string{"one", "two"} {
		if err := env.Temporal.SignalWorkflow(ctx, workflows.CertificateWorkflowID(ns, name), "", workflows.SignalRenew, workflows.RenewSignal{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"one", "two"} {
		cert := waitACMERevision(t, ns, name, 2, time.Minute)
		verifyChain(t, ns, cert.Spec.SecretName, names[name])
	}
	t.Logf("both Certificates renewed %s after the renew signals", time.Since(start).Round(100*time.Millisecond))
	second := waitAccountChanged(t, issuer, first, 30*time.Second)
	t.Logf("ClusterIssuer %s: account %s, then %s", issuer, first, second)
	assertNothingLeft(t, ns)

	// A new Pebble again, and nobody orders: the ClusterIssuer's own re-check
	// registers the account again.
	restartPebble(t)
	third := waitAccountChanged(t, issuer, second, accountRecheck+30*time.Second)
	t.Logf("ClusterIssuer %s re-registered on its own: %s", issuer, third)
}

// waitACMERevision waits for Ready at revision rev, and fails at once when an attempt
// failed (an account the server does not know must not end in the backoff).
func waitACMERevision(t *testing.T, ns, name string, rev int, timeout time.Duration) *cmapi.Certificate {
	t.Helper()
	return acmetest.WaitCertificate(t, env, ns, name, timeout, fmt.Sprintf("Ready at revision %d", rev), func(c *cmapi.Certificate) bool {
		if n := c.Status.FailedIssuanceAttempts; n != nil && *n > 0 {
			t.Fatalf("Certificate %s/%s failed (failedIssuanceAttempts %d): %+v", ns, name, *n, testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing))
		}
		r := testkit.CertificateCondition(c, cmapi.CertificateConditionReady)
		return r != nil && r.Status == cmmeta.ConditionTrue && c.Status.Revision != nil && *c.Status.Revision == rev
	})
}

func restartPebble(t *testing.T) {
	t.Helper()
	rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.Stack.Restart(rctx, "pebble"); err != nil {
		t.Fatal(err)
	}
}

// accountURI is the ClusterIssuer's status.acme.uri.
func accountURI(t *testing.T, name string) string {
	t.Helper()
	iss, err := env.CertFlow.CertmanagerV1().ClusterIssuers().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if iss.Status.ACME == nil || iss.Status.ACME.URI == "" {
		t.Fatalf("ClusterIssuer %s has no account URI", name)
	}
	return iss.Status.ACME.URI
}

// waitAccountChanged waits until the ClusterIssuer is Ready with an account other
// than old, and returns it.
func waitAccountChanged(t *testing.T, name, old string, timeout time.Duration) string {
	t.Helper()
	var uri string
	testkit.Eventually(t, timeout, "ClusterIssuer "+name+" Ready with an account other than "+old, func() (bool, string) {
		iss, err := env.CertFlow.CertmanagerV1().ClusterIssuers().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if iss.Status.ACME != nil {
			uri = iss.Status.ACME.URI
		}
		for _, c := range iss.Status.Conditions {
			if c.Type == cmapi.IssuerConditionReady {
				return c.Status == cmmeta.ConditionTrue && uri != old && uri != "", fmt.Sprintf("%s %s: %s; account %s", c.Status, c.Reason, c.Message, uri)
			}
		}
		return false, "no Ready condition"
	})
	return uri
}
