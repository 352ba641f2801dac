package chaos

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// TestSecretDeletedWhileWatcherDown: a Secret deleted while no watcher runs sends no
// event to anyone, and its Certificate's status is current, which a starting watcher
// otherwise leaves alone (a restart is cheap); it must see that the Secret is missing
// and have the Secret issued again, not leave the Certificate Ready without it.
func TestSecretDeletedWhileWatcherDown(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "watcher-down"
	sys := env.System
	testkit.CreateNamespace(t, sys.Kube, ns)
	sup := newSupervisor(t, "down-")
	sup.startWatcher()
	sup.startWorker()
	acmetest.Kubectl(t, sys, testkit.Manifest(testkit.SelfSignedIssuer("root"),
		testkit.Cert{Name: "down", CommonName: "down.example", DNSNames: []string{"down.example"}, Issuer: "root"}.String()),
		"apply", "-n", ns, "-f", "-")
	testkit.WaitRevision(t, sys.CertFlow, ns, "down", 1, 2*time.Minute)

	sup.stopWatcher()
	if err := sys.Kube.CoreV1().Secrets(ns).Delete(context.Background(), "down-tls", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Kube.CoreV1().Secrets(ns).Get(context.Background(), "down-tls", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Secret down-tls after its deletion: %v", err)
	}
	started := time.Now()
	sup.startWatcher() // leads once the killed one's Lease has expired (about 15 s)
	testkit.WaitRevision(t, sys.CertFlow, ns, "down", 2, 90*time.Second)
	testkit.ReadTLSSecret(t, sys.Kube, ns, "down-tls")
	t.Logf("Secret issued again %.1fs after the new watcher started (it led %s after its start)", time.Since(started).Seconds(), sup.leadDelay(sup.watches))
}
