// Package acmetest holds the helpers of the ACME integration tests that run against
// a testkit.System with ACME (test/acme's failure tests, test/acmenonce,
// test/acmecrash, test/rfc2136): issuer manifests pointed at the stack's Pebble,
// waits on Issuers and Certificates, checks of the issued chain, of the Orders and of
// what must not be left behind (Challenges, HTTP-01 solver objects, TXT records).
package acmetest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
)

// Kubectl runs kubectl against the system as admin and fails t on error.
func Kubectl(t testing.TB, sys *testkit.System, stdin []byte, args ...string) string {
	t.Helper()
	out, err := sys.Kubectl(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Issuer returns the manifest of an ACME Issuer (kind "Issuer") or ClusterIssuer
// named name, with the system's Pebble as server and its TLS CA as caBundle, and
// solvers (YAML list items, indented by four spaces: "    - dns01: ...").
func Issuer(sys *testkit.System, kind, name, solvers string) []byte {
	return fmt.Appendf(nil, `apiVersion: cert-manager.io/v1
kind: %s
metadata: {name: %s}
spec:
  acme:
    server: %s
    caBundle: %s
    privateKeySecretRef: {name: %s-account}
    solvers:
%s
`, kind, name, sys.Stack.ACMEDirectoryURL, base64.StdEncoding.EncodeToString(sys.Stack.ACMECABundlePEM), name, strings.TrimRight(solvers, "\n"))
}

// CloudflareSolver is a solvers entry for the stack's fake Cloudflare, reading the
// token from Secret secretName (key api-token; see CloudflareTokenSecret).
func CloudflareSolver(secretName string) string {
	return fmt.Sprintf(`    - dns01:
        cloudflare:
          apiTokenSecretRef: {name: %s, key: api-token}
`, secretName)
}

// IngressSolver is an http01 ingress solvers entry (class nginx).
const IngressSolver = `    - http01:
        ingress:
          ingressClassName: nginx
`

// CloudflareTokenSecret is a Secret holding the fake Cloudflare's API token.
func CloudflareTokenSecret(name string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: %s}
stringData: {api-token: %s}
`, name, localstack.CloudflareToken)
}

// Certificate is the manifest of a Certificate for dnsNames from an Issuer (kind
// "Issuer" or "ClusterIssuer"), into Secret <name>-tls.
func Certificate(name, issuerKind, issuerName string, dnsNames ...string) []byte {
	quoted := make([]string, len(dnsNames))
	for i, n := range dnsNames {
		quoted[i] = `"` + n + `"`
	}
	return fmt.Appendf(nil, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %s}
spec:
  secretName: %s-tls
  dnsNames: [%s]
  issuerRef: {name: %s, kind: %s}
`, name, name, strings.Join(quoted, ", "), issuerName, issuerKind)
}

// WaitIssuerReady waits until an ACME Issuer (ns non-empty) or ClusterIssuer (ns
// empty) has registered its account and is Ready.
func WaitIssuerReady(t testing.TB, sys *testkit.System, ns, name string) {
	t.Helper()
	testkit.Eventually(t, time.Minute, "issuer "+ns+"/"+name+" Ready", func() (bool, string) {
		var st cmapi.IssuerStatus
		if ns == "" {
			iss, err := sys.CertFlow.CertmanagerV1().ClusterIssuers().Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			st = iss.Status
		} else {
			iss, err := sys.CertFlow.CertmanagerV1().Issuers(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			st = iss.Status
		}
		for _, c := range st.Conditions {
			if c.Type == cmapi.IssuerConditionReady {
				ok := c.Status == cmmeta.ConditionTrue && c.Reason == cmapi.IssuerReasonACMEAccountRegistered && st.ACME != nil && st.ACME.URI != ""
				return ok, fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
			}
		}
		return false, "no Ready condition"
	})
}

// WaitCertificate polls a Certificate until done says so, and returns it.
func WaitCertificate(t testing.TB, sys *testkit.System, ns, name string, timeout time.Duration, what string, done func(*cmapi.Certificate) bool) *cmapi.Certificate {
	t.Helper()
	var cert *cmapi.Certificate
	testkit.Eventually(t, timeout, "Certificate "+ns+"/"+name+" "+what, func() (bool, string) {
		c, err := sys.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		cert = c
		if done(c) {
			return true, ""
		}
		return false, fmt.Sprintf("%+v; %s", c.Status.Conditions, DescribeACME(sys, ns))
	})
	return cert
}

// WaitCertificateReady waits for Ready=True.
func WaitCertificateReady(t testing.TB, sys *testkit.System, ns, name string, timeout time.Duration) *cmapi.Certificate {
	t.Helper()
	return WaitCertificate(t, sys, ns, name, timeout, "Ready", func(c *cmapi.Certificate) bool {
		r := testkit.CertificateCondition(c, cmapi.CertificateConditionReady)
		return r != nil && r.Status == cmmeta.ConditionTrue
	})
}

// DescribeACME says where the Orders and Challenges of a namespace are, for failures.
func DescribeACME(sys *testkit.System, ns string) string {
	var parts []string
	if os, err := sys.CertFlow.AcmeV1().Orders(ns).List(context.Background(), metav1.ListOptions{}); err == nil {
		for _, o := range os.Items {
			parts = append(parts, fmt.Sprintf("Order %s %s %q", o.Name, o.Status.State, o.Status.Reason))
		}
	}
	if cs, err := sys.CertFlow.AcmeV1().Challenges(ns).List(context.Background(), metav1.ListOptions{}); err == nil {
		for _, c := range cs.Items {
			parts = append(parts, fmt.Sprintf("Challenge %s %s %s %q", c.Name, c.Spec.DNSName, c.Status.State, c.Status.Reason))
		}
	}
	return strings.Join(parts, "; ")
}

// VerifyChain checks the chain in a Certificate's Secret against Pebble's current
// root for every name (a wildcard is checked with a label in its place), and that the
// Secret holds a key.
func VerifyChain(t testing.TB, sys *testkit.System, ns, secretName string, names ...string) {
	t.Helper()
	s, err := sys.Kube.CoreV1().Secrets(ns).Get(context.Background(), secretName, metav1.GetOptions{})
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
		t.Fatalf("Secret %s/%s: tls.crt holds %d certificates, want the leaf and its intermediate", ns, secretName, len(certs))
	}
	rootPEM, err := sys.Stack.PebbleRootPEM(context.Background())
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
			t.Errorf("Secret %s/%s: chain for %s does not verify against Pebble's root: %v", ns, secretName, n, err)
		}
	}
	if got, want := slices.Sorted(slices.Values(certs[0].DNSNames)), slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
		t.Errorf("Secret %s/%s: leaf names %v, want %v", ns, secretName, got, want)
	}
	if len(s.Data["tls.key"]) == 0 {
		t.Errorf("Secret %s/%s has no tls.key", ns, secretName)
	}
}

// Orders lists the Orders of a namespace.
func Orders(t testing.TB, sys *testkit.System, ns string) []acmev1.Order {
	t.Helper()
	l, err := sys.CertFlow.AcmeV1().Orders(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// AssertOrdersValid checks that the namespace holds exactly n Orders, each valid with
// its URL and certificate, and returns them.
func AssertOrdersValid(t testing.TB, sys *testkit.System, ns string, n int) []acmev1.Order {
	t.Helper()
	os := Orders(t, sys, ns)
	if len(os) != n {
		t.Fatalf("%d Orders in %s, want exactly %d: %s", len(os), ns, n, DescribeACME(sys, ns))
	}
	for _, o := range os {
		if o.Status.State != acmev1.Valid || o.Status.URL == "" || len(o.Status.Certificate) == 0 {
			t.Errorf("Order %s: state %q url %q, %d certificate bytes; want valid with both", o.Name, o.Status.State, o.Status.URL, len(o.Status.Certificate))
		}
	}
	return os
}

// AssertNothingLeft waits until the namespace holds no Challenge and no HTTP-01
// solver Service, Pod, Ingress or HTTPRoute.
func AssertNothingLeft(t testing.TB, sys *testkit.System, ns string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "no Challenge or solver object left in "+ns, func() (bool, string) {
		var left []string
		ctx := context.Background()
		cs, err := sys.CertFlow.AcmeV1().Challenges(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cs.Items {
			left = append(left, "Challenge "+c.Name)
		}
		sel := metav1.ListOptions{LabelSelector: acmev1.SolverIdentificationLabelKey + "=true"}
		svcs, err := sys.Kube.CoreV1().Services(ns).List(ctx, sel)
		if err != nil {
			return false, err.Error()
		}
		for _, o := range svcs.Items {
			left = append(left, "Service "+o.Name)
		}
		pods, err := sys.Kube.CoreV1().Pods(ns).List(ctx, sel)
		if err != nil {
			return false, err.Error()
		}
		for _, o := range pods.Items {
			left = append(left, "Pod "+o.Name)
		}
		ings, err := sys.Kube.NetworkingV1().Ingresses(ns).List(ctx, sel)
		if err != nil {
			return false, err.Error()
		}
		for _, o := range ings.Items {
			left = append(left, "Ingress "+o.Name)
		}
		out, err := sys.Kubectl(nil, "get", "httproutes", "-n", ns, "-l", acmev1.SolverIdentificationLabelKey+"=true", "-o", "name")
		if err != nil {
			return false, "kubectl get httproutes: " + out
		}
		left = append(left, strings.Fields(out)...)
		return len(left) == 0, strings.Join(left, ", ")
	})
}

// TXT asks a DNS server (host:port, UDP) for the TXT records at fqdn and returns
// their values.
func TXT(server, fqdn string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(fqdn), dns.TypeTXT)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return nil, fmt.Errorf("TXT %s at %s: %w", fqdn, server, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("TXT %s at %s: %s", fqdn, server, dns.RcodeToString[r.Rcode])
	}
	var vals []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			vals = append(vals, strings.Join(txt.Txt, ""))
		}
	}
	return vals, nil
}

// AssertNoTXT waits until server answers no TXT record at any of fqdns.
func AssertNoTXT(t testing.TB, server string, fqdns ...string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "no TXT record left at "+server, func() (bool, string) {
		var left []string
		for _, f := range fqdns {
			vals, err := TXT(server, f)
			if err != nil {
				return false, err.Error()
			}
			for _, v := range vals {
				left = append(left, f+" "+v)
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
}

// AssertNoCloudflareTXT waits until the fake Cloudflare holds no TXT record in zone.
func AssertNoCloudflareTXT(t testing.TB, sys *testkit.System, zone string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "no TXT record left at Cloudflare in "+zone, func() (bool, string) {
		var left []string
		for _, r := range sys.Stack.Cloudflare().Records(zone) {
			if r.Type == "TXT" {
				left = append(left, r.Name+"="+r.Content)
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
}

// TXTValue is the DNS-01 TXT value of a key authorization (RFC 8555 section 8.4).
func TXTValue(keyAuthorization string) string {
	sum := sha256.Sum256([]byte(keyAuthorization))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CertificateRequestReady returns a CertificateRequest's Ready condition, or nil.
func CertificateRequestReady(cr *cmapi.CertificateRequest) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == cmapi.CertificateRequestConditionReady {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}
