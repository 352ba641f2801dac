package helm

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/localstack/freeport"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// An existing Temporal that requires mTLS, as README.md installs for it: the Secrets
// with the server's CA, the client certificate and an API key, and `helm install ...
// --set temporal.embedded.enabled=false --set temporal.address=... --set
// temporal.tls.*=... --set temporal.apiKey.secretName=...`. No embedded Temporal is
// installed; the worker and the watcher, run with the Deployments' environment and the
// Secrets' files where the chart mounts them, reach the server through a proxy that
// requires the client certificate and whose certificate names only the server name the
// values give (not the proxy's 127.0.0.1), and issue a Certificate.
func TestExistingTemporalOverMTLS(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	const serverName = "temporal.example.com"
	pki := testkit.NewMTLSPKI(t, t.TempDir(), serverName)
	proxy, handshakes := testkit.StartMTLSProxy(t, env.stack.TemporalAddress, pki)

	testkit.CreateNamespace(t, env.kube, namespace)
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "temporal-tls"}, Data: map[string][]byte{"ca.crt": pki.CA, "tls.crt": pki.ClientCert, "tls.key": pki.ClientKey}},
		{ObjectMeta: metav1.ObjectMeta{Name: "temporal-api"}, Data: map[string][]byte{"api-key": []byte("test-api-key")}},
	} {
		if _, err := env.kube.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.kube.CoreV1().Secrets(namespace).Delete(ctx, s.Name, metav1.DeleteOptions{}) })
	}
	sets := []string{"installCRDs=true", "temporal.embedded.enabled=false", "temporal.address=" + serverName + ":7233",
		"temporal.tls.enabled=true", "temporal.tls.serverName=" + serverName, "temporal.tls.secretName=temporal-tls", "temporal.tls.mtls=true",
		"temporal.apiKey.secretName=temporal-api"}
	for _, v := range []string{"metrics.listenAddress", "healthz.listenAddress", "k8swatch.metrics.listenAddress", "k8swatch.healthz.listenAddress"} {
		port, err := freeport.Get(false)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, fmt.Sprintf("%s=127.0.0.1:%d", v, port))
	}
	cfg := helmConfig(t)
	objs := decode(t, install(ctx, t, cfg, releaseName, namespace, sets...))
	if sts := ofKind(objs, "StatefulSet"); len(sts) != 0 {
		t.Errorf("an embedded Temporal installed with temporal.embedded.enabled=false: %s", names(sts))
	}

	procs := []*testkit.WorkerProcess{
		runDeployment(t, objs, "certflow-worker", proxy),
		runDeployment(t, objs, "certflow-k8swatch", proxy),
	}
	const ns = "mtls"
	testkit.CreateNamespace(t, env.kube, ns)
	manifest := testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "web", CommonName: "mtls.example", DNSNames: []string{"mtls.example"}, Issuer: "selfsigned"}.String())
	testkit.Eventually(t, 30*time.Second, "kubectl apply (the CRDs just installed)", func() (bool, string) {
		out, err := kubectl(manifest, "apply", "-n", ns, "-f", "-")
		return err == nil, out
	})
	testkit.WaitCertificateReady(t, env.certflow, ns, "web", 90*time.Second)
	if n := handshakes.Load(); n < 2 {
		t.Errorf("the proxy saw %d TLS handshakes with a client certificate, want the worker's and the watcher's", n)
	}
	_, w := deployment(t, objs, "certflow-worker")
	if !slices.ContainsFunc(w.Env, func(e corev1.EnvVar) bool { return e.Name == "TEMPORAL_API_KEY" && e.ValueFrom != nil }) {
		t.Errorf("the worker's environment has no TEMPORAL_API_KEY from the Secret: %+v", w.Env)
	}
	for _, p := range procs {
		p.Stop(t)
	}
	uninstall(t, cfg)
}
