package acme

// Failed validations, for real: Pebble itself sees a wrong TXT record, or finds no
// HTTP-01 solver where the name points. Each must end with the Order invalid in
// Pebble's words, the CertificateRequest Failed, the Certificate failed (and backing
// off), and nothing left behind.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// failureTimeout bounds a failing issuance: the self check gives up after
// SelfCheckTimeout (15 s here), then Pebble validates at once.
const failureTimeout = 90 * time.Second

// The fake Cloudflare API holds the right TXT value, but the DNS server Pebble asks
// serves a wrong one: the self check keeps failing, Pebble is asked anyway after the
// self-check timeout and rejects the challenge.
func TestDNS01WrongTXTRecordFails(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, dnsName := "dns01-wrong-txt", "wrongtxt.example.org"
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
	mustKubectl(t, acmetest.Certificate("wrong", "Issuer", "cloudflare", dnsName), "apply", "-n", ns, "-f", "-")

	// While the self check waits, the Challenge says what the nameserver answered.
	var sawWrong, sawTXTAtCloudflare bool // the self check saw the wrong value; the API held the right one
	reasons := map[string]bool{}
	cert := acmetest.WaitCertificate(t, env, ns, "wrong", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		for _, r := range challengeReasons(t, ns) {
			reasons[r] = true
			if strings.Contains(r, "Waiting for DNS-01 challenge propagation") && strings.Contains(r, env.Stack.ChallTestSrvDNS) &&
				strings.Contains(r, fqdn) && strings.Contains(r, "not the expected one") && strings.Contains(r, wrong) {
				sawWrong = true
			}
		}
		for _, r := range env.Stack.Cloudflare().Records("example.org") {
			if r.Type == "TXT" && r.Name == strings.TrimSuffix(fqdn, ".") && r.Content != wrong {
				sawTXTAtCloudflare = true
			}
		}
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	if !sawTXTAtCloudflare {
		t.Errorf("the right TXT value never showed at the fake Cloudflare API (the solver did not present it)")
	}
	if !sawWrong {
		t.Errorf("no Challenge reason said that %s served another TXT value at %s; reasons seen: %q", env.Stack.ChallTestSrvDNS, fqdn, keys(reasons))
	}

	// Pebble's verdict, in its words, all the way up.
	order := failedOrder(t, ns)
	if !strings.Contains(order.Status.Reason, dnsName) || !strings.Contains(order.Status.Reason, "urn:ietf:params:acme:error:unauthorized") ||
		!strings.Contains(order.Status.Reason, "Correct value not found for DNS challenge") {
		t.Errorf("Order %s reason %q: want Pebble's unauthorized problem (correct value not found) for %s", order.Name, order.Status.Reason, dnsName)
	}
	t.Logf("Order %s: %s", order.Name, order.Status.Reason)
	assertFailedIssuance(t, ns, cert, order.Status.Reason)

	assertNothingLeft(t, ns)
	acmetest.AssertNoCloudflareTXT(t, env, "example.org")
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, fqdn)
}

// The name points (in the DNS Pebble and the self check use) at an address where no
// HTTP-01 solver listens: the self check reports the URL and the refused connection
// while it waits, Pebble's validation fails the same way, and every solver object
// (Service, Ingress, the worker's in-process registration) is removed.
func TestHTTP01SolverNeverAnswersFails(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, dnsName := "http01-unreachable", "unreachable.example.org"
	// 127.0.0.2 is loopback too, but the worker serves HTTP-01 on 127.0.0.1 only.
	challtestsrv(t, "/add-a", map[string]any{"host": dnsName, "addresses": []string{"127.0.0.2"}})
	t.Cleanup(func() { challtestsrv(t, "/clear-a", map[string]any{"host": dnsName}) })
	createNamespace(t, ns)
	mustKubectl(t, acmetest.Issuer(env, "Issuer", "http01", acmetest.IngressSolver), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "http01")
	mustKubectl(t, acmetest.Certificate("unreachable", "Issuer", "http01", dnsName), "apply", "-n", ns, "-f", "-")

	var selfCheck string // a self-check reason naming the URL and what came back
	var token string
	reasons := map[string]bool{}
	var sawSolverObjects bool
	cert := acmetest.WaitCertificate(t, env, ns, "unreachable", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		cs, err := env.CertFlow.AcmeV1().Challenges(ns).List(context.Background(), metav1.ListOptions{})
		if err == nil {
			for _, ch := range cs.Items {
				token = ch.Spec.Token
				url := "http://" + dnsName + "/.well-known/acme-challenge/" + ch.Spec.Token
				r := ch.Status.Reason
				reasons[r] = true
				if strings.Contains(r, "Waiting for HTTP-01 challenge propagation") && strings.Contains(r, url) &&
					strings.Contains(r, "connection refused") && strings.Contains(r, "127.0.0.2") {
					selfCheck = r
				}
			}
		}
		sel := metav1.ListOptions{LabelSelector: acmev1.SolverIdentificationLabelKey + "=true"}
		if l, err := env.Kube.NetworkingV1().Ingresses(ns).List(context.Background(), sel); err == nil && len(l.Items) > 0 {
			if s, err := env.Kube.CoreV1().Services(ns).List(context.Background(), sel); err == nil && len(s.Items) > 0 {
				sawSolverObjects = true
			}
		}
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	if selfCheck == "" {
		t.Errorf("no Challenge reason showed the self-check URL and the refused connection while waiting; reasons seen: %q", keys(reasons))
	} else {
		t.Logf("self check while waiting: %s", selfCheck)
	}
	if !sawSolverObjects {
		t.Errorf("the solver Service and Ingress never appeared while the challenge was pending")
	}

	order := failedOrder(t, ns)
	if !strings.Contains(order.Status.Reason, dnsName) || !strings.Contains(order.Status.Reason, "urn:ietf:params:acme:error:connection") ||
		!strings.Contains(strings.ToLower(order.Status.Reason), "refused") {
		t.Errorf("Order %s reason %q: want Pebble's connection problem (refused) for %s", order.Name, order.Status.Reason, dnsName)
	}
	t.Logf("Order %s: %s", order.Name, order.Status.Reason)
	assertFailedIssuance(t, ns, cert, order.Status.Reason)

	assertNothingLeft(t, ns)
	if token == "" {
		t.Fatal("never saw the Challenge")
	}
	if _, ok := env.HTTP01Registry.Lookup(dnsName, token); ok {
		t.Errorf("the worker still serves token %s for %s", token, dnsName)
	}
}

// failedOrder returns the namespace's one Order, which must be invalid.
func failedOrder(t *testing.T, ns string) acmev1.Order {
	t.Helper()
	os := acmetest.Orders(t, env, ns)
	if len(os) != 1 {
		t.Fatalf("%d Orders in %s, want exactly 1: %s", len(os), ns, acmetest.DescribeACME(env, ns))
	}
	o := os[0]
	if o.Status.State != acmev1.Invalid || o.Status.URL == "" || len(o.Status.Certificate) != 0 {
		t.Errorf("Order %s: state %q url %q, %d certificate bytes; want invalid with a URL and no certificate",
			o.Name, o.Status.State, o.Status.URL, len(o.Status.Certificate))
	}
	return o
}

// assertFailedIssuance: the Certificate is not Ready, its Issuing=False Failed
// condition carries the order's reason, it counts one failed attempt with its time,
// and its CertificateRequest failed with the same reason.
func assertFailedIssuance(t *testing.T, ns string, cert *cmapi.Certificate, reason string) {
	t.Helper()
	if r := testkit.CertificateCondition(cert, cmapi.CertificateConditionReady); r == nil || r.Status != cmmeta.ConditionFalse {
		t.Errorf("Certificate %s: Ready = %+v, want False", cert.Name, r)
	}
	issuing := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing)
	if !strings.Contains(issuing.Message, reason) {
		t.Errorf("Certificate %s: Issuing message %q does not carry the order's reason %q", cert.Name, issuing.Message, reason)
	}
	if n := cert.Status.FailedIssuanceAttempts; n == nil || *n != 1 || cert.Status.LastFailureTime == nil {
		t.Errorf("Certificate %s: failedIssuanceAttempts %v, lastFailureTime %v; want 1 and a time", cert.Name, n, cert.Status.LastFailureTime)
	}
	if _, err := env.Kube.CoreV1().Secrets(ns).Get(context.Background(), cert.Spec.SecretName, metav1.GetOptions{}); err == nil {
		t.Errorf("Secret %s exists after a failed first issuance", cert.Spec.SecretName)
	}
	crs, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(crs.Items) != 1 {
		t.Fatalf("%d CertificateRequests in %s, want 1", len(crs.Items), ns)
	}
	cr := crs.Items[0]
	ready := acmetest.CertificateRequestReady(&cr)
	if ready == nil || ready.Status != cmmeta.ConditionFalse || ready.Reason != cmapi.CertificateRequestReasonFailed ||
		!strings.Contains(ready.Message, reason) || cr.Status.FailureTime == nil || len(cr.Status.Certificate) != 0 {
		t.Errorf("CertificateRequest %s: Ready %+v, failureTime %v, %d certificate bytes; want False Failed with the order's reason, a failure time and no certificate",
			cr.Name, ready, cr.Status.FailureTime, len(cr.Status.Certificate))
	}
}

// challengeReasons returns the status.reason of every Challenge in ns.
func challengeReasons(t *testing.T, ns string) []string {
	t.Helper()
	cs, err := env.CertFlow.AcmeV1().Challenges(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range cs.Items {
		out = append(out, c.Status.Reason)
	}
	return out
}

// challtestsrv posts to pebble-challtestsrv's management API (e.g. /add-a).
func challtestsrv(t *testing.T, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(env.Stack.ChallTestSrvURL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("challtestsrv %s: %v", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("challtestsrv %s: %s %s", path, resp.Status, msg)
	}
}

func createNamespace(t *testing.T, ns string) {
	t.Helper()
	if err := env.CreateNamespace(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// interceptTXT changes what the fake Cloudflare publishes to the DNS for the test's
// duration (see localstack.Stack.InterceptCloudflareTXT).
func interceptTXT(t *testing.T, f func(fqdn string, values []string) []string) {
	t.Helper()
	if err := env.Stack.InterceptCloudflareTXT(f); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stack.InterceptCloudflareTXT(nil); err != nil {
			t.Errorf("restore the fake Cloudflare's TXT publication: %v", err)
		}
	})
}

// cloudflareIssuer creates a Ready Issuer "cloudflare" with a DNS-01 Cloudflare solver.
func cloudflareIssuer(t *testing.T, ns string) {
	t.Helper()
	mustKubectl(t, acmetest.CloudflareTokenSecret("cloudflare-token"), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, acmetest.Issuer(env, "Issuer", "cloudflare", acmetest.CloudflareSolver("cloudflare-token")), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "cloudflare")
}
