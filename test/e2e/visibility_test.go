package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// What an operator sees: upstream's Events on the Certificate, the Temporal UI's list
// filtered by our search attributes, `starter status certificate` and `starter renew`.
func TestVisibilityAndStarter(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "visible"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: shown, labels: {team: web}}
spec:
  secretName: shown-tls
  dnsNames: [shown.example.com]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned}
`), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "shown", 1)

	events, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// One Event says the issuance's steps, in order, as upstream's four would.
	var said []string
	for _, e := range events.Items {
		if e.InvolvedObject.Kind == "Certificate" && e.InvolvedObject.Name == "shown" {
			said = append(said, e.Type+" "+e.Reason+": "+e.Message)
		}
	}
	// Issued in one step: no temporary Secret for the key.
	want := regexp.MustCompile(`^Normal Issued: Issuing certificate as Secret does not exist\. ` +
		`Created new CertificateRequest resource "shown-1"\. The certificate has been successfully issued$`)
	if len(said) != 1 || !want.MatchString(said[0]) {
		t.Errorf("Events on the Certificate %q, want one matching %s", said, want)
	}

	eventually(t, 15*time.Second, "the workflow listed by its search attributes", func() (bool, string) {
		resp, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("CertNamespace = '%s' AND CertName = 'shown' AND IssuerName = 'selfsigned' AND CertState = 'Ready' AND ExecutionStatus = 'Running'", ns),
		})
		if err != nil {
			return false, err.Error()
		}
		return len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == "certificate/visible/shown", fmt.Sprintf("%d executions", len(resp.Executions))
	})

	out := runStarter(t, "status", "certificate", "shown", "-n", ns)
	for _, want := range []string{"Ready: True", "Issuer:", "selfsigned", "shown-tls", "kubernetes.io/tls", "CertificateRequest:", "shown-1", "certificate/visible/shown", "Phase:", "Ready", "renewal at"} {
		if !strings.Contains(out, want) {
			t.Errorf("starter status output lacks %q:\n%s", want, out)
		}
	}

	out = runStarter(t, "renew", "-n", ns, "-l", "team=web")
	if !strings.Contains(out, "visible/shown") {
		t.Errorf("starter renew -l said %q", out)
	}
	waitRevision(t, ns, "shown", 2)
	out = runStarter(t, "renew", "shown", "-n", ns)
	if !strings.Contains(out, "visible/shown") {
		t.Errorf("starter renew said %q", out)
	}
	waitRevision(t, ns, "shown", 3)
	// revisionHistoryLimit defaults to 1: only the request of the current revision is left.
	crs, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(crs.Items) != 1 || crs.Items[0].Name != "shown-3" {
		var names []string
		for _, cr := range crs.Items {
			names = append(names, cr.Name)
		}
		t.Errorf("CertificateRequests after 3 revisions: %v, want [shown-3]", names)
	}
}

var starterPath string

// runStarter runs the starter CLI (built once) against the test system.
func runStarter(t *testing.T, args ...string) string {
	t.Helper()
	if starterPath == "" {
		dir := t.TempDir()
		starterPath = filepath.Join(dir, "starter")
		build := exec.Command("go", "build", "-o", starterPath, "./cmd/starter")
		build.Dir = env.root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build starter: %v\n%s", err, out)
		}
		t.Cleanup(func() { starterPath = "" })
	}
	cmd := exec.Command(starterPath, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Stack.Kubeconfig, "TEMPORAL_ADDRESS="+env.Stack.TemporalAddress)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("starter %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
