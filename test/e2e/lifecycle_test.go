package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/workflows"
)

// Every object always has its workflow: what people and tools do to workflows and
// objects outside certflow never leaves a Certificate without one.

// readyCertificate applies a self-signed Issuer and a Certificate in a new namespace and
// waits for revision 1; it returns the workflow's run ID.
func readyCertificate(t *testing.T, ns, name string) string {
	t.Helper()
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"), testkit.Cert{
		Name: name, DNSNames: []string{name + ".example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned",
	}.String()), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, name, 1)
	return describe(t, workflows.CertificateWorkflowID(ns, name)).runID
}

type execution struct {
	runID  string
	status enumspb.WorkflowExecutionStatus
}

func describe(t *testing.T, id string) execution {
	t.Helper()
	d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	info := d.GetWorkflowExecutionInfo()
	return execution{runID: info.GetExecution().GetRunId(), status: info.GetStatus()}
}

func terminate(t *testing.T, id string) {
	t.Helper()
	if err := env.Temporal.TerminateWorkflow(context.Background(), id, "", "terminated by hand in the test, as from the Temporal UI"); err != nil {
		t.Fatalf("terminate %s: %v", id, err)
	}
}

// A workflow terminated by hand, with nothing else happening, is started again by the
// watcher's sweep from the Certificate's spec.
func TestTerminatedWorkflowRestartedBySweep(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, id := "swept", workflows.CertificateWorkflowID("swept", "web")
	first := readyCertificate(t, ns, "web")
	terminate(t, id)
	eventually(t, 6*testkit.DefaultSweepInterval, "a new run of the terminated workflow", func() (bool, string) {
		e := describe(t, id)
		return e.runID != first && e.status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, fmt.Sprintf("run %s %s", e.runID, e.status)
	})
	// The new run found the certificate valid: no issuance.
	time.Sleep(2 * time.Second)
	if c := waitCertificateReady(t, ns, "web"); *c.Status.Revision != 1 {
		t.Errorf("revision %d after the restart, want 1 (the Secret is valid)", *c.Status.Revision)
	}
}

// The case: the workflow terminated, then the Secret deleted. The Secret comes
// back, and the Certificate is not left saying Ready for a Secret that is gone.
func TestTerminatedWorkflowThenSecretDeleted(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "terminated"
	readyCertificate(t, ns, "rr")
	terminate(t, workflows.CertificateWorkflowID(ns, "rr"))
	mustKubectl(t, nil, "delete", "secret", "rr-tls", "-n", ns)
	waitRevision(t, ns, "rr", 2)
	readTLSSecret(t, ns, "rr-tls")
}

// starter renew on a terminated workflow starts it again, with the renewal.
func TestRenewRestartsTerminatedWorkflow(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "renew-terminated"
	readyCertificate(t, ns, "web")
	terminate(t, workflows.CertificateWorkflowID(ns, "web"))
	runStarter(t, "renew", "web", "-n", ns)
	waitRevision(t, ns, "web", 2)
}

// Certificates and Issuers deleted and created again without a pause, 50 times (as
// kubectl replace --force, Argo CD Replace and helm --force do): at the end each is
// Ready, for its newest UID, and its workflow acts for that UID.
func TestDeleteAndCreateAgain(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	ns := "replaced"
	mustKubectl(t, nil, "create", "namespace", ns)
	cm := env.CertFlow.CertmanagerV1()
	var issuer cmapi.Issuer
	mustUnmarshal(t, testkit.SelfSignedIssuer("selfsigned"), &issuer)
	certs := make([]cmapi.Certificate, 2)
	for i := range certs {
		name := fmt.Sprintf("web%d", i)
		mustUnmarshal(t, testkit.Cert{Name: name, DNSNames: []string{name + ".example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String(), &certs[i])
	}
	create := func() {
		if _, err := cm.Issuers(ns).Create(ctx, issuer.DeepCopy(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range certs {
			if _, err := cm.Certificates(ns).Create(ctx, certs[i].DeepCopy(), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	del := func() {
		if err := cm.Issuers(ns).Delete(ctx, issuer.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		for i := range certs {
			if err := cm.Certificates(ns).Delete(ctx, certs[i].Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
		}
	}
	create()
	for i := range certs {
		waitRevision(t, ns, certs[i].Name, 1)
	}
	for range 50 {
		del()
		create()
	}

	iss, err := cm.Issuers(ns).Get(ctx, issuer.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitIssuerReady(t, env.CertFlow, ns, issuer.Name, 60*time.Second)
	actsFor(t, workflows.IssuerWorkflowID(ns, issuer.Name), string(iss.UID))
	for i := range certs {
		c := waitCertificateReady(t, ns, certs[i].Name)
		actsFor(t, workflows.CertificateWorkflowID(ns, c.Name), string(c.UID))
	}
}

// actsFor waits until the workflow id runs for the object uid.
func actsFor(t *testing.T, id, uid string) {
	t.Helper()
	eventually(t, 30*time.Second, id+" acting for "+uid, func() (bool, string) {
		v, err := env.Temporal.QueryWorkflow(context.Background(), id, "", workflows.QueryStatus)
		if err != nil {
			return false, err.Error()
		}
		var st workflows.Status
		if err := v.Get(&st); err != nil {
			return false, err.Error()
		}
		return st.UID == uid, "acts for " + st.UID
	})
}

func mustUnmarshal(t *testing.T, manifest string, into any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(manifest), into); err != nil {
		t.Fatal(err)
	}
}

// A workflow whose Certificate is gone (deleted while the watcher was down, so no delete
// signal ever came; here started by hand for an object that never existed) is ended by
// the sweep, by the UID it acts for.
func TestOrphanWorkflowEndedBySweep(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "orphan"
	mustKubectl(t, nil, "create", "namespace", ns)
	id := workflows.CertificateWorkflowID(ns, "ghost")
	var cert cmapi.Certificate
	mustUnmarshal(t, testkit.Cert{Name: "ghost", DNSNames: []string{"ghost.example.com"}, Issuer: "nowhere"}.String(), &cert)
	in := workflows.NewCertificateInput(ns, "ghost", workflows.SpecSignal{UID: "ghost-uid", Generation: 1, Spec: cert.Spec})
	if _, err := env.Temporal.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		workflows.CertificateWorkflow, in); err != nil {
		t.Fatal(err)
	}
	eventually(t, 6*testkit.DefaultSweepInterval, "the orphaned workflow ended", func() (bool, string) {
		e := describe(t, id)
		return e.status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, e.status.String()
	})
	// Nothing was written for the Certificate that does not exist.
	ctx := context.Background()
	for _, secret := range []string{"ghost-tls", "ghost-next-key"} {
		if _, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("Secret %s written for a Certificate that does not exist (err %v)", secret, err)
		}
	}
	if _, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(ctx, "ghost-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("CertificateRequest ghost-1 created for a Certificate that does not exist (err %v)", err)
	}
}

// Two Certificates naming the same Secret: the one that comes second is Ready=False
// DuplicateSecretName naming the other, and the Secret stays the first one's.
func TestDuplicateSecretName(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "duplicate"
	readyCertificate(t, ns, "first")
	_, before := readTLSSecret(t, ns, "first-tls")
	mustKubectl(t, testkit.Manifest(testkit.Cert{
		Name: "second", SecretName: "first-tls", DNSNames: []string{"second.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned",
	}.String()), "apply", "-n", ns, "-f", "-")
	testkit.WaitCertificate(t, env.CertFlow, ns, "second", 60*time.Second, "Ready=False DuplicateSecretName naming first", func(c *cmapi.Certificate) bool {
		r := testkit.CertificateCondition(c, cmapi.CertificateConditionReady)
		return r != nil && r.Status == "False" && r.Reason == workflows.ReasonDuplicateSecretName && strings.Contains(r.Message, `"first"`)
	})
	time.Sleep(3 * time.Second)
	s, after := readTLSSecret(t, ns, "first-tls")
	if after.SerialNumber.Cmp(before.SerialNumber) != 0 || s.Annotations[cmapi.CertificateNameKey] != "first" {
		t.Errorf("Secret first-tls rewritten (serial %v → %v, written for %q)", before.SerialNumber, after.SerialNumber, s.Annotations[cmapi.CertificateNameKey])
	}
	if c := waitCertificateReady(t, ns, "first"); *c.Status.Revision != 1 {
		t.Errorf("first is at revision %d, want 1", *c.Status.Revision)
	}
}

// Temporal is not a back door: a workflow started by hand with forged input, for an
// existing Certificate under another UID and with names of the forger's choosing,
// writes nothing: no key, no request, no Secret, no status.
func TestForgedWorkflowInputWritesNothing(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	ns := "forged"
	readyCertificate(t, ns, "victim")
	_, before := readTLSSecret(t, ns, "victim-tls")
	victim, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(ctx, "victim", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := victim.Spec.DeepCopy()
	spec.DNSNames = []string{"evil.example.com"}
	id := "forged/" + ns + "/victim"
	in := workflows.NewCertificateInput(ns, "victim", workflows.SpecSignal{UID: "forged-uid", Generation: 1, Spec: *spec})
	if _, err := env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.CertificateWorkflow, in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Temporal.TerminateWorkflow(context.Background(), id, "", "end of test") })
	eventually(t, 60*time.Second, "the forged workflow's issuance refused", func() (bool, string) {
		v, err := env.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
		if err != nil {
			return false, err.Error()
		}
		var st workflows.Status
		if err := v.Get(&st); err != nil {
			return false, err.Error()
		}
		return st.Phase == workflows.PhaseBackoff && strings.Contains(st.LastError, "nothing is written"), st.Phase + ": " + st.LastError
	})

	s, after := readTLSSecret(t, ns, "victim-tls")
	if after.SerialNumber.Cmp(before.SerialNumber) != 0 || fmt.Sprint(after.DNSNames) != "[victim.example.com]" {
		t.Errorf("victim-tls rewritten: serial %v → %v, names %v", before.SerialNumber, after.SerialNumber, after.DNSNames)
	}
	if s.Annotations[cmapi.CertificateNameKey] != "victim" {
		t.Errorf("victim-tls written for %q", s.Annotations[cmapi.CertificateNameKey])
	}
	if _, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, "victim-next-key", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("next-key Secret written for the forged input (err %v)", err)
	}
	if _, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(ctx, "victim-2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("CertificateRequest victim-2 created for the forged input (err %v)", err)
	}
	if c := waitCertificateReady(t, ns, "victim"); *c.Status.Revision != 1 || c.UID != victim.UID {
		t.Errorf("victim at revision %d, UID %s; want 1, %s", *c.Status.Revision, c.UID, victim.UID)
	}
}
