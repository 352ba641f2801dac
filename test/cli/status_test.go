package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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

// caChain applies, in ns, a self-signed root CA, an intermediate CA signed by it and an
// Issuer of each, and waits for the intermediate's Issuer to be Ready: a leaf of
// "inter-ca" has the chain leaf, intermediate (tls.crt) and root (ca.crt).
func caChain(t *testing.T, ns string) {
	t.Helper()
	apply(t, ns, testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "root", CommonName: ns + " root", IsCA: true, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String(),
		testkit.CAIssuer("root-ca", "root-tls"),
		testkit.Cert{Name: "inter", CommonName: ns + " intermediate", IsCA: true, PrivateKey: "{algorithm: ECDSA}", Issuer: "root-ca",
			Extra: "  subject: {organizations: [certflow tests], countries: [FR]}\n"}.String(),
		testkit.CAIssuer("inter-ca", "inter-tls"))
	testkit.WaitIssuerReady(t, sys.CertFlow, ns, "inter-ca", 90*time.Second)
}

// status certificate of a CA-issued Certificate: the Kubernetes side (conditions,
// issuer, the Secret's certificate, dates, the request, Events) and the workflow's
// (run, phase, the renewal it waits for, a Web UI link).
func TestStatusCertificateCA(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-status-ca"
	caChain(t, ns)
	apply(t, ns, testkit.Cert{Name: "web", DNSNames: []string{"web.cli-status.example.com", "www.cli-status.example.com"},
		PrivateKey: "{algorithm: ECDSA}", Issuer: "inter-ca", Extra: "  usages: [digital signature, server auth, client auth]\n"}.String())
	cert := testkit.WaitCertificateReady(t, sys.CertFlow, ns, "web", 90*time.Second)
	_, leaf := testkit.ReadTLSSecret(t, sys.Kube, ns, "web-tls")
	ts := func(t *metav1.Time) string { return t.UTC().Format(time.RFC3339) }

	uiURL := sys.Stack.TemporalUIURL
	r := kubectlCertManager(t, []string{"CERTFLOW_TEMPORAL_UI_URL=" + uiURL}, "status", "certificate", "web", "-n", ns)
	if r.err != nil {
		t.Fatalf("status certificate:\n%s", r)
	}
	id := "certificate/" + ns + "/web"
	wantAll(t, "status certificate", r.stdout,
		"Name: web\nNamespace: "+ns+"\nCreated at: "+ts(&cert.CreationTimestamp)+"\n",
		"  Ready: True, Reason: Ready, Message: ",
		"DNS Names:\n- web.cli-status.example.com\n- www.cli-status.example.com\n",
		"Issuer:\n  Name: inter-ca\n  Kind: Issuer\n  Conditions:\n    Ready: True, Reason: KeyPairVerified",
		"Secret:\n  Name: web-tls\n  Type: kubernetes.io/tls\n  Issuer Country: FR\n  Issuer Organisation: certflow tests\n  Issuer Common Name: "+ns+" intermediate\n",
		"  Key Usage: Digital Signature\n  Extended Key Usages: Server Authentication, Client Authentication\n  Public Key Algorithm: ECDSA\n  Signature Algorithm: ECDSA-SHA256\n",
		"  Subject Key ID: "+hex.EncodeToString(leaf.SubjectKeyId)+"\n  Authority Key ID: "+hex.EncodeToString(leaf.AuthorityKeyId)+"\n",
		"  Serial Number: "+hex.EncodeToString(leaf.SerialNumber.Bytes())+"\n",
		"  Not Before: "+leaf.NotBefore.UTC().Format(time.RFC3339)+"\n  Not After: "+leaf.NotAfter.UTC().Format(time.RFC3339)+"\n",
		"\nNot Before: "+ts(cert.Status.NotBefore)+"\nNot After: "+ts(cert.Status.NotAfter)+"\nRenewal Time: "+ts(cert.Status.RenewalTime)+"\nRevision: 1\n",
		"CertificateRequest:\n  Name: web-1\n  Namespace: "+ns+"\n  Conditions:\n",
		"    Ready: True, Reason: Issued",
		"    Approved: True",
		"Workflow:\n  ID: "+id+"\n  Run ID: ",
		"  Execution Status: Running\n  Phase: Ready\n  Waiting for: renewal at "+ts(cert.Status.RenewalTime)+"\n  Until: "+ts(cert.Status.RenewalTime)+" (in ",
		"  Web UI: "+uiURL+"/namespaces/"+sys.Stack.TemporalNamespace+"/workflows/"+url.PathEscape(id)+"\n",
	)
	// The Certificate's Events, in cmctl's table, with the Issued one.
	events := r.stdout[strings.Index(r.stdout, "Events:"):strings.Index(r.stdout, "Issuer:")]
	wantAll(t, "the Certificate's Events", events, "Type", "Reason", "Age", "From", "Message", "Normal", "Issuing", "certflow")
	if strings.Contains(r.stdout, "Order:") || strings.Contains(r.stdout, "Error:") {
		t.Errorf("status of a CA Certificate shows an Order or an error:\n%s", r.stdout)
	}

	// With Temporal unreachable, the Kubernetes part is all there, the Workflow section
	// says why it is not, and the exit status is 0.
	r = kubectlCertManager(t, []string{"TEMPORAL_ADDRESS=127.0.0.1:1"}, "status", "certificate", "web", "-n", ns)
	if r.err != nil {
		t.Fatalf("status certificate with Temporal unreachable:\n%s", r)
	}
	wantAll(t, "status with Temporal unreachable", r.stdout,
		"  Ready: True, Reason: Ready", "Issuer:\n  Name: inter-ca", "Issuer Common Name: "+ns+" intermediate",
		"  Serial Number: "+hex.EncodeToString(leaf.SerialNumber.Bytes())+"\n",
		"Renewal Time: "+ts(cert.Status.RenewalTime), "CertificateRequest:\n  Name: web-1",
		"Workflow:\n  ID: "+id+"\n  Error: Temporal at 127.0.0.1:1 is unreachable: ")
	if strings.Contains(r.stdout, "Phase:") {
		t.Errorf("status with Temporal unreachable shows a phase:\n%s", r.stdout)
	}

	// Bad input: clear errors, non-zero exit.
	r = kubectlCertManager(t, nil, "status", "certificate", "nothing", "-n", ns)
	if r.err == nil || !strings.Contains(r.stderr, `certificates.cert-manager.io "nothing" not found`) {
		t.Errorf("status of a missing Certificate:\n%s", r)
	}
	r = kubectlCertManager(t, nil, "status", "certificate", "-n", ns)
	if r.err == nil || !strings.Contains(r.stderr, "the name of the Certificate has to be provided as argument") {
		t.Errorf("status without a name:\n%s", r)
	}
}

// status certificate of an ACME Certificate mid-challenge names the Order, its
// authorization, the Challenge and the Challenge's reason (the self check failing);
// once Pebble has refused it, the Order's reason and the workflow's backoff.
func TestStatusCertificateACMEChallenge(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-status-acme"
	const dnsName = "stuck.cli-status.example.org"
	// 127.0.0.2 is loopback too, but the worker serves HTTP-01 on 127.0.0.1 only: the
	// self check fails until the self-check timeout, then Pebble fails the challenge.
	challtestsrv(t, "/add-a", map[string]any{"host": dnsName, "addresses": []string{"127.0.0.2"}})
	t.Cleanup(func() { challtestsrv(t, "/clear-a", map[string]any{"host": dnsName}) })
	apply(t, ns, string(acmetest.Issuer(sys, "Issuer", "http01", acmetest.IngressSolver)))
	acmetest.WaitIssuerReady(t, sys, ns, "http01")
	apply(t, ns, string(acmetest.Certificate("stuck", "Issuer", "http01", dnsName)))

	// While the Challenge's self check fails, status shows it with its reason.
	var sawMidChallenge bool
	testkit.Eventually(t, 90*time.Second, "status naming the Order and the Challenge with its self-check reason", func() (bool, string) {
		ch := currentChallenge(t, ns)
		if ch == nil || !strings.Contains(ch.Status.Reason, "Waiting for HTTP-01 challenge propagation") {
			return false, "no Challenge failing its self check yet"
		}
		r := mustRun(t, "status", "certificate", "stuck", "-n", ns)
		orders, err := sys.CertFlow.AcmeV1().Orders(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(orders.Items) != 1 {
			return false, "orders: " + r.stdout
		}
		o := orders.Items[0]
		line := challengeLine(r.stdout, ch.Name)
		url := "http://" + dnsName + "/.well-known/acme-challenge/" + ch.Spec.Token
		chWorkflow := "  Challenge Workflow: challenge/" + ns + "/" + ch.Name + "\n"
		if !strings.Contains(line, "Reason: Waiting for HTTP-01 challenge propagation") || !strings.Contains(line, url) ||
			!strings.Contains(r.stdout, chWorkflow) || !strings.Contains(r.stdout[strings.Index(r.stdout, chWorkflow):], "    Waiting for: self check\n") {
			return false, "Challenge " + ch.Name + " and its workflow not shown in the self check:\n" + r.stdout
		}
		wantAll(t, "status mid-challenge", r.stdout,
			"CertificateRequest:\n  Name: stuck-1\n",
			"Order:\n  Name: "+o.Name+"\n  State: ",
			", Identifier: "+dnsName+", Initial State: pending, Wildcard: false\n",
			"Workflow:\n  ID: certificate/"+ns+"/stuck\n", "  Phase: Issuing\n",
			"  Order Workflow: order/"+ns+"/"+o.Name+"\n")
		wantAll(t, "the Challenge's line", line, "Type: HTTP-01", "Token: "+ch.Spec.Token, "Key: "+ch.Spec.Key, "127.0.0.2", "Presented: true")
		t.Logf("status mid-challenge:\n%s", r.stdout)
		sawMidChallenge = true
		return true, ""
	})
	if !sawMidChallenge {
		return
	}

	// Pebble refuses the challenge: the Order is invalid with its words, the workflow
	// backs off with the same error.
	failed := acmetest.WaitCertificate(t, sys, ns, "stuck", 90*time.Second, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	testkit.Eventually(t, 30*time.Second, "status of the failed Certificate", func() (bool, string) {
		r := mustRun(t, "status", "certificate", "stuck", "-n", ns)
		ok := strings.Contains(r.stdout, "  State: invalid, Reason: ") && strings.Contains(r.stdout, "urn:ietf:params:acme:error:connection") &&
			strings.Contains(r.stdout, "  Phase: Backoff\n") && strings.Contains(r.stdout, "  Last Error: ") &&
			strings.Contains(r.stdout, "Failed Issuance Attempts: 1 (last at "+failed.Status.LastFailureTime.UTC().Format(time.RFC3339)+")")
		if ok {
			t.Logf("status after the failure:\n%s", r.stdout)
		}
		return ok, r.stdout
	})
}

// currentChallenge returns the namespace's Challenge, or nil.
func currentChallenge(t *testing.T, ns string) *acmev1.Challenge {
	t.Helper()
	l, err := sys.CertFlow.AcmeV1().Challenges(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(l.Items) == 0 {
		return nil
	}
	return &l.Items[0]
}

// challengeLine is status's line about Challenge name, or "".
func challengeLine(out, name string) string {
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "- Name: "+name+",") {
			return l
		}
	}
	return ""
}

// challtestsrv posts to pebble-challtestsrv's management API (e.g. /add-a).
func challtestsrv(t *testing.T, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(sys.Stack.ChallTestSrvURL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("challtestsrv %s: %v", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("challtestsrv %s: %s %s", path, resp.Status, msg)
	}
}
