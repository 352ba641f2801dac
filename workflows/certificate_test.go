package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/dns01"
	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/activities/issuance"
	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/activities/vault"
	"github.com/certflow/certflow/activities/venafi"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

// The workflow's decisions, with activities mocked: which steps run, in which order,
// what status is written, which timers are set and what wakes them.

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(epoch)
	// A run continues as new at the wake-up after its issuance, as one whose history is
	// full does; the tests of renewals within a run shorten it.
	env.SetCurrentHistoryLength(maxRunHistoryLength)
	env.RegisterWorkflow(CertificateWorkflow)
	registerAllActivities(env)
	return env
}

// registerAllActivities registers the activities as the worker does, under their
// recorded names; the tests mock them by those names.
func registerAllActivities(env *testsuite.TestWorkflowEnvironment) {
	RegisterActivities(env, Activities{
		Kube: &kube.Activities{}, Keys: &keys.Activities{}, PKI: &pki.Activities{},
		ACME: &acme.Activities{}, DNS01: &dns01.Activities{}, HTTP01: &http01.Activities{},
		Venafi: &venafi.Activities{},
		Vault:  &vault.Activities{},
	})
}

func testInput() CertificateInput {
	return CertificateInput{
		Namespace: "ns", Name: "web",
		SpecSignal: SpecSignal{UID: "uid-1", Generation: 1, Spec: cmapi.CertificateSpec{
			SecretName: "web-tls", CommonName: "web.example.com", DNSNames: []string{"web.example.com"},
			IssuerRef: cmmeta.IssuerReference{Name: "selfsigned", Kind: "Issuer"},
			Duration:  &metav1.Duration{Duration: 90 * 24 * time.Hour},
		}},
	}
}

var readySelfSigned = kube.IssuerInfo{Found: true, Ready: true, Type: kube.IssuerTypeSelfSigned, Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}}}

// validSecret is a Secret holding a certificate that matches testInput's spec.
func validSecret(notBefore time.Time) policy.SecretState {
	return policy.SecretState{
		Exists: true, HasCertificate: true, HasPrivateKey: true, KeyMatchesCertificate: true, OutputsUpToDate: true,
		IssuerName: "selfsigned", IssuerKind: "Issuer", IssuerGroup: "cert-manager.io",
		Certificate: policy.IssuedFacts{
			NotBefore: notBefore, NotAfter: notBefore.Add(90 * 24 * time.Hour),
			CommonName: "web.example.com", DNSNames: []string{"web.example.com"}, KeyAlgorithm: "RSA", KeySize: 2048,
		},
	}
}

// expectIssuance mocks the issuance steps and records the statuses written.
func expectIssuance(env *testsuite.TestWorkflowEnvironment, statuses *[]kube.CertificateStatusInput) {
	key := keys.KeyRef{Namespace: "ns", SecretName: "web-next-key", DataKey: "tls.key", Algorithm: "RSA", Size: 2048}
	env.OnActivity(actGeneratePrivateKey, mock.Anything, mock.MatchedBy(func(in keys.GenerateKeyInput) bool {
		return in.SecretName == "web-next-key" && in.Algorithm == cmapi.RSAKeyAlgorithm && in.Size == 2048 && in.Encoding == cmapi.PKCS1
	})).Return(key, nil).Maybe()
	env.OnActivity(actCreateCSR, mock.Anything, mock.Anything).Return([]byte("-----BEGIN CERTIFICATE REQUEST-----"), nil).Maybe()
	env.OnActivity(actSignSelfSigned, mock.Anything, mock.Anything).Return(pki.SignedCertificate{CertificatePEM: []byte("cert"), CAPEM: []byte("cert")}, nil).Maybe()
	env.OnActivity(actCreateCertificateRequest, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in kube.CreateRequestInput) (kube.CreatedRequest, error) {
			return kube.CreatedRequest{RequestRef: kube.RequestRef{Namespace: in.Namespace, Name: conventions.CertificateRequestName(in.CertificateName, in.Revision), UID: "cr-uid"}}, nil
		}).Maybe()
	env.OnActivity(actApproveCertificateRequest, mock.Anything, mock.Anything).Return(kube.Approval{Approved: true, Reason: "cert-manager.io"}, nil).Maybe()
	env.OnActivity(actSetCertificateRequestStatus, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(actCleanupCertificateRequests, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(actWriteCertificateSecret, mock.Anything, mock.Anything).Return(validSecret(epoch).Certificate, nil).Maybe()
	env.OnActivity(actDeletePrivateKeySecret, mock.Anything, mock.Anything).Return(nil).Maybe()
	writeStatus := recordStatus(statuses)
	env.OnActivity(actUpdateCertificateStatus, mock.Anything, mock.Anything).Return(writeStatus).Maybe()
	recorderOf(env).writeStatus = writeStatus
	expectOneStepIssuance(env, nil)
}

// oneStepRecorder is what a test records of the IssueWithinTask steps of its
// environment: their inputs, when they ran, and the status writes they made (through
// the same recorder as UpdateCertificateStatus's mock).
type oneStepRecorder struct {
	ins         *[]issuance.Input
	issuedAt    *[]time.Time
	writeStatus func(context.Context, kube.CertificateStatusInput) (kube.CertificateStatusResult, error)
}

var oneStepRecorders sync.Map // *testsuite.TestWorkflowEnvironment → *oneStepRecorder

func recorderOf(env *testsuite.TestWorkflowEnvironment) *oneStepRecorder {
	r, _ := oneStepRecorders.LoadOrStore(env, &oneStepRecorder{})
	return r.(*oneStepRecorder)
}

// expectOneStepIssuance mocks IssueWithinTask as the step mocks of expectIssuance
// answer, recording its inputs in ins (when not nil). expectIssuance's step mocks are
// there for the issuances that go step by step (a slow key, a key kept, a person's
// approval), so none of them is required.
func expectOneStepIssuance(env *testsuite.TestWorkflowEnvironment, ins *[]issuance.Input) {
	if ins != nil {
		recorderOf(env).ins = ins
	}
	env.OnActivity(actIssueWithinTask, mock.Anything, mock.Anything).Return(func(ctx context.Context, in issuance.Input) (issuance.Result, error) {
		return oneStep(ctx, env, in)
	}).Maybe()
}

// oneStep is IssueWithinTask as the step mocks of expectIssuance answer: it records
// the input, the time and the status write in env's recorder.
func oneStep(ctx context.Context, env *testsuite.TestWorkflowEnvironment, in issuance.Input) (issuance.Result, error) {
	r := recorderOf(env)
	if r.ins != nil {
		*r.ins = append(*r.ins, in)
	}
	if r.issuedAt != nil {
		*r.issuedAt = append(*r.issuedAt, env.Now())
	}
	req := kube.RequestRef{Namespace: in.Request.Namespace, Name: conventions.CertificateRequestName(in.Request.CertificateName, in.Request.Revision), UID: "cr-uid"}
	res := issuance.Result{
		Key:      keys.KeyRef{Namespace: in.Key.Namespace, SecretName: in.Key.SecretName, Algorithm: in.Key.Algorithm, Size: in.Key.Size, Held: true},
		Request:  kube.CreatedRequest{RequestRef: req},
		Approval: kube.Approval{Approved: true, Record: true, Reason: "cert-manager.io"},
		Signed:   pki.SignedCertificate{CertificatePEM: []byte("cert"), CAPEM: []byte("cert")},
		Facts:    validSecret(epoch).Certificate,
		// The step deletes the requests that fell out of the revision history.
		CleanedUp: in.Cleanup != nil,
	}
	if in.Status != nil && r.writeStatus != nil {
		st := *in.Status
		nb, na := res.Facts.NotBefore, res.Facts.NotAfter
		renewal := policy.RenewalTime(nb, na, in.RenewBefore, in.RenewBeforePercentage)
		st.NotBefore, st.NotAfter, st.RenewalTime = &nb, &na, &renewal
		var err error
		if res.Status, err = r.writeStatus(ctx, st); err != nil {
			return res, err
		}
	}
	return res, nil
}

func TestIssuesWhenSecretMissingThenContinuesAsNew(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	// Nothing issued yet: the evaluation will likely issue, so it reads the Secret and
	// the issuer in one step.
	env.OnActivity(actInspectSecretAndIssuer, mock.Anything, mock.MatchedBy(func(in kube.EvaluationInput) bool {
		return in.Secret.Namespace == "ns" && in.Secret.SecretName == "web-tls" && in.Issuer == kube.IssuerRef{Namespace: "ns", Name: "selfsigned", Kind: "Issuer"}
	})).Return(kube.Evaluation{Issuer: readySelfSigned}, nil).Once()
	var ins []issuance.Input
	expectOneStepIssuance(env, &ins)
	expectIssuance(env, &statuses)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after an issuance, got %v", env.GetWorkflowError())
	}
	env.AssertExpectations(t)
	// A self-signed issuance is one step: the key (RSA 2048 PKCS1 by default, for the
	// target Secret), the request of revision 1, the signature and the Secret.
	if len(ins) != 1 {
		t.Fatalf("IssueWithinTask ran %d times, want once", len(ins))
	}
	if in := ins[0]; in.Key.SecretName != "web-tls" || in.Key.Algorithm != cmapi.RSAKeyAlgorithm || in.Key.Size != 2048 || in.Key.Encoding != cmapi.PKCS1 ||
		in.Request.Revision != 1 || in.Secret.Revision != 1 || in.Secret.SecretName != "web-tls" || in.SelfSign == nil || in.CA != nil {
		t.Errorf("IssueWithinTask input %+v", in)
	}
	// It completes within one workflow task: one status write, which carries all three
	// events.
	if len(statuses) != 1 {
		t.Fatalf("want 1 status write (Issued), got %d: %+v", len(statuses), statuses)
	}
	issued := statuses[0]
	if got, want := eventReasons(issued.Events), []string{"Issuing", "Requested", "Issued"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if issued.Events[0].Message != "Issuing certificate as Secret does not exist" {
		t.Errorf("Issuing event message = %q", issued.Events[0].Message)
	}
	if issued.Ready.Status != cmmeta.ConditionTrue || issued.Issuing != nil || issued.Revision == nil || *issued.Revision != 1 {
		t.Errorf("final status = %+v, want Ready=True, no Issuing, revision 1", issued)
	}
	wantRenewal := epoch.Add(60 * 24 * time.Hour) // 2/3 of 90 days
	if issued.RenewalTime == nil || !issued.RenewalTime.Equal(wantRenewal) {
		t.Errorf("renewalTime = %v, want %v", issued.RenewalTime, wantRenewal)
	}
}

func TestSleepsUntilRenewalAndRenewsOnTimer(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readySelfSigned)
	// First look: valid; after the renewal timer the same Secret is due.
	onSecret(env, validSecret(epoch))
	expectIssuance(env, &statuses)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after the renewal, got %v", env.GetWorkflowError())
	}
	if got := env.Now(); got.Before(epoch.Add(60 * 24 * time.Hour)) {
		t.Fatalf("run ended at %v, before the renewal time", got)
	}
	if msgs := issuingMessages(statuses); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "Renewing certificate as renewal was scheduled at") {
		t.Fatalf("issuances = %q, want one for the renewal", msgs)
	}
}

// A Certificate waits for its issuer: the watcher's issuer-changed signal wakes it at
// once, and when that signal is lost, a re-check every policy.SignalRecheck finds the
// issuer ready (no state depends on one relayed signal), without polling faster.
func TestWaitsForIssuerSignalOrRecheck(t *testing.T) {
	for _, signalled := range []bool{true, false} {
		t.Run(fmt.Sprintf("signal=%t", signalled), func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			notReady := kube.IssuerInfo{Found: true, Message: "Referenced Issuer ns/selfsigned has no Ready status condition"}
			readyAt := epoch.Add(3*time.Hour + time.Minute)
			resolved := 0
			onIssuer(env, func(context.Context, kube.IssuerRef) (kube.IssuerInfo, error) {
				resolved++
				if env.Now().Before(readyAt) {
					return notReady, nil
				}
				return readySelfSigned, nil
			})
			onSecret(env, policy.SecretState{})
			var issued []time.Time
			captureIssuance(env, &issued)
			expectIssuance(env, &statuses)
			env.RegisterDelayedCallback(func() {
				st := queryStatus(t, env)
				if st.Phase != PhaseWaitingForIssuer || st.Until == nil || st.Until.Sub(env.Now()) > policy.SignalRecheck {
					t.Errorf("status while waiting = %+v, want %s with a re-check within %v", st, PhaseWaitingForIssuer, policy.SignalRecheck)
				}
				if signalled {
					env.SignalWorkflow(SignalIssuerChanged, IssuerChangedSignal{Ready: true})
				}
			}, readyAt.Sub(epoch))

			env.ExecuteWorkflow(CertificateWorkflow, testInput())

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after issuance, got %v", env.GetWorkflowError())
			}
			if statuses[0].Ready.Reason != "IssuerNotReady" || statuses[0].Ready.Message != notReady.Message {
				t.Errorf("first status = %+v, want Ready=False/IssuerNotReady with the issuer's message", statuses[0].Ready)
			}
			latest := readyAt.Add(policy.SignalRecheck)
			if signalled {
				latest = readyAt.Add(time.Second)
			}
			if len(issued) != 1 || issued[0].Before(readyAt) || issued[0].After(latest) {
				t.Errorf("issued at %v, want once, between %v (issuer ready) and %v", issued, readyAt, latest)
			}
			if most := int(readyAt.Sub(epoch)/policy.SignalRecheck) + 2; resolved > most {
				t.Errorf("issuer resolved %d times in %v, want at most %d (one per re-check)", resolved, readyAt.Sub(epoch), most)
			}
		})
	}
}

// An issuer that is not ready leaves a valid certificate alone: it stays Ready (the
// issuer is not even looked up until an issuance is due), and at the renewal it waits
// for the issuer, still Ready, until the issuer's signal.
func TestIssuerNotReadyKeepsValidCertificateReady(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	notReady := kube.IssuerInfo{Found: true, Message: "the CA Secret is gone"}
	var lookedUp []time.Time
	onIssuer(env, func(context.Context, kube.IssuerRef) (kube.IssuerInfo, error) {
		lookedUp = append(lookedUp, env.Now())
		if len(lookedUp) == 1 {
			return notReady, nil
		}
		return readySelfSigned, nil
	})
	onSecret(env, validSecret(epoch))
	var issued []time.Time
	captureIssuance(env, &issued)
	expectIssuance(env, &statuses)
	renewal := epoch.Add(60 * 24 * time.Hour) // validSecret: 90 days, renewed at 2/3
	signalAt := 61 * 24 * time.Hour
	env.RegisterDelayedCallback(func() {
		st := queryStatus(t, env)
		if st.Phase != PhaseWaitingForIssuer || !strings.Contains(st.LastError, notReady.Message) {
			t.Errorf("status while waiting = %+v, want WaitingForIssuer naming the issuer's problem", st)
		}
		env.SignalWorkflow(SignalIssuerChanged, IssuerChangedSignal{Ready: true})
	}, signalAt)
	// A run that knows the certificate in hand (a continued one) reads no issuer
	// before the renewal is due.
	in := testInput()
	in.Changes = len(certificateChanges)
	nb, na := validSecret(epoch).Certificate.NotBefore, validSecret(epoch).Certificate.NotAfter
	in.NotBefore, in.NotAfter, in.Revision, in.IssuedGeneration = &nb, &na, 1, in.Generation

	env.ExecuteWorkflow(CertificateWorkflow, in)

	for i, st := range statuses {
		if st.Ready.Reason == "IssuerNotReady" {
			t.Errorf("status %d: %+v; a valid certificate must stay Ready", i, st.Ready)
		}
	}
	if len(lookedUp) < 2 || lookedUp[0].Before(renewal) {
		t.Errorf("issuer looked up at %v, want first at the renewal %v", lookedUp, renewal)
	}
	if len(issued) != 1 || issued[0].Before(epoch.Add(signalAt)) {
		t.Errorf("issued at %v, want once, after the issuer became ready", issued)
	}
}

// A CA signing that fails for the CA Secret asks the IssuerWorkflow to verify the
// Secret again (it cannot see a hand-made Secret go); other failures do not.
func TestCASecretFailureAsksIssuerToRecheck(t *testing.T) {
	for _, tc := range []struct {
		errType    string
		wantSignal bool
	}{
		{pki.ErrTypeCASecretNotFound, true},
		{pki.ErrTypeInvalidCAKeyPair, true},
		{pki.ErrTypeInvalidCSR, false},
	} {
		t.Run(tc.errType, func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			readyCA := kube.IssuerInfo{Found: true, Ready: true, Type: kube.IssuerTypeCA, ResourceNamespace: "cert-manager",
				Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca-key-pair"}}}}
			onIssuer(env, readyCA)
			onSecret(env, policy.SecretState{})
			env.OnActivity(actIssueWithinTask, mock.Anything, mock.Anything).Return(issuance.Result{},
				temporal.NewNonRetryableApplicationError("CA Secret cert-manager/ca-key-pair not found", tc.errType, nil))
			expectIssuance(env, &statuses)
			var signalled []string
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", SignalSecretChanged, mock.Anything).Return(
				func(_, id, _, _ string, _ interface{}) error { signalled = append(signalled, id); return nil }).Maybe()
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, 10*time.Minute)
			in := testInput()
			in.Changes = len(certificateChanges)
			in.Spec.IssuerRef = cmmeta.IssuerReference{Name: "ca-issuer", Kind: cmapi.ClusterIssuerKind}

			env.ExecuteWorkflow(CertificateWorkflow, in)

			want := []string(nil)
			if tc.wantSignal {
				want = []string{"clusterissuer/ca-issuer"}
			}
			if !slices.Equal(signalled, want) {
				t.Errorf("signalled %v, want %v", signalled, want)
			}
		})
	}
}

func TestFailureBacksOffAndRenewSignalCutsItShort(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readySelfSigned)
	onSecret(env, policy.SecretState{})
	failOneStepIssuance(env, temporal.NewNonRetryableApplicationError("CSR public key does not match", "KeyMismatch", nil))
	var issued []time.Time
	captureIssuance(env, &issued)
	var deleted []string
	env.OnActivity(actDeletePrivateKeySecret, mock.Anything, mock.Anything).Return(func(_ context.Context, in keys.DeleteKeyInput) error {
		deleted = append(deleted, in.SecretName)
		return nil
	}).Maybe()
	expectIssuance(env, &statuses)
	env.RegisterDelayedCallback(func() {
		// The failed attempt held its key in memory: no next-key Secret to delete.
		if len(deleted) != 0 {
			t.Errorf("after the failed attempt deleted %v, want nothing", deleted)
		}
		st := queryStatus(t, env)
		if st.Phase != PhaseBackoff || st.FailedAttempts != 1 || st.Until == nil || !st.Until.Equal(epoch.Add(time.Hour)) {
			t.Errorf("status during backoff = %+v, want Backoff until +1h after 1 failure", st)
		}
		env.SignalWorkflow(SignalRenew, RenewSignal{})
	}, 10*time.Minute)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after the retried issuance, got %v", env.GetWorkflowError())
	}
	if len(issued) != 1 || issued[0].After(epoch.Add(30*time.Minute)) {
		t.Errorf("renew signal did not cut the 1h backoff short: issued at %v", issued)
	}
	var failed *kube.CertificateStatusInput
	for i := range statuses {
		if statuses[i].Issuing != nil && statuses[i].Issuing.Reason == "Failed" {
			failed = &statuses[i]
		}
	}
	if failed == nil || failed.FailedIssuanceAttempts == nil || *failed.FailedIssuanceAttempts != 1 || failed.LastFailureTime == nil {
		t.Fatalf("want a status with Issuing=False/Failed, failedIssuanceAttempts=1 and lastFailureTime, got %+v", statuses)
	}
}

func TestDeleteEndsTheWorkflow(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readySelfSigned)
	onSecret(env, validSecret(epoch))
	env.OnActivity(actUpdateCertificateStatus, mock.Anything, mock.Anything).Return(recordStatus(&statuses))
	env.RegisterDelayedCallback(func() {
		// An older generation changes nothing; the delete ends the workflow.
		env.SignalWorkflow(SignalSpec, SpecSignal{UID: "uid-1", Generation: 1})
		env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"})
	}, time.Hour)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("want a clean finish on delete, got %v", env.GetWorkflowError())
	}
	if len(statuses) != 1 || statuses[0].Ready.Status != cmmeta.ConditionTrue {
		t.Fatalf("want one Ready=True status write, got %+v", statuses)
	}
}

func TestSpecChangeReissues(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readySelfSigned)
	onSecret(env, validSecret(epoch))
	expectIssuance(env, &statuses)
	env.RegisterDelayedCallback(func() {
		in := testInput()
		in.Spec.DNSNames = append(in.Spec.DNSNames, "api.example.com")
		env.SignalWorkflow(SignalSpec, SpecSignal{UID: "uid-1", Generation: 2, Spec: in.Spec})
	}, time.Hour)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after re-issuance, got %v", env.GetWorkflowError())
	}
	last := statuses[len(statuses)-1]
	if last.ObservedGeneration != 2 {
		t.Errorf("observedGeneration = %d, want 2", last.ObservedGeneration)
	}
	if msgs := issuingMessages(statuses); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "Issuing certificate as Secret was previously issued with a different spec") {
		t.Fatalf("issuances = %q, want one for the spec change", msgs)
	}
}

// A spec change that the certificate in the Secret cannot show (subject, duration,
// usages, ...) re-issues too, as upstream's comparison with the current request does;
// a change that needs no new certificate (secretTemplate) does not.
func TestRequestChangeReissues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*cmapi.CertificateSpec)
		want   string // "" = no issuance
	}{
		{"subject", func(s *cmapi.CertificateSpec) { s.Subject = &cmapi.X509Subject{Organizations: []string{"Example"}} }, "[spec.subject]"},
		{"duration", func(s *cmapi.CertificateSpec) { s.Duration = &metav1.Duration{Duration: 24 * time.Hour} }, "[spec.duration]"},
		{"usages", func(s *cmapi.CertificateSpec) { s.Usages = []cmapi.KeyUsage{cmapi.UsageServerAuth} }, "[spec.usages]"},
		{"key encoding", func(s *cmapi.CertificateSpec) { s.PrivateKey = &cmapi.CertificatePrivateKey{Encoding: cmapi.PKCS8} }, "[spec.privateKey]"},
		{"secretTemplate only", func(s *cmapi.CertificateSpec) {
			s.SecretTemplate = &cmapi.CertificateSecretTemplate{Labels: map[string]string{"a": "b"}}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			onIssuer(env, readySelfSigned)
			onSecret(env, validSecret(epoch))
			env.OnActivity(actGeneratePrivateKey, mock.Anything, mock.Anything).Return(keys.KeyRef{Namespace: "ns", SecretName: "web-next-key", DataKey: "tls.key"}, nil)
			expectIssuance(env, &statuses)
			in := testInput()
			in.Changes = len(certificateChanges)
			issued := requestSpecOf(in.Spec)
			in.IssuedRequest = &issued
			env.RegisterDelayedCallback(func() {
				next := testInput().Spec
				tc.change(&next)
				env.SignalWorkflow(SignalSpec, SpecSignal{UID: "uid-1", Generation: 2, Spec: next})
			}, time.Hour)
			// An issuance ends the run at its next wake-up (the renewal, weeks later) with
			// continue-as-new; without one, the deletion ends it (also a failing loop).
			deleteAt := 2 * time.Hour
			if tc.want != "" {
				deleteAt = 200 * 24 * time.Hour
			}
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, deleteAt)

			env.ExecuteWorkflow(CertificateWorkflow, in)

			msgs := issuingMessages(statuses)
			if tc.want == "" {
				if len(msgs) != 0 {
					t.Fatalf("issuances = %q, want none", msgs)
				}
				return
			}
			if len(msgs) != 1 || msgs[0] != "Fields on existing CertificateRequest resource not up to date: "+tc.want {
				t.Fatalf("issuances = %q, want one naming %s", msgs, tc.want)
			}
			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after the issuance, got %v", env.GetWorkflowError())
			}
			next := nextRunInput(t, can)
			if next.IssuedRequest == nil || len(next.IssuedRequest.ChangedFields(requestSpecOf(next.Spec))) != 0 {
				t.Errorf("next run carries IssuedRequest %+v, want the new spec's", next.IssuedRequest)
			}
		})
	}
}

// A certificate whose literalSubject carries its CN (and spec.commonName is empty) is up
// to date once issued: it is not re-issued at every evaluation.
func TestLiteralSubjectCommonNameUpToDate(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readySelfSigned)
	secret := validSecret(epoch) // CN web.example.com
	onSecret(env, secret)
	expectIssuance(env, &statuses)
	in := testInput()
	in.Changes = len(certificateChanges)
	in.Spec.CommonName = ""
	in.Spec.LiteralSubject = "CN=web.example.com,O=Example"
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalRenew, RenewSignal{}) }, time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, 2*time.Hour)

	env.ExecuteWorkflow(CertificateWorkflow, in)

	// One issuance, for the renew signal; none because the CN "differs".
	if msgs := issuingMessages(statuses); len(msgs) != 1 || !strings.Contains(msgs[0], "manually triggered") {
		t.Fatalf("issuances = %q, want only the manual one", msgs)
	}
	if cn, any := wantCommonName(in.Spec); cn != "web.example.com" || any {
		t.Errorf("wantCommonName = %q, %v", cn, any)
	}
	if cn, any := wantCommonName(cmapi.CertificateSpec{LiteralSubject: "CN=#0c03616263,CN=first"}); cn != "abc" || any {
		t.Errorf("hex-encoded last CN: %q, %v; want abc", cn, any)
	}
	if _, any := wantCommonName(cmapi.CertificateSpec{LiteralSubject: "not a DN"}); !any {
		t.Error("a literalSubject that does not parse: want the CN left to the request comparison")
	}
}

// A certificate as a real CA issues it (the common name promoted from the first name
// or left out, names lower-cased) is up to date: a Secret edit that wakes the workflow
// issues nothing, whether the request of the certificate is known or not.
func TestRealCACertificateNotReissued(t *testing.T) {
	for _, tc := range []struct {
		name         string
		commonName   string
		certCN       string
		knownRequest bool
	}{
		{"classic, request known", "", "web.example.com", true},
		{"classic, request unknown", "", "web.example.com", false},
		{"tlsserver, request known", "Web.Example.com", "", true},
		{"tlsserver, request unknown", "Web.Example.com", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			onIssuer(env, readySelfSigned)
			secret := validSecret(epoch)
			secret.Certificate.CommonName = tc.certCN
			onSecret(env, secret)
			expectIssuance(env, &statuses)
			in := testInput()
			in.Changes = len(certificateChanges)
			in.Spec.CommonName, in.Spec.DNSNames = tc.commonName, []string{"Web.Example.com"}
			if tc.knownRequest {
				issued := requestSpecOf(in.Spec)
				in.IssuedRequest = &issued
			}
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalSecretChanged, SecretChangedSignal{ResourceVersion: "2"}) }, time.Hour)
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, 2*time.Hour)

			env.ExecuteWorkflow(CertificateWorkflow, in)

			if msgs := issuingMessages(statuses); len(msgs) != 0 {
				t.Fatalf("issuances = %q, want none", msgs)
			}
		})
	}
}

// A spec changed after a failed issuance is tried at once, not after the backoff (the
// change may be the fix); an unchanged spec waits the backoff out.
func TestSpecChangeEndsBackoff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		change    func(*cmapi.CertificateSpec)
		wantAfter time.Duration // the second attempt, from the start
	}{
		{"spec fixed", func(s *cmapi.CertificateSpec) { s.Duration = &metav1.Duration{Duration: 48 * time.Hour} }, 10 * time.Minute},
		{"labels only", func(*cmapi.CertificateSpec) {}, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			onIssuer(env, readySelfSigned)
			onSecret(env, policy.SecretState{})
			var attempts []time.Duration
			env.OnActivity(actIssueWithinTask, mock.Anything, mock.Anything).Return(
				func(ctx context.Context, in issuance.Input) (issuance.Result, error) {
					attempts = append(attempts, env.Now().Sub(epoch))
					if len(attempts) == 1 {
						return issuance.Result{}, temporal.NewNonRetryableApplicationError("bad duration", "InvalidSpec", nil)
					}
					return oneStep(ctx, env, in)
				})
			expectIssuance(env, &statuses)
			in := testInput()
			in.Changes = len(certificateChanges)
			env.RegisterDelayedCallback(func() {
				next := testInput().Spec
				tc.change(&next)
				env.SignalWorkflow(SignalSpec, SpecSignal{UID: "uid-1", Generation: 2, Spec: next, Labels: map[string]string{"x": "y"}})
			}, 10*time.Minute)

			env.ExecuteWorkflow(CertificateWorkflow, in)

			if len(attempts) != 2 || attempts[1]-attempts[0] < tc.wantAfter-time.Minute || attempts[1]-attempts[0] > tc.wantAfter+time.Minute {
				t.Fatalf("attempts at %v, want the second %v after the first", attempts, tc.wantAfter)
			}
		})
	}
}

// nextRunInput is the input a run continued as new with.
func nextRunInput(t *testing.T, can *workflow.ContinueAsNewError) CertificateInput {
	t.Helper()
	var next CertificateInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	return next
}

func queryStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) Status {
	t.Helper()
	v, err := env.QueryWorkflow(QueryStatus)
	if err != nil {
		t.Fatalf("query status: %v", err)
	}
	var st Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// captureIssuance records when (in workflow time) the target Secret was written. Register
// it before expectIssuance, whose WriteCertificateSecret mock it takes precedence over.
func captureIssuance(env *testsuite.TestWorkflowEnvironment, at *[]time.Time) {
	env.OnActivity(actWriteCertificateSecret, mock.Anything, mock.Anything).Return(
		func(context.Context, kube.WriteSecretInput) (policy.IssuedFacts, error) {
			*at = append(*at, env.Now())
			return validSecret(epoch).Certificate, nil
		}).Maybe()
	recorderOf(env).issuedAt = at
}

// failOneStepIssuance makes the next IssueWithinTask fail with err.
func failOneStepIssuance(env *testsuite.TestWorkflowEnvironment, err error) {
	env.OnActivity(actIssueWithinTask, mock.Anything, mock.Anything).Return(issuance.Result{}, err).Once()
}

// approverOff mocks IssueWithinTask as a worker with the internal approver disabled
// answers: the issuance goes step by step.
func approverOff(env *testsuite.TestWorkflowEnvironment) {
	env.OnActivity(actIssueWithinTask, mock.Anything, mock.Anything).Return(issuance.Result{ApproverOff: true}, nil)
}

// recordStatus mocks UpdateCertificateStatus, recording each input; an Issuing=True
// write reports the token the API server would hold.
func recordStatus(statuses *[]kube.CertificateStatusInput) func(context.Context, kube.CertificateStatusInput) (kube.CertificateStatusResult, error) {
	next := "" // status.nextPrivateKeySecretName as the API server would hold it
	return func(_ context.Context, in kube.CertificateStatusInput) (kube.CertificateStatusResult, error) {
		*statuses = append(*statuses, in)
		var res kube.CertificateStatusResult
		if in.Revision != nil {
			res.Revision = *in.Revision
		}
		if in.NextPrivateKeySecretName == nil && next != "" {
			res.ClearedNextPrivateKey = next
		}
		next = ""
		if in.NextPrivateKeySecretName != nil {
			next = *in.NextPrivateKeySecretName
		}
		if in.Issuing != nil && in.Issuing.Status == cmmeta.ConditionTrue {
			res.IssuingSince = fmt.Sprintf("token-%d", len(*statuses))
		}
		return res, nil
	}
}

// A ManuallyTriggered condition (cmctl renew) issues once; the Issuing condition the
// workflow writes itself (when an issuance leaves the workflow task, here for a slow
// RSA 4096 key) never triggers another issuance.
func TestManualRenewTokenActsOnceAndOwnWritesDoNotLoop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		keySize int
		// wantOwnToken: the run wrote Issuing=True itself and carries that write's token.
		wantOwnToken bool
	}{
		{name: "issued within the task", keySize: 2048},
		{name: "Issuing written first", keySize: 4096, wantOwnToken: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput()
			in.Spec.PrivateKey = &cmapi.CertificatePrivateKey{Algorithm: cmapi.RSAKeyAlgorithm, Size: tc.keySize}
			secret := validSecret(epoch)
			secret.Certificate.KeySize = tc.keySize
			const clientToken = "2026-01-01T01:00:00Z"

			// issuingEnv is a run whose Secret holds a valid certificate and whose
			// issuances (recorded in statuses) all succeed.
			issuingEnv := func(statuses *[]kube.CertificateStatusInput) *testsuite.TestWorkflowEnvironment {
				env := newEnv(t)
				onIssuer(env, readySelfSigned)
				onSecret(env, secret)
				if tc.keySize != 2048 {
					env.OnActivity(actGeneratePrivateKey, mock.Anything, mock.Anything).Return(
						keys.KeyRef{Namespace: "ns", SecretName: "web-next-key", DataKey: "tls.key", Algorithm: "RSA", Size: tc.keySize}, nil)
				}
				expectIssuance(env, statuses)
				return env
			}
			var statuses []kube.CertificateStatusInput
			env := issuingEnv(&statuses)
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalSpec, SpecSignal{UID: "uid-1", Generation: 1, Spec: in.Spec, ManualRenewToken: clientToken})
			}, time.Hour)

			env.ExecuteWorkflow(CertificateWorkflow, in)

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after the manual renewal, got %v", env.GetWorkflowError())
			}
			if msgs := issuingMessages(statuses); len(msgs) != 1 || msgs[0] != "Certificate re-issuance manually triggered" {
				t.Fatalf("issuances = %q, want one manual", msgs)
			}
			next := nextRunInput(t, can)
			own := next.LastManualToken
			if tc.wantOwnToken && !strings.HasPrefix(own, "token-") {
				t.Fatalf("continued state should carry the token of the workflow's own Issuing write, got %q", own)
			}
			if !tc.wantOwnToken && own != clientToken {
				t.Fatalf("continued state should carry the client's token %q, got %q", clientToken, own)
			}

			if !next.ManualTokenGone {
				t.Fatal("continued state should say that the issuance's status write removed the request's condition")
			}

			// The next run sees the watcher relay the same condition again, late: the
			// Certificate no longer asks (its read finds no request), and nothing happens.
			// The same token, written again within the same second by a second renew,
			// is a new request: it issues once more.
			for _, relay := range []struct {
				name, current string
				wantIssuances int
			}{
				{name: "late relay", current: ""},
				{name: "asked again in the same second", current: own, wantIssuances: 1},
			} {
				var statuses2 []kube.CertificateStatusInput
				env2 := issuingEnv(&statuses2)
				reads := 0
				env2.OnActivity(actReadManualRenewToken, mock.Anything, kube.CertificateIdentity{Namespace: "ns", Name: "web", UID: "uid-1"}).Return(
					func(context.Context, kube.CertificateIdentity) (string, error) { reads++; return relay.current, nil })
				env2.RegisterDelayedCallback(func() {
					env2.SignalWorkflow(SignalSpec, SpecSignal{UID: "uid-1", Generation: 1, Spec: in.Spec, ManualRenewToken: own})
				}, time.Minute)
				env2.RegisterDelayedCallback(func() { env2.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, time.Hour)
				env2.ExecuteWorkflow(CertificateWorkflow, next)
				if err := env2.GetWorkflowError(); err != nil && !errors.As(err, &can) {
					t.Fatalf("%s: want a clean finish or continue-as-new, got %v", relay.name, err)
				}
				if reads != 1 {
					t.Fatalf("%s: the Certificate's request was read %d times, want once", relay.name, reads)
				}
				if msgs := issuingMessages(statuses2); len(msgs) != relay.wantIssuances {
					t.Fatalf("%s: issuances %q, want %d", relay.name, msgs, relay.wantIssuances)
				}
			}
		})
	}
}

// recordRequestStatus expects one request status write with reason, and keeps it.
func recordRequestStatus(env *testsuite.TestWorkflowEnvironment, reason string, into *[]kube.RequestStatusInput) {
	env.OnActivity(actSetCertificateRequestStatus, mock.Anything, mock.MatchedBy(func(in kube.RequestStatusInput) bool {
		return in.Ready.Reason == reason
	})).Return(func(_ context.Context, in kube.RequestStatusInput) error { *into = append(*into, in); return nil }).Once()
}

// With the internal approver disabled the request waits, visibly, for a person; the
// approval signal (relayed by the watcher) lets issuance go on at once, and when that
// signal is lost a re-check reads the request again. The request is marked waiting once.
func TestWaitsForApprovalSignalOrRecheck(t *testing.T) {
	for _, signalled := range []bool{true, false} {
		t.Run(fmt.Sprintf("signal=%t", signalled), func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			approvedAt := epoch.Add(2*time.Hour + time.Minute)
			onIssuer(env, readySelfSigned)
			onSecret(env, policy.SecretState{})
			approverOff(env)
			env.OnActivity(actApproveCertificateRequest, mock.Anything, mock.Anything).Return(func(context.Context, kube.ApproveInput) (kube.Approval, error) {
				if env.Now().Before(approvedAt) {
					return kube.Approval{}, nil
				}
				return kube.Approval{Approved: true, Reason: "starter"}, nil
			})
			var waiting []kube.RequestStatusInput
			recordRequestStatus(env, cmapi.ReasonWaitingForApproval, &waiting)
			var recorded []kube.RequestStatusInput
			recordRequestStatus(env, cmapi.CertificateRequestReasonIssued, &recorded)
			env.OnActivity(actCreateCertificateRequest, mock.Anything, mock.Anything).Return(
				kube.CreatedRequest{RequestRef: kube.RequestRef{Namespace: "ns", Name: "web-1", UID: "cr-uid", CreatedVersion: "7"}}, nil).Once()
			var issued []time.Time
			captureIssuance(env, &issued)
			expectIssuance(env, &statuses)
			env.RegisterDelayedCallback(func() {
				st := queryStatus(t, env)
				if st.Phase != PhaseWaitingForApproval || !strings.Contains(st.WaitingFor, "web-1") {
					t.Errorf("status while waiting = %+v, want WaitingForApproval of web-1", st)
				}
				if signalled {
					env.SignalWorkflow(SignalApproval, ApprovalSignal{Request: "other-1"}) // not ours: no wake-up
					env.SignalWorkflow(SignalApproval, ApprovalSignal{Request: "web-1"})
				}
			}, approvedAt.Sub(epoch))

			env.ExecuteWorkflow(CertificateWorkflow, testInput())

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after the approved issuance, got %v", env.GetWorkflowError())
			}
			if len(waiting) != 1 || !strings.Contains(waiting[0].Ready.Message, "kubectl cert-manager approve web-1") {
				t.Errorf("request should be marked waiting once, saying how to approve it, got %+v", waiting)
			}
			// Only the first write may go out unread on the version of the create; the
			// approval was written in between, so the certificate's write must read the request.
			if len(waiting) != 1 || waiting[0].Request.CreatedVersion != "7" || len(recorded) != 1 || recorded[0].Request.CreatedVersion != "" {
				t.Errorf("created version passed: waiting %+v, recording %+v; want 7, then none", waiting, recorded)
			}
			latest := approvedAt.Add(policy.SignalRecheck)
			if signalled {
				latest = approvedAt.Add(time.Second)
			}
			if len(issued) != 1 || issued[0].Before(approvedAt) || issued[0].After(latest) {
				t.Errorf("issued at %v, want once, between the approval at %v and %v", issued, approvedAt, latest)
			}
		})
	}
}

// A denied request fails the issuance: the request is marked Denied, the Certificate
// backs off with the reason.
func TestDeniedRequestFails(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readySelfSigned)
	onSecret(env, policy.SecretState{})
	approverOff(env)
	env.OnActivity(actApproveCertificateRequest, mock.Anything, mock.Anything).Return(kube.Approval{Denied: true, Reason: "Policy", Message: "no"}, nil).Once()
	var denied []kube.RequestStatusInput
	recordRequestStatus(env, cmapi.CertificateRequestReasonDenied, &denied)
	expectIssuance(env, &statuses)
	env.RegisterDelayedCallback(func() {
		st := queryStatus(t, env)
		if st.Phase != PhaseBackoff || !strings.Contains(st.LastError, "denied") {
			t.Errorf("status after denial = %+v, want Backoff with the denial", st)
		}
		env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"})
	}, 10*time.Minute)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	if len(denied) != 1 || !denied[0].Failed {
		t.Fatalf("want the request marked Denied with a failure time, got %+v", denied)
	}
	env.AssertNotCalled(t, "SignSelfSigned", mock.Anything, mock.Anything)
}

// rotationPolicy Never reuses the key in the Secret when it matches the spec.
func TestRotationPolicyNeverReusesKey(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	in := testInput()
	in.Spec.PrivateKey = &cmapi.CertificatePrivateKey{RotationPolicy: cmapi.RotationPolicyNever, Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256}
	current := keys.KeyRef{Namespace: "ns", SecretName: "web-tls", DataKey: "tls.key", Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256, Encoding: cmapi.PKCS1}
	onIssuer(env, readySelfSigned)
	onSecret(env, policy.SecretState{Exists: true})
	env.OnActivity(actReadKeyRef, mock.Anything, mock.Anything).Return(keys.ReadKeyResult{SecretExists: true, Valid: true, Ref: current}, nil)
	var signedWith keys.KeyRef
	env.OnActivity(actSignSelfSigned, mock.Anything, mock.Anything).Return(func(_ context.Context, in pki.SelfSignInput) (pki.SignedCertificate, error) {
		signedWith = in.Key
		return pki.SignedCertificate{CertificatePEM: []byte("cert")}, nil
	})
	expectIssuance(env, &statuses)

	env.ExecuteWorkflow(CertificateWorkflow, in)

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new, got %v", env.GetWorkflowError())
	}
	if signedWith != current {
		t.Errorf("signed with %+v, want the Secret's current key %+v", signedWith, current)
	}
	env.AssertNotCalled(t, "GeneratePrivateKey", mock.Anything, mock.Anything)
	env.AssertNotCalled(t, "DeletePrivateKeySecret", mock.Anything, mock.Anything)
}

// After an issuance the run sleeps until the renewal time without reading back what it
// wrote, and continues as new when it wakes up, in a task of its own.
func TestSleepsAfterIssuanceThenContinuesAsNew(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	reads := 0
	onIssuer(env, func(context.Context, kube.IssuerRef) (kube.IssuerInfo, error) {
		reads++
		return readySelfSigned, nil
	})
	onSecret(env, func(context.Context, kube.InspectSecretInput) (policy.SecretState, error) {
		reads++
		return policy.SecretState{}, nil
	})
	expectIssuance(env, &statuses)
	renewal := epoch.Add(60 * 24 * time.Hour)
	env.RegisterDelayedCallback(func() {
		st := queryStatus(t, env)
		if st.Phase != PhaseReady || st.Until == nil || !st.Until.Equal(renewal) || st.Revision != 1 {
			t.Errorf("status after issuance = %+v, want Ready at revision 1 sleeping until %v", st, renewal)
		}
	}, time.Hour)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new, got %v", env.GetWorkflowError())
	}
	if env.Now().Before(renewal) {
		t.Errorf("continued as new at %v, before the renewal timer fired", env.Now())
	}
	if reads != 2 {
		t.Errorf("the run read the issuer and Secret %d times, want 2 (once each, before issuing)", reads)
	}
	next := nextRunInput(t, can)
	if next.Revision != 1 || next.NotAfter == nil {
		t.Errorf("continued state = %+v, want revision 1 with notAfter", next)
	}
}

// Keystores or output formats out of date: the Secret is refreshed from its key pair,
// without a new certificate; a refresh that fails backs off instead of looping.
func TestOutputsRefreshedWithoutIssuance(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	stale := validSecret(epoch)
	stale.OutputsUpToDate = false
	onIssuer(env, readySelfSigned)
	onSecret(env, stale)
	refreshes := 0
	env.OnActivity(actRefreshSecretOutputs, mock.Anything, mock.Anything).Return(func(context.Context, kube.RefreshOutputsInput) error {
		refreshes++
		if refreshes == 1 {
			return temporal.NewNonRetryableApplicationError("password Secret ns/pw not found", "InvalidKeystorePassword", nil)
		}
		return nil
	})
	env.OnActivity(actUpdateCertificateStatus, mock.Anything, mock.Anything).Return(recordStatus(&statuses))
	env.RegisterDelayedCallback(func() {
		if refreshes != 1 {
			t.Errorf("%d refreshes during the first hour, want 1 then a backoff", refreshes)
		}
	}, 30*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, 90*time.Minute)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	if refreshes != 2 {
		t.Fatalf("%d refreshes in 90 minutes, want 2 (one failed, one after the 1h backoff)", refreshes)
	}
	last := statuses[len(statuses)-1]
	if last.Issuing != nil || last.FailedIssuanceAttempts != nil || last.Ready.Status != cmmeta.ConditionTrue {
		t.Errorf("after a good refresh the status should be clean and Ready, got %+v", last)
	}
	if statuses[0].Issuing == nil || statuses[0].Issuing.Reason != cmapi.ReasonFailed || !strings.Contains(statuses[0].Issuing.Message, "ns/pw") {
		t.Errorf("failed refresh should show as Issuing=False/Failed naming the Secret, got %+v", statuses[0])
	}
}

// A workflow task lost with its worker after the Secret was written but before the status:
// the retry adopts the revision recorded on the Secret and deletes the next-key Secret the
// status still names, without issuing again.
// A task lost with its worker after it wrote the Secret: the next task adopts the
// revision and deletes the next-key Secret, whether or not the status named it (an
// issuance within one task never writes Issuing=True).
func TestRecoversFromIssuanceLostWithTheWorker(t *testing.T) {
	for _, statusNamedKey := range []bool{true, false} {
		t.Run(fmt.Sprintf("status named the key %v", statusNamedKey), func(t *testing.T) {
			recoversFromIssuanceLost(t, statusNamedKey)
		})
	}
}

func recoversFromIssuanceLost(t *testing.T, statusNamedKey bool) {
	env := newEnv(t)
	secret := validSecret(epoch)
	secret.Revision = 3
	onIssuer(env, readySelfSigned)
	onSecret(env, secret)
	var statuses []kube.CertificateStatusInput
	env.OnActivity(actUpdateCertificateStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in kube.CertificateStatusInput) (kube.CertificateStatusResult, error) {
			statuses = append(statuses, in)
			res := kube.CertificateStatusResult{Revision: *in.Revision}
			if statusNamedKey {
				res.ClearedNextPrivateKey = "web-next-key"
			}
			return res, nil
		}).Once()
	var deleted []string
	env.OnActivity(actDeletePrivateKeySecret, mock.Anything, mock.Anything).Return(func(_ context.Context, in keys.DeleteKeyInput) error {
		deleted = append(deleted, in.SecretName)
		return nil
	})
	in := testInput()
	in.Revision = 2 // the status written before the lost task
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, time.Hour)

	env.ExecuteWorkflow(CertificateWorkflow, in)

	if env.GetWorkflowError() != nil {
		t.Fatal(env.GetWorkflowError())
	}
	if len(statuses) != 1 || statuses[0].Revision == nil || *statuses[0].Revision != 3 || statuses[0].Issuing != nil {
		t.Fatalf("want one Ready status at revision 3 and no issuance, got %+v", statuses)
	}
	if len(deleted) != 1 || deleted[0] != "web-next-key" {
		t.Errorf("deleted %v, want the next-key Secret left by the lost task", deleted)
	}
}

// A renewal carried into a run (the renew signal arrived, the workflow continued as new
// to act on it) whose first task was lost with its worker after it issued: the retry
// adopts that revision as the renewal and does not issue again, so a campaign's
// Certificate is re-issued once although the worker was killed.
func TestCarriedRenewalIssuedByALostTaskIsDone(t *testing.T) {
	env := newEnv(t)
	secret := validSecret(epoch)
	secret.Revision = 3
	onIssuer(env, readySelfSigned)
	onSecret(env, secret)
	var statuses []kube.CertificateStatusInput
	env.OnActivity(actUpdateCertificateStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in kube.CertificateStatusInput) (kube.CertificateStatusResult, error) {
			statuses = append(statuses, in)
			return kube.CertificateStatusResult{Revision: *in.Revision}, nil
		})
	env.OnActivity(actDeletePrivateKeySecret, mock.Anything, mock.Anything).Return(nil)
	in := testInput()
	in.Revision, in.PendingRenew = 2, true
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, time.Hour)

	env.ExecuteWorkflow(CertificateWorkflow, in)

	if env.GetWorkflowError() != nil {
		t.Fatal(env.GetWorkflowError())
	}
	if len(statuses) != 1 || statuses[0].Revision == nil || *statuses[0].Revision != 3 || statuses[0].Issuing != nil {
		t.Fatalf("want one Ready status at the lost task's revision 3 and no second issuance, got %+v", statuses)
	}
}

func eventReasons(es []kube.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Reason)
	}
	return out
}

// issuingMessages are the messages of the Issuing events written: one per issuance,
// whether or not its Issuing=True condition was written.
func issuingMessages(statuses []kube.CertificateStatusInput) []string {
	var out []string
	for _, s := range statuses {
		for _, e := range s.Events {
			if e.Reason == "Issuing" {
				out = append(out, e.Message)
			}
		}
	}
	return out
}

// Versioned changes carried in the input are in effect without workflow.GetVersion
// (no marker, no TemporalChangeVersion upsert per run); an input without them (a
// workflow an older certflow started) asks GetVersion for each, first at the start of
// the run, before any step, so that the marker of a live run stands in its first task.
// Either way the next run carries every change.
func TestChangesAskedAtStartAndAllCarriedOn(t *testing.T) {
	live := 0
	for _, ch := range certificateChanges {
		if ch.retired == "" {
			live++
		}
	}
	for _, tc := range []struct {
		name      string
		changes   int
		versionIs workflow.Version // what GetVersion answers, if asked
		wantAsked int
	}{
		{name: "new workflow", changes: len(certificateChanges), versionIs: workflow.DefaultVersion, wantAsked: 0},
		{name: "older input, new code", changes: 0, versionIs: 1, wantAsked: live},
		{name: "older history", changes: 0, versionIs: workflow.DefaultVersion, wantAsked: live},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			steps := 0
			onIssuer(env, func(context.Context, kube.IssuerRef) (kube.IssuerInfo, error) {
				steps++
				return readySelfSigned, nil
			})
			onSecret(env, func(context.Context, kube.InspectSecretInput) (policy.SecretState, error) {
				steps++
				return policy.SecretState{}, nil
			})
			expectIssuance(env, &statuses)
			firstAsked := map[string]int{} // steps run before the first ask
			env.OnGetVersion(mock.Anything, workflow.DefaultVersion, 1).Return(func(id string, _, _ workflow.Version) workflow.Version {
				if _, ok := firstAsked[id]; !ok {
					firstAsked[id] = steps
				}
				return tc.versionIs
			}).Maybe()
			in := testInput()
			in.Changes = tc.changes
			env.ExecuteWorkflow(CertificateWorkflow, in)

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after an issuance, got %v", env.GetWorkflowError())
			}
			if len(firstAsked) != tc.wantAsked {
				t.Errorf("GetVersion asked for %d changes (%v), want %d", len(firstAsked), firstAsked, tc.wantAsked)
			}
			for id, n := range firstAsked {
				if n != 0 {
					t.Errorf("GetVersion first asked for %s after %d steps, want at the start of the run", id, n)
				}
			}
			if next := nextRunInput(t, can); next.Changes != len(certificateChanges) {
				t.Errorf("next run carries Changes=%d, want all %d", next.Changes, len(certificateChanges))
			}
		})
	}
}

// A run that carries a change this worker does not know (a newer watcher started it, or
// a newer worker continued the chain) is refused before it does anything: its workflow
// task fails and is retried until an upgraded worker takes it, instead of running the old
// way and leaving a history the newer code cannot replay.
func TestUnknownChangesRefuseTheRun(t *testing.T) {
	env := newEnv(t)
	in := testInput()
	in.Changes = len(certificateChanges) + 1

	env.ExecuteWorkflow(CertificateWorkflow, in)

	var panicked *temporal.PanicError
	if err := env.GetWorkflowError(); !errors.As(err, &panicked) || !strings.Contains(err.Error(), "upgrade the workers") {
		t.Fatalf("want the workflow task to panic with the reason, got %v", err)
	}
}

// A chain an older watcher started may carry an inline keystore password in its input
// or in a spec signal: the run hands activities and the next run the redacted spec only.
func TestInlinePasswordsRedactedFromState(t *testing.T) {
	for _, viaSignal := range []bool{false, true} {
		t.Run(fmt.Sprintf("via signal %v", viaSignal), func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			onIssuer(env, readySelfSigned)
			var seen []*cmapi.CertificateKeystores
			onSecret(env, func(_ context.Context, in kube.InspectSecretInput) (policy.SecretState, error) {
				seen = append(seen, in.Keystores)
				return policy.SecretState{}, nil
			})
			expectIssuance(env, &statuses)
			pw := "plain-s3cret"
			in := testInput()
			withPassword := in.Spec
			withPassword.Keystores = &cmapi.CertificateKeystores{JKS: &cmapi.JKSKeystore{Create: true, Password: &pw}}
			if viaSignal {
				sig := in.SpecSignal
				sig.Generation, sig.Spec = 2, withPassword
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalSpec, sig) }, 0)
			} else {
				in.Spec = withPassword
			}

			env.ExecuteWorkflow(CertificateWorkflow, in)

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after the issuance, got %v", env.GetWorkflowError())
			}
			next := nextRunInput(t, can)
			handed := append(seen, next.Spec.Keystores)
			if len(seen) == 0 {
				t.Fatal("InspectSecret never ran")
			}
			for _, ks := range handed {
				if ks == nil || ks.JKS == nil || ks.JKS.Password != nil || ks.JKS.PasswordSecretRef.Key != kube.InlinePasswordRedacted {
					t.Errorf("keystores handed on: %+v, want the JKS password redacted", ks)
				}
			}
		})
	}
}

// The IssuerName search attribute follows the issuerRef: the watcher sets it when it
// starts the workflow; a run whose spec names another issuer (the spec changed, and the
// run continued as new with it) upserts the new name along with CertState.
func TestIssuerNameAttributeFollowsSpec(t *testing.T) {
	for _, tc := range []struct {
		name, attribute, specIssuer, want string // want "-": no IssuerName in the upsert
	}{
		{name: "unchanged", attribute: "selfsigned", specIssuer: "selfsigned", want: "-"},
		{name: "issuerRef changed", attribute: "selfsigned", specIssuer: "other-issuer", want: "other-issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			onIssuer(env, readySelfSigned)
			onSecret(env, policy.SecretState{})
			expectIssuance(env, &statuses)
			if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(AttrIssuerName.ValueSet(tc.attribute), AttrCertState.ValueSet("Pending"))); err != nil {
				t.Fatal(err)
			}
			var issuerNames []string
			env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				name, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(AttrIssuerName)
				if !ok {
					name = "-"
				}
				issuerNames = append(issuerNames, name)
			}).Return(nil)
			in := testInput()
			in.Changes = len(certificateChanges)
			in.Spec.IssuerRef.Name = tc.specIssuer

			env.ExecuteWorkflow(CertificateWorkflow, in)

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after the issuance, got %v", env.GetWorkflowError())
			}
			if len(issuerNames) != 1 || issuerNames[0] != tc.want {
				t.Errorf("IssuerName in the upserts: %q, want [%s]", issuerNames, tc.want)
			}
		})
	}
}

// A Certificate deleted and created again under the same name (kubectl replace --force,
// Argo CD Replace, helm --force) is a new object: whichever of the old one's delete and
// the new one's spec arrives first, the workflow goes on for the new UID with the new
// spec, although its generation (1) is lower than the old one's, and issues for it.
func TestReplacedCertificateKeepsItsWorkflow(t *testing.T) {
	for _, deleteFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("deleteFirst=%t", deleteFirst), func(t *testing.T) {
			env := newEnv(t)
			var statuses []kube.CertificateStatusInput
			// Both signals arrive while the first look at the Secret runs, so that they
			// are received in one workflow task, in either order.
			env.OnActivity(actInspectSecretAndIssuer, mock.Anything, mock.Anything).Return(
				kube.Evaluation{Secret: validSecret(epoch), Issuer: readySelfSigned}, nil).After(time.Hour).Once()
			onIssuer(env, readySelfSigned)
			onSecret(env, validSecret(epoch))
			var csrSpecs []cmapi.CertificateSpec
			env.OnActivity(actIssueWithinTask, mock.Anything, mock.Anything).Return(func(ctx context.Context, in issuance.Input) (issuance.Result, error) {
				csrSpecs = append(csrSpecs, in.CSR.Spec)
				return oneStep(ctx, env, in)
			})
			expectIssuance(env, &statuses)
			in := testInput()
			in.Generation, in.Revision = 3, 1
			replacement := testInput().Spec
			replacement.DNSNames = []string{"other.example.com"}
			replacement.CommonName = "other.example.com"
			env.RegisterDelayedCallback(func() {
				del := func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }
				spec := func() { env.SignalWorkflow(SignalSpec, SpecSignal{UID: "uid-2", Generation: 1, Spec: replacement}) }
				if deleteFirst {
					del()
					spec()
				} else {
					spec()
					del()
				}
			}, 10*time.Minute)
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-2"}) }, 2*time.Hour)

			env.ExecuteWorkflow(CertificateWorkflow, in)

			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("want the workflow to end at the new object's deletion, got %v", err)
			}
			if got := env.Now(); got.Before(epoch.Add(2 * time.Hour)) {
				t.Fatalf("workflow ended at %v: the old object's deletion ended the new one's workflow", got)
			}
			if len(csrSpecs) != 1 || csrSpecs[0].CommonName != "other.example.com" {
				t.Fatalf("issued for %+v, want one issuance for the replacement's spec", csrSpecs)
			}
			last := statuses[len(statuses)-1]
			if last.UID != "uid-2" || last.ObservedGeneration != 1 || last.Revision == nil || *last.Revision != 1 {
				t.Errorf("last status for UID %s generation %d revision %v, want uid-2, 1, 1 (a new object's first revision)",
					last.UID, last.ObservedGeneration, last.Revision)
			}
		})
	}
}

// A Secret that another Certificate wrote and still names is left alone: Ready=False
// DuplicateSecretName naming the other, no issuance, a look again on the re-check timer;
// once the other lets it go, the Certificate issues into it.
func TestSecretUsedByAnotherCertificateIsLeftAlone(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	releasedAt := epoch.Add(time.Hour)
	onIssuer(env, readySelfSigned)
	onSecret(env, func(context.Context, kube.InspectSecretInput) (policy.SecretState, error) {
		other := validSecret(epoch)
		other.Certificate.DNSNames, other.Certificate.CommonName = []string{"other.example.com"}, "other.example.com"
		if env.Now().Before(releasedAt) {
			other.UsedBy = "other"
		}
		return other, nil
	})
	var issued []time.Time
	captureIssuance(env, &issued)
	expectIssuance(env, &statuses)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after the issuance, got %v", env.GetWorkflowError())
	}
	first := statuses[0].Ready
	if first.Status != cmmeta.ConditionFalse || first.Reason != ReasonDuplicateSecretName || !strings.Contains(first.Message, `Certificate "other"`) {
		t.Errorf("first status %+v, want Ready=False %s naming the other Certificate", first, ReasonDuplicateSecretName)
	}
	if len(issued) != 1 || issued[0].Before(releasedAt) || issued[0].After(releasedAt.Add(policy.SignalRecheck)) {
		t.Errorf("issued at %v, want once, within a re-check of the Secret's release at %v", issued, releasedAt)
	}
}
