// Package acme issues real certificates from Pebble on the local stack: the user's
// ACME manifests (server URL and caBundle pointed at Pebble), HTTP-01 through a
// Gateway HTTPRoute and an Ingress, DNS-01 through Cloudflare (a local fake of its API
// that writes into the DNS server Pebble resolves with). Every chain is verified
// against Pebble's root, and nothing is left behind: no Challenge, solver object or
// TXT record.
package acme

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

var env *testkit.System

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	sys, err := testkit.Start(context.Background(), testkit.Options{ACME: true, Namespaces: []string{"http01", "ingress", "dns01"},
		ACMEAccountRecheck: accountRecheck, ACMERenewalInfoMaxRecheck: renewalInfoMaxRecheck})
	if err != nil {
		fmt.Fprintln(os.Stderr, "acme setup:", err)
		os.Exit(1)
	}
	env = sys
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

const letsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"

// pointAtPebble rewrites a user's ACME issuer manifest to use Pebble: the server URL,
// and Pebble's CA for its TLS endpoint as caBundle. Nothing else changes.
func pointAtPebble(t *testing.T, manifest []byte) []byte {
	t.Helper()
	if !bytes.Contains(manifest, []byte(letsEncryptProduction)) {
		t.Fatalf("manifest does not name %s", letsEncryptProduction)
	}
	ca := base64.StdEncoding.EncodeToString(env.Stack.ACMECABundlePEM)
	var out []string
	for _, line := range strings.Split(string(manifest), "\n") {
		if i := strings.Index(line, "server: "+letsEncryptProduction); i >= 0 {
			indent := line[:i]
			out = append(out, indent+"server: "+env.Stack.ACMEDirectoryURL, indent+"caBundle: "+ca)
			continue
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}

func example(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Root, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustKubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	return acmetest.Kubectl(t, env, stdin, args...)
}

func TestSeedHTTP01GatewayHTTPRoute(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "http01"
	mustKubectl(t, pointAtPebble(t, example(t, "letsencrypt-http01-gatewayHTTPRoute.yaml")), "apply", "-n", ns, "-f", "-")
	waitIssuerReady(t, ns, "letsencrypt")
	mustKubectl(t, example(t, "certificate-http01-example.yaml"), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "example-tls", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "www.markabledu.com")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
}

func TestHTTP01Ingress(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "ingress"
	issuer := fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: letsencrypt-ingress}
spec:
  acme:
    server: %s
    privateKeySecretRef: {name: letsencrypt-ingress}
    solvers:
    - http01:
        ingress:
          ingressClassName: nginx
`, letsEncryptProduction)
	mustKubectl(t, pointAtPebble(t, []byte(issuer)), "apply", "-n", ns, "-f", "-")
	waitIssuerReady(t, ns, "letsencrypt-ingress")
	mustKubectl(t, []byte(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: site}
spec:
  secretName: site-tls
  dnsNames: [site.example.org, www.example.org]
  issuerRef: {name: letsencrypt-ingress}
`), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "site", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "site.example.org", "www.example.org")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
}

func TestSeedDNS01CloudflareWildcard(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	// The ClusterIssuer reads its Secrets from the cluster resource namespace.
	mustKubectl(t, []byte(`apiVersion: v1
kind: Secret
metadata: {name: cloudflare-api-token-secret, namespace: cert-manager}
stringData: {api-token: `+localstack.CloudflareToken+`}
`), "apply", "-f", "-")
	before := acmeRequests(t)
	mustKubectl(t, pointAtPebble(t, example(t, "letsencrypt-dns01.yaml")), "apply", "-f", "-")
	waitClusterIssuerReady(t, "letsencrypt-dns01")
	ns := "dns01"
	mustKubectl(t, []byte(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: wildcard}
spec:
  secretName: wildcard-tls
  dnsNames: [example.com, "*.example.com"]
  issuerRef: {name: letsencrypt-dns01, kind: ClusterIssuer}
`), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "wildcard", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "example.com", "*.example.com")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
	// The worker's ACME client metrics counted the order's requests, as upstream's do.
	after := acmeRequests(t)
	for _, want := range []struct {
		action, method, status string
	}{
		{"new_nonce", "HEAD", "200"}, {"authorize_order", "POST", "201"}, {"get_authorization", "POST", "200"},
		{"accept_challenge", "POST", "200"}, {"create_order_cert", "POST", "200"}, {"fetch_cert", "POST", "200"},
	} {
		k := want.action + " " + want.method + " " + want.status
		if after[k] <= before[k] {
			t.Errorf("certmanager_http_acme_client_request_count{action=%q,method=%q,status=%q} went from %v to %v; all counted: %v", want.action, want.method, want.status, before[k], after[k], after)
		}
	}
	testkit.Eventually(t, 30*time.Second, "no TXT record left at Cloudflare", func() (bool, string) {
		var left []string
		for _, r := range env.Stack.Cloudflare().Records("example.com") {
			if r.Type == "TXT" {
				left = append(left, r.Name+"="+r.Content)
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
}

// acmeRequests reads this process's (the in-process worker's) ACME client request
// counts by "action method status", checking that each has its duration observed too.
func acmeRequests(t *testing.T) map[string]float64 {
	t.Helper()
	fams, err := metrics.Gathered()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, m := range fams["certmanager_http_acme_client_request_count"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["scheme"] != "https" || l["host"] == "" {
			t.Errorf("ACME request counted with scheme %q host %q", l["scheme"], l["host"])
		}
		counts[l["action"]+" "+l["method"]+" "+l["status"]] += m.GetCounter().GetValue()
		if d, ok := metrics.Value(fams, "certmanager_http_acme_client_request_duration_seconds", l); !ok || d != m.GetCounter().GetValue() {
			t.Errorf("ACME requests %v: %v counted, %v timed", l, m.GetCounter().GetValue(), d)
		}
	}
	return counts
}

func waitIssuerReady(t *testing.T, ns, name string) { acmetest.WaitIssuerReady(t, env, ns, name) }

func waitClusterIssuerReady(t *testing.T, name string) { acmetest.WaitIssuerReady(t, env, "", name) }

func waitCertificateReady(t *testing.T, ns, name string, timeout time.Duration) *cmapi.Certificate {
	t.Helper()
	return acmetest.WaitCertificateReady(t, env, ns, name, timeout)
}

// verifyChain checks the issued chain against Pebble's root (it changes at every start
// of Pebble, so it is fetched, not pinned) for every name.
func verifyChain(t *testing.T, ns, secretName string, names ...string) {
	t.Helper()
	acmetest.VerifyChain(t, env, ns, secretName, names...)
}

func assertOneValidOrder(t *testing.T, ns string) {
	t.Helper()
	acmetest.AssertOrdersValid(t, env, ns, 1)
}

// assertNothingLeft: no Challenge and no solver Service, Pod, Ingress or HTTPRoute.
func assertNothingLeft(t *testing.T, ns string) {
	t.Helper()
	acmetest.AssertNothingLeft(t, env, ns)
}
