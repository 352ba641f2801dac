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
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testsystem"
)

var env *testsystem.System

func TestMain(m *testing.M) {
	if !localstack.IntegrationEnabled() {
		os.Exit(m.Run())
	}
	sys, err := testsystem.Start(context.Background(), testsystem.Options{ACME: true, Namespaces: []string{"http01", "ingress", "dns01"}})
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
	out, err := env.Kubectl(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestSeedHTTP01GatewayHTTPRoute(t *testing.T) {
	localstack.SkipUnlessIntegration(t)
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
	localstack.SkipUnlessIntegration(t)
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
	localstack.SkipUnlessIntegration(t)
	// The ClusterIssuer reads its Secrets from the cluster resource namespace.
	mustKubectl(t, []byte(`apiVersion: v1
kind: Secret
metadata: {name: cloudflare-api-token-secret, namespace: cert-manager}
stringData: {api-token: `+localstack.CloudflareToken+`}
`), "apply", "-f", "-")
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
	testsystem.Eventually(t, 30*time.Second, "no TXT record left at Cloudflare", func() (bool, string) {
		var left []string
		for _, r := range env.Stack.Cloudflare().Records("example.com") {
			if r.Type == "TXT" {
				left = append(left, r.Name+"="+r.Content)
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
}

func waitIssuerReady(t *testing.T, ns, name string) {
	t.Helper()
	testsystem.Eventually(t, time.Minute, "Issuer "+ns+"/"+name+" Ready", func() (bool, string) {
		iss, err := env.CertFlow.CertmanagerV1().Issuers(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return issuerReady(t, iss.Status)
	})
}

func waitClusterIssuerReady(t *testing.T, name string) {
	t.Helper()
	testsystem.Eventually(t, time.Minute, "ClusterIssuer "+name+" Ready", func() (bool, string) {
		iss, err := env.CertFlow.CertmanagerV1().ClusterIssuers().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return issuerReady(t, iss.Status)
	})
}

func issuerReady(t *testing.T, st cmapi.IssuerStatus) (bool, string) {
	for _, c := range st.Conditions {
		if c.Type == cmapi.IssuerConditionReady {
			ok := c.Status == cmmeta.ConditionTrue && c.Reason == cmapi.IssuerReasonACMEAccountRegistered && st.ACME != nil && st.ACME.URI != ""
			return ok, fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
		}
	}
	return false, "no Ready condition"
}

func waitCertificateReady(t *testing.T, ns, name string, timeout time.Duration) *cmapi.Certificate {
	t.Helper()
	var cert *cmapi.Certificate
	testsystem.Eventually(t, timeout, "Certificate "+ns+"/"+name+" Ready", func() (bool, string) {
		c, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		cert = c
		for _, cond := range c.Status.Conditions {
			if cond.Type == cmapi.CertificateConditionReady && cond.Status == cmmeta.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v; %s", c.Status.Conditions, describeACME(ns))
	})
	return cert
}

// describeACME says where the Orders and Challenges of a namespace are, for failures.
func describeACME(ns string) string {
	var parts []string
	if os, err := env.CertFlow.AcmeV1().Orders(ns).List(context.Background(), metav1.ListOptions{}); err == nil {
		for _, o := range os.Items {
			parts = append(parts, fmt.Sprintf("Order %s %s %q", o.Name, o.Status.State, o.Status.Reason))
		}
	}
	if cs, err := env.CertFlow.AcmeV1().Challenges(ns).List(context.Background(), metav1.ListOptions{}); err == nil {
		for _, c := range cs.Items {
			parts = append(parts, fmt.Sprintf("Challenge %s %s %s %q", c.Name, c.Spec.DNSName, c.Status.State, c.Status.Reason))
		}
	}
	return strings.Join(parts, "; ")
}

// verifyChain checks the issued chain against Pebble's root (it changes at every start
// of Pebble, so it is fetched, not pinned) for every name.
func verifyChain(t *testing.T, ns, secretName string, names ...string) {
	t.Helper()
	s, err := env.Kube.CoreV1().Secrets(ns).Get(context.Background(), secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	rest := s.Data["tls.crt"]
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) < 2 {
		t.Fatalf("tls.crt holds %d certificates, want the leaf and its intermediate", len(certs))
	}
	rootPEM, err := env.Stack.PebbleRootPEM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("Pebble's /roots/0 holds no certificate")
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	for _, n := range names {
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: strings.Replace(n, "*", "x", 1)}); err != nil {
			t.Errorf("chain for %s does not verify against Pebble's root: %v", n, err)
		}
	}
	if len(s.Data["tls.key"]) == 0 {
		t.Error("Secret has no tls.key")
	}
}

func assertOneValidOrder(t *testing.T, ns string) {
	t.Helper()
	os, err := env.CertFlow.AcmeV1().Orders(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(os.Items) != 1 {
		t.Fatalf("%d Orders in %s, want exactly 1: %s", len(os.Items), ns, describeACME(ns))
	}
	o := os.Items[0]
	if o.Status.State != acmev1.Valid || o.Status.URL == "" || len(o.Status.Certificate) == 0 {
		t.Errorf("Order %s: state %q url %q, %d certificate bytes; want valid with both", o.Name, o.Status.State, o.Status.URL, len(o.Status.Certificate))
	}
}

// assertNothingLeft: no Challenge and no solver Service, Pod, Ingress or HTTPRoute.
func assertNothingLeft(t *testing.T, ns string) {
	t.Helper()
	testsystem.Eventually(t, 30*time.Second, "no Challenge or solver object left in "+ns, func() (bool, string) {
		var left []string
		ctx := context.Background()
		if cs, err := env.CertFlow.AcmeV1().Challenges(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, c := range cs.Items {
				left = append(left, "Challenge "+c.Name)
			}
		}
		sel := metav1.ListOptions{LabelSelector: acmev1.SolverIdentificationLabelKey + "=true"}
		if l, err := env.Kube.CoreV1().Services(ns).List(ctx, sel); err == nil {
			for _, o := range l.Items {
				left = append(left, "Service "+o.Name)
			}
		}
		if l, err := env.Kube.CoreV1().Pods(ns).List(ctx, sel); err == nil {
			for _, o := range l.Items {
				left = append(left, "Pod "+o.Name)
			}
		}
		if l, err := env.Kube.NetworkingV1().Ingresses(ns).List(ctx, sel); err == nil {
			for _, o := range l.Items {
				left = append(left, "Ingress "+o.Name)
			}
		}
		if out, err := env.Kubectl(nil, "get", "httproutes", "-n", ns, "-l", acmev1.SolverIdentificationLabelKey+"=true", "-o", "name"); err == nil {
			left = append(left, strings.Fields(out)...)
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
}
