package workflows

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/dns01"
	"github.com/certflow/certflow/activities/kube"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

var errAccountUnknown = temporal.NewNonRetryableApplicationError(
	"create ACME order: Account https://acme/my-account/old not found. (urn:ietf:params:acme:error:accountDoesNotExist, HTTP 400)",
	acme.ErrTypeAccountUnknown, nil)

// An order the server refuses for an unknown account fails with that type (not as an
// ordinary failed order), and the Order records the server's words.
func TestOrderFailsWithAccountUnknown(t *testing.T) {
	env := newACMEEnv(t)
	env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
	env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{}, errAccountUnknown).Once()
	var marked []kube.OrderStatusInput
	env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.OrderStatusInput) error {
		marked = append(marked, in)
		return nil
	})

	env.ExecuteWorkflow(OrderWorkflow, testOrderInput())

	err := env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != acme.ErrTypeAccountUnknown {
		t.Fatalf("order error %v, want type %s", err, acme.ErrTypeAccountUnknown)
	}
	if len(marked) != 1 || marked[0].State != acmev1.Errored {
		t.Errorf("Order statuses %+v, want one Errored", marked)
	}
}

var readyACME = kube.IssuerInfo{Found: true, Ready: true, Type: kube.IssuerTypeACME, ResourceNamespace: "cert-manager",
	ACMEAccountURL: "https://acme/my-account/old",
	Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{ACME: &acmev1.ACMEIssuer{
		Server: "https://acme/dir", Email: "ops@example.com", PrivateKeySecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "le-account"}},
		Solvers: []acmev1.ACMEChallengeSolver{{DNS01: &acmev1.ACMEChallengeSolverDNS01{}}},
	}}}}

// An order refused because the server does not know the account registers the
// account again, tells the issuer, and orders again at once with the new account:
// issued without a failure and without the backoff.
func TestACMEAccountUnknownRegistersAgainAndOrdersAtOnce(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(OrderWorkflow)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readyACME)
	onSecret(env, policy.SecretState{})
	var issued []time.Time
	captureIssuance(env, &issued)
	expectIssuance(env, &statuses)
	var registered []acme.RegisterInput
	env.OnActivity(actRegisterAccount, mock.Anything, mock.Anything).Return(func(_ context.Context, in acme.RegisterInput) (acme.AccountResult, error) {
		registered = append(registered, in)
		return acme.AccountResult{URI: "https://acme/my-account/new", Email: in.Email}, nil
	})
	var accounts []string
	env.OnWorkflow(OrderWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in OrderInput) (OrderResult, error) {
		accounts = append(accounts, in.Account.URL)
		if in.Account.URL == "https://acme/my-account/old" {
			return OrderResult{}, errAccountUnknown
		}
		return OrderResult{CertificatePEM: []byte("chain")}, nil
	})
	var signalled []string
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", SignalSecretChanged, mock.Anything).Return(
		func(_, id, _, _ string, _ interface{}) error { signalled = append(signalled, id); return nil })
	in := testInput()
	in.Spec.IssuerRef = cmmeta.IssuerReference{Name: "letsencrypt", Kind: cmapi.ClusterIssuerKind}

	env.ExecuteWorkflow(CertificateWorkflow, in)

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after the issuance, got %v", env.GetWorkflowError())
	}
	if want := []string{"https://acme/my-account/old", "https://acme/my-account/new"}; !slices.Equal(accounts, want) {
		t.Errorf("orders ran as accounts %v, want %v", accounts, want)
	}
	if len(registered) != 1 || registered[0].Account.KeySecretName != "le-account" || registered[0].Account.KeyNamespace != "cert-manager" ||
		registered[0].Email != "ops@example.com" || registered[0].Account.URL != "" {
		t.Errorf("registered %+v, want the issuer's account once (key cert-manager/le-account, its email, no URL)", registered)
	}
	if !slices.Equal(signalled, []string{"clusterissuer/letsencrypt"}) {
		t.Errorf("signalled %v, want the ClusterIssuer's workflow", signalled)
	}
	if len(issued) != 1 || !issued[0].Equal(epoch) {
		t.Errorf("issued at %v, want once, at once", issued)
	}
	for _, st := range statuses {
		if st.FailedIssuanceAttempts != nil {
			t.Errorf("a status recorded a failure: %+v", st)
		}
	}
}

// A second refusal (or a registration the server refuses) fails the attempt as any
// failed order does: into the backoff, one registration, no loop.
func TestACMEAccountUnknownTwiceFails(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(OrderWorkflow)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readyACME)
	onSecret(env, policy.SecretState{})
	expectIssuance(env, &statuses)
	env.OnActivity(actRegisterAccount, mock.Anything, mock.Anything).Return(acme.AccountResult{URI: "https://acme/my-account/new"}, nil).Once()
	orders := 0
	env.OnWorkflow(OrderWorkflow, mock.Anything, mock.Anything).Return(func(workflow.Context, OrderInput) (OrderResult, error) {
		orders++
		return OrderResult{}, errAccountUnknown
	})
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", SignalSecretChanged, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() {
		st := queryStatus(t, env)
		if st.Phase != PhaseBackoff || st.FailedAttempts != 1 {
			t.Errorf("status = %+v, want Backoff after 1 failure", st)
		}
		env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"})
	}, 10*time.Minute)

	env.ExecuteWorkflow(CertificateWorkflow, testInput())

	if orders != 2 {
		t.Errorf("%d orders, want 2 (the refused one and one retry)", orders)
	}
}

func newIssuerEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(epoch)
	env.RegisterWorkflow(IssuerWorkflow)
	registerAllActivities(env)
	return env
}

// A Ready ACME issuer registers again on the account re-check timer, so an account
// the server forgot shows (and is replaced) without any signal.
func TestACMEIssuerReverifiesItsAccount(t *testing.T) {
	env := newIssuerEnv(t)
	var at []time.Time
	var known []string
	uris := []string{"https://acme/my-account/1", "https://acme/my-account/1", "https://acme/my-account/2"}
	env.OnActivity(actRegisterAccount, mock.Anything, mock.Anything).Return(func(_ context.Context, in acme.RegisterInput) (acme.AccountResult, error) {
		at = append(at, env.Now())
		known = append(known, in.Account.URL)
		return acme.AccountResult{URI: uris[min(len(at), len(uris))-1], RecheckAfter: 15 * time.Minute}, nil
	})
	var written []string
	env.OnActivity(actSetIssuerStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.IssuerStatusInput) error {
		written = append(written, in.ACME.URI)
		return nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "iss-uid"}) }, 40*time.Minute)

	env.ExecuteWorkflow(IssuerWorkflow, IssuerInput{Kind: cmapi.ClusterIssuerKind, Name: "letsencrypt", UID: "iss-uid", Generation: 1,
		Spec: readyACME.Spec})

	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []time.Time{epoch, epoch.Add(15 * time.Minute), epoch.Add(30 * time.Minute)}
	if !slices.EqualFunc(at, want, time.Time.Equal) {
		t.Errorf("registered at %v, want %v", at, want)
	}
	// The re-checks look up the account registered before; the first registers.
	if want := []string{"", "https://acme/my-account/1", "https://acme/my-account/1"}; !slices.Equal(known, want) {
		t.Errorf("registrations knew accounts %q, want %q", known, want)
	}
	if len(written) == 0 || written[len(written)-1] != "https://acme/my-account/2" {
		t.Errorf("status URIs written %v, want the last to be the new account", written)
	}
}

// A challenge that the server refuses for the unknown account (a server restarted
// mid-order) fails the order with that type too.
func TestOrderFailsWithAccountUnknownFromAChallenge(t *testing.T) {
	env := newACMEEnv(t)
	env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
	env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "pending", Authorizations: []string{"https://acme/authz/1"}}, nil).Once()
	env.OnActivity(actGetSettings, mock.Anything).Return(acme.Settings{SelfCheckTimeout: time.Minute}, nil)
	env.OnActivity(actGetAuthorization, mock.Anything, mock.Anything).Return(acme.Authorization{Status: "pending", Identifier: "example.com",
		Challenges: []acme.ChallengeInfo{{Type: "dns-01", URL: "https://acme/chall/1", Token: "tok", KeyAuthorization: "tok.thumb", Status: "pending"}}}, nil).Once()
	env.OnActivity(actCreateChallenge, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "ch", UID: "ch-uid"}, nil)
	env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(actDeleteChallenge, mock.Anything, mock.Anything).Return(nil)
	env.OnWorkflow(ChallengeWorkflow, mock.Anything, mock.Anything).Return(ChallengeResult{State: acmev1.Errored,
		Reason: "Error accepting challenge: " + errAccountUnknown.Error(), AccountUnknown: true}, nil)

	env.ExecuteWorkflow(OrderWorkflow, testOrderInput())

	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != acme.ErrTypeAccountUnknown || !strings.Contains(appErr.Message(), "accountDoesNotExist") {
		t.Fatalf("order error %v, want type %s with the server's words", err, acme.ErrTypeAccountUnknown)
	}
}

// The challenge says so when the server refuses the account while it accepts.
func TestChallengeReportsAccountUnknown(t *testing.T) {
	env := newACMEEnv(t)
	recordChallengeStatus(env)
	env.OnActivity(actPresentDNS01, mock.Anything, mock.Anything).Return(dns01.DNS01Record{FQDN: "_acme-challenge.example.com.", Value: "v"}, nil)
	env.OnActivity(actCheckDNS01Propagation, mock.Anything, mock.Anything).Return(dns01.CheckResult{Ready: true}, nil)
	env.OnActivity(actAcceptChallenge, mock.Anything, mock.Anything).Return(acme.ChallengeInfo{}, errAccountUnknown)
	env.OnActivity(actCleanUpDNS01, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(ChallengeWorkflow, dnsChallenge)

	var res ChallengeResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != acmev1.Errored || !res.AccountUnknown {
		t.Errorf("result %+v, want errored with AccountUnknown", res)
	}
}

// The ACME solvers select by the Certificate's labels as they are when its request is
// made (what CreateCertificateRequest read), not as the last spec signal had them: a
// label change is no new generation, so no signal carries it.
func TestOrderSelectsByLabelsReadWithTheRequest(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(OrderWorkflow)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readyACME)
	onSecret(env, policy.SecretState{})
	env.OnActivity(actCreateCertificateRequest, mock.Anything, mock.Anything).Return(
		kube.CreatedRequest{RequestRef: kube.RequestRef{Namespace: "ns", Name: "web-1", UID: "cr-uid"},
			CertificateLabels: map[string]string{"solver": "now"}, LabelsRead: true}, nil).Once()
	var issued []time.Time
	captureIssuance(env, &issued)
	expectIssuance(env, &statuses)
	var labels []map[string]string
	env.OnWorkflow(OrderWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in OrderInput) (OrderResult, error) {
		labels = append(labels, in.CertificateLabels)
		return OrderResult{CertificatePEM: []byte("chain")}, nil
	})
	in := testInput()
	in.Spec.IssuerRef = cmmeta.IssuerReference{Name: "letsencrypt", Kind: cmapi.ClusterIssuerKind}
	in.Labels = map[string]string{"solver": "at-creation"}

	env.ExecuteWorkflow(CertificateWorkflow, in)

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after the issuance, got %v", env.GetWorkflowError())
	}
	if len(labels) != 1 || !maps.Equal(labels[0], map[string]string{"solver": "now"}) {
		t.Errorf("orders got labels %v, want the ones read with the request", labels)
	}
}
