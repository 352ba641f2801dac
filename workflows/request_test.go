package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

// The CertificateRequestWorkflow's decisions, with activities mocked.

func newRequestEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(epoch)
	env.RegisterWorkflow(CertificateRequestWorkflow)
	registerAllActivities(env)
	return env
}

var (
	requestInput = RequestInput{Namespace: "ns", Name: "req", UID: "uid-r"}
	readyCA      = kube.IssuerInfo{Found: true, Ready: true, Type: kube.IssuerTypeCA, ResourceNamespace: "ns",
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca-key-pair"}}}}
	signedByCA = pki.SignedCertificate{CertificatePEM: []byte("leaf"), CAPEM: []byte("ca")}
)

func requestFacts(issuer cmmeta.IssuerReference, approval kube.Approval) kube.RequestFacts {
	return kube.RequestFacts{UID: "uid-r", IssuerRef: issuer, CSRPEM: []byte("csr"), DNSNames: []string{"a.example.com"}, PublicKeySHA256: "abc", Approval: approval}
}

// recordStatuses captures every status the workflow writes on its request.
func recordStatuses(env *testsuite.TestWorkflowEnvironment, out *[]kube.RequestStatusInput) {
	env.OnActivity(actSetCertificateRequestStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.RequestStatusInput) error {
		*out = append(*out, in)
		return nil
	})
}

func TestRequestApprovedAndSignedByCA(t *testing.T) {
	env := newRequestEnv(t)
	env.OnActivity(actInspectRequest, mock.Anything, mock.Anything).Return(requestFacts(cmmeta.IssuerReference{Name: "ca"}, kube.Approval{}), nil)
	env.OnActivity(actApproveCertificateRequest, mock.Anything, mock.Anything).Return(kube.Approval{Approved: true, Record: true, Reason: cmapi.ApprovedReasonCertManager}, nil)
	env.OnActivity(actResolveIssuer, mock.Anything, kube.IssuerRef{Namespace: "ns", Name: "ca"}).Return(readyCA, nil)
	var signIn pki.SignWithCAInput
	env.OnActivity(actSignWithCA, mock.Anything, mock.Anything).Return(func(_ context.Context, in pki.SignWithCAInput) (pki.SignedCertificate, error) {
		signIn = in
		return signedByCA, nil
	})
	var statuses []kube.RequestStatusInput
	recordStatuses(env, &statuses)

	env.ExecuteWorkflow(CertificateRequestWorkflow, requestInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if string(signIn.CSRPEM) != "csr" || signIn.CA.SecretName != "ca-key-pair" || signIn.Duration != defaultDuration {
		t.Errorf("signed %+v, want the request's CSR with the issuer's key pair and the default duration", signIn)
	}
	if len(statuses) != 1 || !statuses[0].RecordApproval || statuses[0].Ready.Reason != cmapi.CertificateRequestReasonIssued ||
		string(statuses[0].CertificatePEM) != "leaf" || string(statuses[0].CAPEM) != "ca" {
		t.Errorf("statuses = %+v, want one write: approved and issued with the chain", statuses)
	}
}

// A request that waits for a person wakes on the watcher's signal; one whose signal is
// lost is read again at the re-check.
func TestRequestWaitsForApproval(t *testing.T) {
	for _, signalled := range []bool{true, false} {
		env := newRequestEnv(t)
		approvedAt := epoch.Add(time.Hour)
		env.OnActivity(actInspectRequest, mock.Anything, mock.Anything).Return(func(context.Context, kube.RequestRef) (kube.RequestFacts, error) {
			if env.Now().Before(approvedAt) {
				return requestFacts(cmmeta.IssuerReference{Name: "ca"}, kube.Approval{}), nil
			}
			return requestFacts(cmmeta.IssuerReference{Name: "ca"}, kube.Approval{Approved: true, Reason: "ByHand"}), nil
		})
		env.OnActivity(actApproveCertificateRequest, mock.Anything, mock.Anything).Return(kube.Approval{}, nil)
		onIssuer(env, readyCA)
		env.OnActivity(actSignWithCA, mock.Anything, mock.Anything).Return(signedByCA, nil)
		var statuses []kube.RequestStatusInput
		recordStatuses(env, &statuses)
		env.RegisterDelayedCallback(func() {
			st := queryRequestStatus(t, env)
			if st.Phase != PhaseWaitingForApproval {
				t.Errorf("phase while waiting = %s, want %s", st.Phase, PhaseWaitingForApproval)
			}
			if signalled {
				env.SignalWorkflow(SignalRequestChanged, RequestChangedSignal{UID: "uid-r"})
			}
		}, approvedAt.Sub(epoch))

		env.ExecuteWorkflow(CertificateRequestWorkflow, requestInput)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		last := statuses[len(statuses)-1]
		if statuses[0].Ready.Reason != cmapi.ReasonWaitingForApproval || last.Ready.Reason != cmapi.CertificateRequestReasonIssued || last.RecordApproval {
			t.Errorf("signalled=%t: statuses = %+v, want waiting for approval, then issued without an approval of certflow's", signalled, statuses)
		}
		latest := approvedAt.Add(time.Second)
		if !signalled {
			latest = approvedAt.Add(policy.SignalRecheck)
		}
		if env.Now().After(latest) {
			t.Errorf("signalled=%t: done at %v, want by %v", signalled, env.Now(), latest)
		}
	}
}

func TestRequestSelfSignedWithoutKeyAnnotationFails(t *testing.T) {
	env := newRequestEnv(t)
	env.OnActivity(actInspectRequest, mock.Anything, mock.Anything).Return(requestFacts(cmmeta.IssuerReference{Name: "ss"}, kube.Approval{Approved: true}), nil)
	onIssuer(env, readySelfSigned)
	var statuses []kube.RequestStatusInput
	recordStatuses(env, &statuses)
	env.ExecuteWorkflow(CertificateRequestWorkflow, requestInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 || !statuses[0].Failed || statuses[0].Ready.Reason != cmapi.CertificateRequestReasonFailed {
		t.Errorf("statuses = %+v, want one Failed write naming the missing annotation", statuses)
	}
}

func TestRequestOfAnotherGroupIsNeverTouched(t *testing.T) {
	env := newRequestEnv(t)
	env.OnActivity(actInspectRequest, mock.Anything, mock.Anything).Return(requestFacts(cmmeta.IssuerReference{Name: "pca", Kind: "AWSPCAIssuer", Group: "awspca.cert-manager.io"}, kube.Approval{}), nil)
	env.ExecuteWorkflow(CertificateRequestWorkflow, requestInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	// Any other activity would fail the test: none is mocked.
}

// A request deleted and created again under the same name is served by the same
// workflow ID, continued for the new UID.
func TestRequestReplacedContinuesForTheNewOne(t *testing.T) {
	env := newRequestEnv(t)
	env.OnActivity(actInspectRequest, mock.Anything, mock.Anything).Return(func(context.Context, kube.RequestRef) (kube.RequestFacts, error) {
		if env.Now().Before(epoch.Add(time.Minute)) {
			return requestFacts(cmmeta.IssuerReference{Name: "ca"}, kube.Approval{}), nil
		}
		return kube.RequestFacts{}, temporal.NewNonRetryableApplicationError("gone", kube.ErrTypeRequestGone, nil)
	})
	env.OnActivity(actApproveCertificateRequest, mock.Anything, mock.Anything).Return(kube.Approval{}, nil)
	env.OnActivity(actSetCertificateRequestStatus, mock.Anything, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalRequestChanged, RequestChangedSignal{UID: "uid-new"})
	}, time.Minute)
	env.ExecuteWorkflow(CertificateRequestWorkflow, requestInput)
	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new for the new request, got %v", env.GetWorkflowError())
	}
	var next RequestInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil || next.UID != "uid-new" {
		t.Errorf("continued with %+v (%v), want UID uid-new", next, err)
	}
}

func queryRequestStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) Status {
	t.Helper()
	v, err := env.QueryWorkflow(QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
