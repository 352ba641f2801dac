package acme

// ACME Renewal Information (RFC 9773) against Pebble: a certificate is renewed when
// its window says (moved through Pebble's management API, well before 2/3 of its
// life), and the new order names the certificate it replaces; a certificate revoked
// through the ACME API is renewed within a minute, with a Warning naming why; an
// issuer with renewalInformationSource None renews at the usual time.
//
// Pebble answers renewalInfo with Retry-After 6 h: the suite's worker reads the window
// again at least every renewalInfoMaxRecheck (--acme-renewal-info-max-recheck; the
// workflow's floor, policy.ARIMinRecheck, makes that 30 s), as a user who wants a
// revocation seen sooner would set it. Nothing else makes the Certificate look again.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmekeys "github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/policy"
	"github.com/certflow/certflow/test/acme/acmetest"
	"github.com/certflow/certflow/workflows"
)

// renewalInfoMaxRecheck is the suite's worker's --acme-renewal-info-max-recheck.
const renewalInfoMaxRecheck = 15 * time.Second

func TestARIRenewsWhenTheWindowSays(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, name := "ari-window", "ari-window"
	createNamespace(t, ns)
	cloudflareIssuerWithProfile(t, ns, "")
	mustKubectl(t, certificateManifest(name, "", []string{"ari-window.example.org"}), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, name, 3*time.Minute)
	leaf := secretLeaf(t, ns, cert.Spec.SecretName)
	certID, err := policy.ARICertID(leaf.AuthorityKeyId, leaf.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}

	// Pebble's own window (about 2/3 of the life, a day either side) sets the renewal
	// time, and the status says so.
	cert = acmetest.WaitCertificate(t, env, ns, name, time.Minute, "a renewal time from the renewal info window", func(c *cmapi.Certificate) bool {
		return c.Status.RenewalTime != nil && strings.Contains(renewalRule(t, ns, name), "the ACME server's renewal info window")
	})
	if hasEvent(t, ns, name, workflows.ReasonRenewalInfo, "") {
		t.Errorf("a RenewalInfo Event for the first window (no news: the status query names it): %q", certificateEvents(t, ns, name))
	}
	twoThirds := policy.RenewalTime(leaf.NotBefore, leaf.NotAfter, nil, nil)
	if rt := cert.Status.RenewalTime.Time; rt.Before(twoThirds.Add(-25*time.Hour)) || rt.After(twoThirds.Add(25*time.Hour)) {
		t.Errorf("renewal time %v, want within Pebble's window around %v", rt, twoThirds)
	}

	// Move the window to a minute from now (a renewal is never sooner than
	// policy.ARIEarliestRenewal after the issuance): renewed then, not at 2/3 of the 90 days.
	start := time.Now().UTC().Add(policy.ARIEarliestRenewal + 10*time.Second)
	end := start.Add(20 * time.Second)
	setRenewalInfo(t, leaf.Raw, fmt.Sprintf(`{"suggestedWindow": {"start": %q, "end": %q}, "explanationURL": "https://pebble.example/window-moved"}`,
		start.Format(time.RFC3339), end.Format(time.RFC3339)))
	renewed := acmetest.WaitCertificate(t, env, ns, name, 2*time.Minute, "renewed in the moved window", func(c *cmapi.Certificate) bool {
		return c.Status.Revision != nil && *c.Status.Revision >= 2
	})
	next := secretLeaf(t, ns, renewed.Spec.SecretName)
	// Pebble backdates nothing; allow the issuance's own seconds after the window.
	if next.NotBefore.Before(start.Add(-time.Second)) || next.NotBefore.After(end.Add(30*time.Second)) {
		t.Errorf("renewed certificate valid from %v, want issued in the window [%v, %v]", next.NotBefore, start, end)
	}
	if !hasEvent(t, ns, name, workflows.ReasonRenewalInfo, "https://pebble.example/window-moved") {
		t.Errorf("no RenewalInfo Event names the moved window's explanation: %q", certificateEvents(t, ns, name))
	}
	if !orderReplaces(t, ns, certID) {
		t.Errorf("no Order replaces %s", certID)
	}
}

func TestARIRenewsAfterRevocation(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, name := "ari-revoked", "ari-revoked"
	createNamespace(t, ns)
	cloudflareIssuerWithProfile(t, ns, "")
	mustKubectl(t, certificateManifest(name, "", []string{"ari-revoked.example.org"}), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, name, 3*time.Minute)
	acmetest.WaitCertificate(t, env, ns, name, time.Minute, "the renewal info window read", func(*cmapi.Certificate) bool {
		return strings.Contains(renewalRule(t, ns, name), "renewal info window")
	})
	leaf := secretLeaf(t, ns, cert.Spec.SecretName)

	revokeAsAccount(t, ns, "cloudflare", leaf.Raw)
	revoked := time.Now()
	acmetest.WaitCertificate(t, env, ns, name, 90*time.Second, "renewed after the revocation", func(c *cmapi.Certificate) bool {
		return c.Status.Revision != nil && *c.Status.Revision >= 2
	})
	if d := time.Since(revoked); d > time.Minute+20*time.Second {
		t.Errorf("renewed %v after the revocation, want within a minute (and the issuance)", d)
	}
	if !hasEventOfType(t, ns, name, corev1.EventTypeWarning, workflows.ReasonRenewalInfo, "renewing now") {
		t.Errorf("no Warning RenewalInfo Event says why: %q", certificateEvents(t, ns, name))
	}
}

func TestARITurnedOffRenewsAtTheUsualTime(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, name := "ari-off", "ari-off"
	createNamespace(t, ns)
	mustKubectl(t, acmetest.CloudflareTokenSecret("cloudflare-token"), "apply", "-n", ns, "-f", "-")
	issuer := acmetest.Issuer(env, "Issuer", "cloudflare", acmetest.CloudflareSolver("cloudflare-token"))
	issuer = []byte(strings.Replace(string(issuer), "  acme:\n", "  acme:\n    renewalInformationSource: None\n", 1))
	mustKubectl(t, issuer, "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "cloudflare")
	mustKubectl(t, certificateManifest(name, "", []string{"ari-off.example.org"}), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, name, 3*time.Minute)
	leaf := secretLeaf(t, ns, cert.Spec.SecretName)
	want := policy.RenewalTime(leaf.NotBefore, leaf.NotAfter, nil, nil)
	if cert.Status.RenewalTime == nil || !cert.Status.RenewalTime.Time.Equal(want) {
		t.Errorf("renewal time %v, want 2/3 of the life: %v", cert.Status.RenewalTime, want)
	}
	if hasEvent(t, ns, name, workflows.ReasonRenewalInfo, "") {
		t.Errorf("an issuer with renewal information off wrote RenewalInfo Events: %q", certificateEvents(t, ns, name))
	}
}

// renewalRule is what the Certificate's workflow says set its renewal time (its
// status query), "" while the query fails.
func renewalRule(t *testing.T, ns, name string) string {
	t.Helper()
	v, err := env.Temporal.QueryWorkflow(context.Background(), workflows.CertificateWorkflowID(ns, name), "", workflows.QueryStatus)
	if err != nil {
		return ""
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		return ""
	}
	return st.RenewalRule
}

// setRenewalInfo sets Pebble's renewalInfo answer for a certificate (management API).
func setRenewalInfo(t *testing.T, der []byte, answer string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{
		"Certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), "ARIResponse": answer,
	})
	hc := env.Stack.ACMEHTTPClient()
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(env.Stack.PebbleManagementURL+"/set-renewal-info/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set-renewal-info: %s", resp.Status)
	}
}

// revokeAsAccount revokes a certificate through the ACME API, signed by the issuer's
// account key (read from its Secret).
func revokeAsAccount(t *testing.T, ns, issuerName string, der []byte) {
	t.Helper()
	ctx := context.Background()
	iss, err := env.CertFlow.CertmanagerV1().Issuers(ns).Get(ctx, issuerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if iss.Status.ACME == nil || iss.Status.ACME.URI == "" {
		t.Fatalf("Issuer %s/%s has no ACME account URI", ns, issuerName)
	}
	s, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, issuerName+"-account", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := acmekeys.ParsePrivateKeyPEM(s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	hc := env.Stack.ACMEHTTPClient()
	defer hc.CloseIdleConnections()
	core, err := api.New(hc, "certflow-test", env.Stack.ACMEDirectoryURL, iss.Status.ACME.URI, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Certificates.Revoke(legoacme.RevokeCertMessage{Certificate: base64.RawURLEncoding.EncodeToString(der)}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
}

func hasEvent(t *testing.T, ns, name, reason, contains string) bool {
	return hasEventOfType(t, ns, name, "", reason, contains)
}

func hasEventOfType(t *testing.T, ns, name, typ, reason, contains string) bool {
	t.Helper()
	l, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Items {
		if e.Reason == reason && (typ == "" || e.Type == typ) && strings.Contains(e.Message, contains) {
			return true
		}
	}
	return false
}

func orderReplaces(t *testing.T, ns, certID string) bool {
	for _, o := range acmetest.Orders(t, env, ns) {
		if o.Spec.Replaces == certID {
			return true
		}
	}
	return false
}
