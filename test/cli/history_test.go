package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/starter/history"
	"github.com/certflow/certflow/workflows"
)

// caKeyPair is a CA Secret made by hand (as a person brings their own CA): certflow
// does not watch it, so deleting it is a failure the issuance meets.
func caKeyPair(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "history test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		},
	}
}

// A Certificate renewed three times by `kubectl cert-manager renew`, with a failure in
// between (its CA Secret deleted as its spec changed, then restored): the history tells
// every issuance with its revision and trigger, the failure in the signer's words, the
// backoff until its end, the spec change and who asked for the renewals, in order;
// -o json carries the same facts.
func TestHistoryCertificate(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-history"
	ctx := context.Background()
	testkit.CreateNamespace(t, sys.Kube, ns)
	ca := caKeyPair(t, ns, "hist-ca")
	if _, err := sys.Kube.CoreV1().Secrets(ns).Create(ctx, ca.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := testkit.Cert{Name: "web", DNSNames: []string{"web.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "ca"}
	apply(t, ns, testkit.CAIssuer("ca", "hist-ca"), web.String())
	testkit.WaitRevision(t, sys.CertFlow, ns, "web", 1, 90*time.Second)

	var lastRenew time.Time
	renew := func(rev int) {
		t.Helper()
		// A renewal is known by its condition's time, in seconds: one asked for in the
		// same second as the one before would be taken for it.
		testkit.Eventually(t, 5*time.Second, "a new second for the next renewal", func() (bool, string) {
			return time.Now().UTC().Truncate(time.Second).After(lastRenew), ""
		})
		mustRun(t, "renew", "web", "-n", ns)
		lastRenew = time.Now().UTC().Truncate(time.Second)
		testkit.WaitRevision(t, sys.CertFlow, ns, "web", rev, 90*time.Second)
	}
	renew(2)
	renew(3)

	// The CA's Secret goes, and the spec changes: the issuance it asks for fails, and
	// backs off.
	if err := sys.Kube.CoreV1().Secrets(ns).Delete(ctx, "hist-ca", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	web.DNSNames = append(web.DNSNames, "www.example.com")
	apply(t, ns, web.String())
	failed := testkit.WaitCertificate(t, sys.CertFlow, ns, "web", 90*time.Second, "a failed issuance", func(c *cmapi.Certificate) bool {
		return c.Status.FailedIssuanceAttempts != nil && *c.Status.FailedIssuanceAttempts >= 1 && c.Status.LastFailureTime != nil
	})
	backoffUntil := failed.Status.LastFailureTime.Add(time.Hour).UTC().Format(time.RFC3339)
	id := workflows.CertificateWorkflowID(ns, "web")
	testkit.Eventually(t, 60*time.Second, "the workflow in backoff", func() (bool, string) {
		r := kubectlCertManager(t, nil, "history", "certificate", "web", "-n", ns)
		return strings.Contains(r.stdout, "until "+backoffUntil), r.String()
	})

	// Restored, the issuer is Ready again, and a renewal ends the backoff.
	if _, err := sys.Kube.CoreV1().Secrets(ns).Create(ctx, ca.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitIssuerReady(t, sys.CertFlow, ns, "ca", 2*time.Minute)
	renew(4)
	renew(5)

	r := mustRun(t, "history", "certificate", "web", "-n", ns)
	out := columns.ReplaceAllString(r.stdout, " ")
	t.Logf("history:\n%s", out)
	wantAll(t, "history", out, "History of Certificate "+ns+"/web (workflow "+id)
	// The facts, in the order they happened.
	wantInOrder(t, out,
		"Issued revision 1 (DoesNotExist: Issuing certificate as Secret does not exist)",
		"RenewRequested ManuallyTriggered by kubectl-cert-manager via ",
		"Issued revision 2 (ManuallyTriggered: Certificate re-issuance manually triggered) in ",
		"Issued revision 3 (ManuallyTriggered",
		"SpecChanged generation 2",
		"Failed revision 4 (",
		"attempt 1 failed: IssueWithinTask: CA Secret "+ns+"/hist-ca not found", // the issuance in one step
		"Backoff after 1 failed attempt(s) until "+backoffUntil,
		"IssuerChanged issuer is ready",
		"RenewRequested ManuallyTriggered by kubectl-cert-manager",
		"Issued revision 4 (",
		"Issued revision 5 (ManuallyTriggered",
		"RenewalScheduled renewal until ",
	)
	leaf := readLeaf(t, ns, "web-tls")
	wantAll(t, "history", out, fmt.Sprintf("serial %x notAfter %s", leaf.SerialNumber, leaf.NotAfter.UTC().Format(time.RFC3339)))

	r = mustRun(t, "history", "certificate", "web", "-n", ns, "-o", "json")
	var facts []history.Fact
	if err := json.Unmarshal([]byte(r.stdout), &facts); err != nil {
		t.Fatalf("-o json is no array of facts: %v\n%s", err, r.stdout)
	}
	var issued []string
	var failures, backoffs, asked int
	for _, f := range facts {
		switch f.Kind {
		case history.KindIssued:
			issued = append(issued, fmt.Sprintf("%d %s", f.Revision, f.Reason))
			if f.DurationMillis == nil || f.NotAfter == nil || f.Serial == "" {
				t.Errorf("issuance without duration, notAfter or serial: %+v", f)
			}
		case history.KindFailed:
			failures++
			if f.Revision != 4 || f.Step != "IssueWithinTask" || !strings.Contains(f.Message, "hist-ca not found") {
				t.Errorf("failure: %+v", f)
			}
		case history.KindBackoff:
			backoffs++
			if f.Until == nil || f.Until.UTC().Format(time.RFC3339) != backoffUntil {
				t.Errorf("backoff until %v, want %s", f.Until, backoffUntil)
			}
		case history.KindRenewRequested:
			if f.By == conventions.CLIFieldManager {
				asked++
			}
		}
	}
	want := []string{"1 DoesNotExist", "2 ManuallyTriggered", "3 ManuallyTriggered", "4 ", "5 ManuallyTriggered"}
	if len(issued) != len(want) {
		t.Fatalf("-o json issuances %q, want %q", issued, want)
	}
	for i := range want {
		if !strings.HasPrefix(issued[i], want[i]) {
			t.Errorf("-o json issuance %d is %q, want %q", i, issued[i], want[i])
		}
	}
	if failures != 1 || backoffs != 1 || asked != 4 {
		t.Errorf("-o json: %d failures, %d backoffs, %d renewals asked by the CLI; want 1, 1, 4", failures, backoffs, asked)
	}

	// Renewed until its run is long enough to continue as new at the wake-up after an
	// issuance (the renewals so far went on in one run): read from the newest run only,
	// the history says so.
	firstRun := runID(t, id)
	rev := 5
	for runID(t, id) == firstRun {
		if rev == 40 {
			t.Fatalf("the workflow's run %s did not continue as new in %d renewals", firstRun, rev)
		}
		rev++
		renew(rev)
	}
	r = mustRun(t, "history", "certificate", "web", "-n", ns, "--max-runs", "1")
	wantAll(t, "history --max-runs 1", columns.ReplaceAllString(r.stdout, " "), "(workflow "+id+", 1 run(s))",
		"HistoryIncomplete older runs not read: stopped after --max-runs 1",
		fmt.Sprintf("Started workflow started at revision %d generation 2 (continued from an earlier run that is not shown)", rev-1),
		fmt.Sprintf("Issued revision %d (ManuallyTriggered", rev))

	// A workflow terminated in the UI, then started again by a renewal: both chains,
	// the one before found in Temporal's visibility.
	if err := sys.Temporal.TerminateWorkflow(ctx, id, "", "history test"); err != nil {
		t.Fatal(err)
	}
	renew(rev + 1)
	testkit.Eventually(t, 30*time.Second, "both chains in the history", func() (bool, string) {
		r := kubectlCertManager(t, nil, "history", "certificate", "web", "-n", ns)
		out := columns.ReplaceAllString(r.stdout, " ")
		return strings.Contains(out, "Issued revision 1 (") && strings.Contains(out, "WorkflowEnded Terminated history test by ") &&
			strings.Contains(out, fmt.Sprintf("Issued revision %d (ManuallyTriggered", rev+1)), r.String()
	})
	r = mustRun(t, "history", "certificate", "web", "-n", ns)
	wantInOrder(t, columns.ReplaceAllString(r.stdout, " "),
		fmt.Sprintf("Issued revision %d (", rev),
		"WorkflowEnded Terminated history test by ",
		fmt.Sprintf("Started workflow started at revision %d generation 2 by ", rev),
		"RenewRequested ManuallyTriggered by kubectl-cert-manager",
		fmt.Sprintf("Issued revision %d (ManuallyTriggered: Certificate re-issuance manually triggered) in ", rev+1))

	// A Certificate without a workflow, and Temporal out of reach, are clear errors.
	r = kubectlCertManager(t, nil, "history", "certificate", "nothing", "-n", ns)
	if r.err == nil || !strings.Contains(r.stderr, "no workflow certificate/"+ns+"/nothing") {
		t.Errorf("history of a Certificate that does not exist:\n%s", r)
	}
	r = kubectlCertManager(t, []string{"TEMPORAL_ADDRESS=127.0.0.1:1"}, "history", "certificate", "web", "-n", ns)
	if r.err == nil || !strings.Contains(r.stderr, "needs") || !strings.Contains(r.stderr, "unreachable") {
		t.Errorf("history with Temporal unreachable:\n%s", r)
	}
}

// columns is the padding between the text output's columns.
var columns = regexp.MustCompile(` {2,}`)

// wantInOrder fails the test unless out holds each of wants, each after the one before.
func wantInOrder(t *testing.T, out string, wants ...string) {
	t.Helper()
	rest := out
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("history lacks %q after the facts before it:\n%s", w, out)
			return
		}
		rest = rest[i+len(w):]
	}
}

// readLeaf is the certificate in the Secret.
func readLeaf(t *testing.T, ns, name string) *x509.Certificate {
	t.Helper()
	_, leaf := testkit.ReadTLSSecret(t, sys.Kube, ns, name)
	return leaf
}

// runID is the current run of workflow id.
func runID(t *testing.T, id string) string {
	t.Helper()
	d, err := sys.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}
