// Package approval tests manual approval of CertificateRequests with the internal
// approver disabled, on the real stack (skips only when CERTFLOW_INTEGRATION is unset).
package approval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/workflows"
)

var sys *testkit.System

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	var err error
	sys, err = testkit.Start(context.Background(), testkit.Options{DisableApprover: true, Namespaces: []string{"approval"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "approval setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	sys.Stop(code != 0)
	if starterPath != "" { // the starter built for the tests (88 MB) is not left in $TMPDIR
		os.RemoveAll(filepath.Dir(starterPath))
	}
	os.Exit(code)
}

const ns = "approval"

func apply(t *testing.T, manifest string) {
	t.Helper()
	if out, err := sys.Kubectl([]byte(manifest), "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// starter runs the operator CLI against the test system.
func starter(t *testing.T, args ...string) string {
	t.Helper()
	cmd := starterCommand(args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("starter %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestApproveWithStarterAndDenyWithKubectl(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	apply(t, string(testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"), testkit.Cert{Name: "approved", DNSNames: []string{"approved.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String(), testkit.Cert{Name: "denied", DNSNames: []string{"denied.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String())))
	for _, name := range []string{"approved", "denied"} {
		waitRequestWaiting(t, name+"-1")
		st := workflowStatus(t, name)
		if st.Phase != workflows.PhaseWaitingForApproval {
			t.Errorf("%s workflow phase = %q, want %q", name, st.Phase, workflows.PhaseWaitingForApproval)
		}
		if _, err := sys.Kube.CoreV1().Secrets(ns).Get(context.Background(), name+"-tls", metav1.GetOptions{}); err == nil {
			t.Errorf("Secret %s-tls exists before approval", name)
		}
	}

	out := starter(t, "approve", "approved-1", "-n", ns, "--reason", "Reviewed", "--message", "looks fine")
	if !strings.Contains(out, "approved") {
		t.Errorf("starter approve said %q", out)
	}
	waitFor(t, "Certificate approved Ready", func() (bool, string) {
		c, err := sys.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), "approved", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == cmapi.CertificateConditionReady {
				return cond.Status == cmmeta.ConditionTrue, cond.Message
			}
		}
		return false, "no Ready condition"
	})
	cr := testkit.GetRequest(t, sys.CertFlow, ns, "approved-1")
	if cond := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionApproved); cond == nil || cond.Reason != "Reviewed" || cond.Message != "looks fine" {
		t.Errorf("Approved condition = %+v, want reason Reviewed from starter", cond)
	}
	if ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady); ready == nil || ready.Reason != cmapi.CertificateRequestReasonIssued || len(cr.Status.Certificate) == 0 {
		t.Errorf("approved request not Issued with a certificate: %+v", cr.Status)
	}
	if cr.Annotations[cmapi.CertificateRequestRevisionAnnotationKey] != "1" || cr.Annotations[cmapi.CertificateNameKey] != "approved" ||
		cr.Annotations[cmapi.CertificateRequestPrivateKeyAnnotationKey] != "approved-next-key" || len(cr.OwnerReferences) != 1 {
		t.Errorf("request annotations/owner: %v %v", cr.Annotations, cr.OwnerReferences)
	}

	// Deny by setting the condition with kubectl, as any client may.
	now := time.Now().UTC().Format(time.RFC3339)
	patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Denied","status":"True","reason":"Policy","message":"not allowed","lastTransitionTime":%q}]}}`, now)
	if out, err := sys.Kubectl(nil, "patch", "certificaterequest", "denied-1", "-n", ns, "--subresource=status", "--type=merge", "-p", patch); err != nil {
		t.Fatalf("kubectl patch: %v\n%s", err, out)
	}
	waitFor(t, "Certificate denied failed with backoff", func() (bool, string) {
		c, err := sys.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), "denied", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == cmapi.CertificateConditionIssuing {
				return cond.Status == cmmeta.ConditionFalse && cond.Reason == "Failed" && strings.Contains(cond.Message, "denied") &&
					c.Status.FailedIssuanceAttempts != nil && *c.Status.FailedIssuanceAttempts == 1 && c.Status.LastFailureTime != nil, cond.Message
			}
		}
		return false, "no Issuing condition"
	})
	cr = testkit.GetRequest(t, sys.CertFlow, ns, "denied-1")
	if ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady); ready == nil || ready.Reason != cmapi.CertificateRequestReasonDenied || cr.Status.FailureTime == nil {
		t.Errorf("denied request: %+v", cr.Status)
	}
	waitFor(t, "the denied workflow backing off for about an hour", func() (bool, string) {
		st := workflowStatus(t, "denied")
		return st.Phase == workflows.PhaseBackoff && st.Until != nil && time.Until(*st.Until) > 50*time.Minute, fmt.Sprintf("%+v", st)
	})
}

func waitRequestWaiting(t *testing.T, name string) {
	t.Helper()
	waitFor(t, "CertificateRequest "+name+" WaitingForApproval", func() (bool, string) {
		cr, err := sys.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady)
		return ready != nil && ready.Reason == cmapi.ReasonWaitingForApproval && strings.Contains(ready.Message, "kubectl cert-manager approve "+name), fmt.Sprintf("%+v", cr.Status)
	})
}

func workflowStatus(t *testing.T, cert string) workflows.Status {
	t.Helper()
	v, err := sys.Temporal.QueryWorkflow(context.Background(), workflows.CertificateWorkflowID(ns, cert), "", workflows.QueryStatus)
	if err != nil {
		t.Fatalf("status query: %v", err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, what, cond)
}
