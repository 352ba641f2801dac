package crash

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/worker"
)

// The binaries reach a Temporal server that requires mTLS through Temporal's standard
// client configuration (TEMPORAL_ADDRESS and TEMPORAL_TLS_* here; a profile file works
// the same): the worker is refused without a client certificate and issues a Certificate
// with one, and the watcher and the CLI (starter) connect with it. The dev server speaks
// no TLS, so the test puts a TLS-terminating proxy that requires client certificates in
// front of it.
func TestBinariesReachTemporalOverMTLS(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	dir := t.TempDir()
	pki := testkit.NewMTLSPKI(t, dir)
	proxy, handshakes := testkit.StartMTLSProxy(t, env.stack.TemporalAddress, pki)
	tlsEnv := []string{"TEMPORAL_ADDRESS=" + proxy, "TEMPORAL_NAMESPACE=" + env.stack.TemporalNamespace,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH=" + pki.CAPath}
	withClientCert := append(tlsEnv, "TEMPORAL_TLS_CLIENT_CERT_PATH="+pki.ClientCertPath, "TEMPORAL_TLS_CLIENT_KEY_PATH="+pki.ClientKeyPath)
	workerArgs := worker.Flags{Kubeconfig: env.workerKubeconfig}.Args() // no --temporal-address: the environment's

	if w, err := testkit.StartProcess("worker-no-client-cert", env.workerBin, filepath.Join(env.state, "worker-no-client-cert.log"), workerArgs, tlsEnv, time.Minute); err == nil {
		w.Stop(t)
		t.Fatal("a worker without a client certificate polls a Temporal that requires one")
	} else {
		t.Logf("without a client certificate the worker stops: %v", firstLine(err.Error()))
	}
	w, err := testkit.StartProcess("worker-mtls", env.workerBin, filepath.Join(env.state, "worker-mtls.log"), workerArgs, withClientCert, time.Minute)
	if err != nil {
		t.Fatalf("the worker with a client certificate: %v", err)
	}
	t.Cleanup(func() { w.Stop(t) })

	// Issued by that worker (the only one polling): its workflow tasks and activities go
	// through the proxy.
	const ns = "mtls"
	createNamespace(t, ns)
	kubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "web", CommonName: "mtls.example", DNSNames: []string{"mtls.example"}, Issuer: "selfsigned"}.String()), "apply", "-n", ns, "-f", "-")
	waitCertificateReady(t, ns, "web", 90*time.Second)

	starter, err := testkit.BuildBinary(env.root, env.state, "starter")
	if err != nil {
		t.Fatal(err)
	}
	status := exec.Command(starter, "status", "certificate", "web", "-n", ns, "--kubeconfig", env.stack.Kubeconfig)
	status.Env = append(os.Environ(), withClientCert...)
	out, err := status.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Phase:") {
		t.Errorf("starter status over mTLS: %v\n%s", err, out)
	}

	wp, logPath := startWatcher(t, "watcher-mtls", append([]string{"--leader-elect=false"}, testkit.SideServersOff...), withClientCert)
	t.Cleanup(func() { wp.Stop(t) })
	eventually(t, 60*time.Second, "the watcher connected over mTLS and synced", func() (bool, string) {
		select {
		case <-wp.Done():
			return false, "the watcher exited: " + wp.Tail(20)
		default:
		}
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "k8swatch caches synced"), wp.Tail(5)
	})
	if n := handshakes.Load(); n < 3 {
		t.Errorf("the proxy saw %d TLS handshakes with a client certificate, want the worker's, the CLI's and the watcher's", n)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
