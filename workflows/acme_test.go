package workflows

import (
	"context"
	"errors"
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
	"github.com/certflow/certflow/activities/scheduler"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

func newACMEEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(epoch)
	env.RegisterWorkflow(OrderWorkflow)
	env.RegisterWorkflow(ChallengeWorkflow)
	registerAllActivities(env)
	return env
}

var dnsChallenge = ChallengeInput{
	Challenge: kube.ObjectRef{Namespace: "ns", Name: "web-1-123-456", UID: "ch-uid"},
	Spec: acmev1.ChallengeSpec{
		URL: "https://acme/chall/1", AuthorizationURL: "https://acme/authz/1", DNSName: "example.com", Type: acmev1.ACMEChallengeTypeDNS01,
		Token: "tok", Key: "tok.thumb", Solver: acmev1.ACMEChallengeSolver{DNS01: &acmev1.ACMEChallengeSolverDNS01{}},
	},
	SelfCheckTimeout: time.Minute,
}

// recordChallengeStatus collects the Challenge status writes.
func recordChallengeStatus(env *testsuite.TestWorkflowEnvironment) *[]kube.ChallengeStatusInput {
	var got []kube.ChallengeStatusInput
	env.OnActivity(actSetChallengeStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.ChallengeStatusInput) error {
		got = append(got, in)
		return nil
	})
	return &got
}

// The self check fails twice (visible in the reason, with the next try's time), then
// passes; the server validates; the TXT record is removed at the end.
func TestChallengeSelfCheckRetriesOnTimersThenValid(t *testing.T) {
	env := newACMEEnv(t)
	statuses := recordChallengeStatus(env)
	env.OnActivity(actPresentDNS01, mock.Anything, mock.Anything).Return(dns01.DNS01Record{FQDN: "_acme-challenge.example.com.", Value: "v"}, nil).Once()
	checks := 0
	env.OnActivity(actCheckDNS01Propagation, mock.Anything, mock.Anything).Return(func(context.Context, dns01.DNS01Input) (dns01.CheckResult, error) {
		checks++
		if checks < 3 {
			return dns01.CheckResult{Detail: "127.0.0.1:8053 has no TXT at _acme-challenge.example.com."}, nil
		}
		return dns01.CheckResult{Ready: true}, nil
	})
	env.OnActivity(actAcceptChallenge, mock.Anything, mock.Anything).Return(acme.ChallengeInfo{Status: "processing"}, nil).Once()
	env.OnActivity(actGetAuthorization, mock.Anything, mock.Anything).Return(acme.Authorization{Status: "valid"}, nil)
	cleaned := 0
	env.OnActivity(actCleanUpDNS01, mock.Anything, mock.Anything).Return(func(context.Context, dns01.DNS01Input) error { cleaned++; return nil })

	env.ExecuteWorkflow(ChallengeWorkflow, dnsChallenge)

	var res ChallengeResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != acmev1.Valid || checks != 3 || cleaned != 1 {
		t.Fatalf("result %+v after %d checks, %d clean ups; want valid, 3, 1", res, checks, cleaned)
	}
	var waiting []string
	for _, s := range *statuses {
		if strings.Contains(s.Reason, "has no TXT") {
			waiting = append(waiting, s.Reason)
		}
	}
	if len(waiting) != 2 || !strings.Contains(waiting[0], "next check at") {
		t.Errorf("self-check failures in the Challenge's reason = %q, want 2 saying what failed and when the next try is", waiting)
	}
	last := (*statuses)[len(*statuses)-1]
	if last.State != acmev1.Valid || last.Processing || last.Presented {
		t.Errorf("final status %+v, want valid, not processing, not presented", last)
	}
}

// A challenge valid at the first look writes no status at all: the Order deletes the
// Challenge next. One that fails writes why.
func TestChallengeValidAtOnceWritesNoStatus(t *testing.T) {
	for _, tc := range []struct {
		authz     string
		wantWrite bool
	}{{"valid", false}, {"invalid", true}} {
		t.Run(tc.authz, func(t *testing.T) {
			env := newACMEEnv(t)
			statuses := recordChallengeStatus(env)
			env.OnActivity(actPresentDNS01, mock.Anything, mock.Anything).Return(dns01.DNS01Record{}, nil)
			env.OnActivity(actCheckDNS01Propagation, mock.Anything, mock.Anything).Return(dns01.CheckResult{Ready: true}, nil)
			env.OnActivity(actAcceptChallenge, mock.Anything, mock.Anything).Return(acme.ChallengeInfo{Status: "processing"}, nil)
			env.OnActivity(actGetAuthorization, mock.Anything, mock.Anything).Return(acme.Authorization{Status: tc.authz}, nil)
			env.OnActivity(actCleanUpDNS01, mock.Anything, mock.Anything).Return(nil)

			env.ExecuteWorkflow(ChallengeWorkflow, dnsChallenge)

			var res ChallengeResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if string(res.State) != tc.authz {
				t.Fatalf("result %+v, want %s", res, tc.authz)
			}
			if wrote := len(*statuses) > 0; wrote != tc.wantWrite {
				t.Errorf("Challenge status writes %+v, want some: %t", *statuses, tc.wantWrite)
			}
		})
	}
}

// A self check that never passes does not hang the challenge: after the timeout the
// server is asked, and its verdict (with its message) ends it; the record is removed.
func TestChallengeSelfCheckTimeoutLetsTheServerDecide(t *testing.T) {
	env := newACMEEnv(t)
	recordChallengeStatus(env)
	env.OnActivity(actPresentDNS01, mock.Anything, mock.Anything).Return(dns01.DNS01Record{}, nil)
	env.OnActivity(actCheckDNS01Propagation, mock.Anything, mock.Anything).Return(dns01.CheckResult{Detail: "wrong value"}, nil)
	env.OnActivity(actAcceptChallenge, mock.Anything, mock.Anything).Return(acme.ChallengeInfo{Status: "processing"}, nil).Once()
	env.OnActivity(actGetAuthorization, mock.Anything, mock.Anything).Return(acme.Authorization{Status: "invalid", Error: "Incorrect TXT record \"x\" found at _acme-challenge.example.com"}, nil)
	cleaned := 0
	env.OnActivity(actCleanUpDNS01, mock.Anything, mock.Anything).Return(func(context.Context, dns01.DNS01Input) error { cleaned++; return nil })

	env.ExecuteWorkflow(ChallengeWorkflow, dnsChallenge)

	var res ChallengeResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != acmev1.Invalid || !strings.Contains(res.Reason, "Incorrect TXT record") || cleaned != 1 {
		t.Fatalf("result %+v, %d clean ups; want invalid with the server's message, cleaned once", res, cleaned)
	}
	if env.Now().Sub(epoch) > 2*time.Minute {
		t.Errorf("took %v of workflow time; the self-check timeout is 1m", env.Now().Sub(epoch))
	}
}

// Cancelled mid-way (the order was abandoned), the challenge still cleans up.
func TestChallengeCleansUpWhenCancelled(t *testing.T) {
	env := newACMEEnv(t)
	recordChallengeStatus(env)
	env.OnActivity(actPresentDNS01, mock.Anything, mock.Anything).Return(dns01.DNS01Record{}, nil)
	env.OnActivity(actCheckDNS01Propagation, mock.Anything, mock.Anything).Return(dns01.CheckResult{Detail: "not yet"}, nil)
	cleaned := 0
	env.OnActivity(actCleanUpDNS01, mock.Anything, mock.Anything).Return(func(context.Context, dns01.DNS01Input) error { cleaned++; return nil })
	env.RegisterDelayedCallback(env.CancelWorkflow, 10*time.Second)

	env.ExecuteWorkflow(ChallengeWorkflow, dnsChallenge)

	if err := env.GetWorkflowError(); err == nil || !temporal.IsCanceledError(errors.Unwrap(err)) && !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("want a cancelled workflow, got %v", err)
	}
	if cleaned != 1 {
		t.Fatalf("cleaned up %d times after cancellation, want 1", cleaned)
	}
}

func testOrderInput() OrderInput {
	return OrderInput{
		Request: kube.RequestRef{Namespace: "ns", Name: "web-1", UID: "cr-uid"}, OrderName: "web-1-42",
		Solvers: []acmev1.ACMEChallengeSolver{{DNS01: &acmev1.ACMEChallengeSolverDNS01{}}},
		Spec:    acmev1.OrderSpec{Request: []byte("csr"), DNSNames: []string{"example.com"}},
	}
}

// An order whose challenge fails is invalid, with the server's reason, and its
// Challenge objects are deleted.
func TestOrderInvalidWhenChallengeFails(t *testing.T) {
	env := newACMEEnv(t)
	env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
	env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "pending", Authorizations: []string{"https://acme/authz/1"}}, nil).Once()
	env.OnActivity(actGetSettings, mock.Anything).Return(acme.Settings{SelfCheckTimeout: time.Minute}, nil)
	env.OnActivity(actGetAuthorization, mock.Anything, mock.Anything).Return(acme.Authorization{Status: "pending", Identifier: "example.com",
		Challenges: []acme.ChallengeInfo{{Type: "dns-01", URL: "https://acme/chall/1", Token: "tok", KeyAuthorization: "tok.thumb", Status: "pending"}}}, nil).Once()
	var created []kube.CreateChallengeInput
	env.OnActivity(actCreateChallenge, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.CreateChallengeInput) (kube.ObjectRef, error) {
		created = append(created, in)
		return kube.ObjectRef{Namespace: "ns", Name: in.Name, UID: "ch-uid"}, nil
	})
	var orderStates []kube.OrderStatusInput
	env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.OrderStatusInput) error {
		orderStates = append(orderStates, in)
		return nil
	})
	env.OnWorkflow(ChallengeWorkflow, mock.Anything, mock.Anything).Return(ChallengeResult{State: acmev1.Invalid, Reason: "Authorization invalid: Incorrect TXT record"}, nil)
	var deleted []kube.ObjectRef
	env.OnActivity(actDeleteChallenge, mock.Anything, mock.Anything).Return(func(_ context.Context, ref kube.ObjectRef) error {
		deleted = append(deleted, ref)
		return nil
	})

	env.ExecuteWorkflow(OrderWorkflow, testOrderInput())

	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypeOrderFailed || !strings.Contains(appErr.Message(), "Incorrect TXT record") {
		t.Fatalf("want an %s error with the server's reason, got %v", ErrTypeOrderFailed, err)
	}
	if len(created) != 1 || created[0].Spec.Type != acmev1.ACMEChallengeTypeDNS01 || created[0].Spec.Key != "tok.thumb" {
		t.Fatalf("Challenges created: %+v", created)
	}
	if len(deleted) != 1 || deleted[0].Name != created[0].Name {
		t.Errorf("Challenges deleted: %+v, want the one created", deleted)
	}
	last := orderStates[len(orderStates)-1]
	if last.State != acmev1.Invalid || !strings.Contains(last.Reason, "Incorrect TXT record") {
		t.Errorf("last Order status %+v, want invalid with the reason", last)
	}
}

// The happy path: finalize once ready, poll on timers until valid, fetch the chain.
func TestOrderValid(t *testing.T) {
	env := newACMEEnv(t)
	env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
	env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "pending", FinalizeURL: "https://acme/fin/1", Authorizations: []string{"https://acme/authz/1"}}, nil).Once()
	env.OnActivity(actGetSettings, mock.Anything).Return(acme.Settings{SelfCheckTimeout: time.Minute}, nil)
	env.OnActivity(actGetAuthorization, mock.Anything, mock.Anything).Return(acme.Authorization{Status: "pending", Identifier: "example.com",
		Challenges: []acme.ChallengeInfo{{Type: "http-01", URL: "https://acme/chall/0"}, {Type: "dns-01", URL: "https://acme/chall/1", Token: "tok", KeyAuthorization: "tok.thumb"}}}, nil).Once()
	env.OnActivity(actCreateChallenge, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "ch", UID: "ch-uid"}, nil)
	env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(actDeleteChallenge, mock.Anything, mock.Anything).Return(nil)
	env.OnWorkflow(ChallengeWorkflow, mock.Anything, mock.Anything).Return(ChallengeResult{State: acmev1.Valid}, nil)
	gets := 0
	env.OnActivity(actGetOrder, mock.Anything, mock.Anything).Return(func(context.Context, acme.OrderURLInput) (acme.OrderState, error) {
		gets++
		switch gets {
		case 1:
			return acme.OrderState{URL: "https://acme/order/1", FinalizeURL: "https://acme/fin/1", Status: "ready"}, nil
		case 2:
			return acme.OrderState{URL: "https://acme/order/1", Status: "processing"}, nil
		}
		return acme.OrderState{URL: "https://acme/order/1", Status: "valid", CertificateURL: "https://acme/cert/1"}, nil
	})
	env.OnActivity(actFinalizeOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "processing"}, nil).Once()
	env.OnActivity(actFetchCertificate, mock.Anything, mock.Anything).Return(acme.Chain{CertificatePEM: []byte("chain")}, nil).Once()

	env.ExecuteWorkflow(OrderWorkflow, testOrderInput())

	var res OrderResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if string(res.CertificatePEM) != "chain" || gets != 3 {
		t.Fatalf("result %+v after %d order reads", res, gets)
	}
}

// An order resumed while the server is still processing the CSR (the worker was lost
// right after finalizing) waits for it instead of failing.
func TestOrderResumedWhileProcessing(t *testing.T) {
	env := newACMEEnv(t)
	env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
	env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "processing"}, nil).Once()
	env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(nil)
	gets := 0
	env.OnActivity(actGetOrder, mock.Anything, mock.Anything).Return(func(context.Context, acme.OrderURLInput) (acme.OrderState, error) {
		gets++
		if gets < 3 {
			return acme.OrderState{URL: "https://acme/order/1", Status: "processing"}, nil
		}
		return acme.OrderState{URL: "https://acme/order/1", Status: "valid", CertificateURL: "https://acme/cert/1"}, nil
	})
	env.OnActivity(actFetchCertificate, mock.Anything, mock.Anything).Return(acme.Chain{CertificatePEM: []byte("chain")}, nil).Once()

	env.ExecuteWorkflow(OrderWorkflow, testOrderInput())

	var res OrderResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if string(res.CertificatePEM) != "chain" || res.RenewalInfo != nil {
		t.Fatalf("result %+v, want the chain and no renewal information (not asked)", res)
	}
}

// An order asked for the renewal information reads it for the chain it downloaded
// (not from a Secret) and returns it; a read that does not end leaves it to the
// Certificate.
func TestOrderReadsRenewalInfoOfItsChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{{"read", nil}, {"read never ends", errors.New("deadline exceeded")}} {
		t.Run(tc.name, func(t *testing.T) {
			env := newACMEEnv(t)
			env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
			env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "valid", CertificateURL: "https://acme/cert/1"}, nil).Once()
			env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(nil)
			env.OnActivity(actGetOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "valid", CertificateURL: "https://acme/cert/1"}, nil)
			env.OnActivity(actFetchCertificate, mock.Anything, mock.Anything).Return(acme.Chain{CertificatePEM: []byte("chain")}, nil).Once()
			env.OnActivity(actGetRenewalInfo, mock.Anything, mock.MatchedBy(func(in acme.RenewalInfoInput) bool {
				return string(in.CertificatePEM) == "chain" && in.SecretName == ""
			})).Return(acme.RenewalInfo{Supported: true, CertID: "aki.serial"}, tc.err)
			in := testOrderInput()
			in.ReadRenewalInfo = true

			env.ExecuteWorkflow(OrderWorkflow, in)

			var res OrderResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if got := res.RenewalInfo != nil && res.RenewalInfo.CertID == "aki.serial"; got != (tc.err == nil) || string(res.CertificatePEM) != "chain" {
				t.Errorf("result %+v, want the chain, renewal information %v", res, tc.err == nil)
			}
		})
	}
}

// The Certificate's HTTP-01 override annotations (set by ingress-shim) reach the solver
// of its HTTP-01 Challenge: the Ingress edited in place instead of the issuer's class.
// Conflicting ones fail the order with the reason instead of making a Challenge.
func TestOrderAppliesHTTP01Overrides(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		wantName  string
		wantErr   string
	}{
		{name: "none", wantName: ""},
		{name: "edit in place", overrides: map[string]string{acmev1.ACMECertificateHTTP01IngressNameOverride: "site"}, wantName: "site"},
		{name: "conflicting", overrides: map[string]string{acmev1.ACMECertificateHTTP01IngressNameOverride: "site", acmev1.ACMECertificateHTTP01IngressClassOverride: "traefik"},
			wantErr: "may not specify more than one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newACMEEnv(t)
			env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
			env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "pending", Authorizations: []string{"https://acme/authz/1"}}, nil).Once()
			env.OnActivity(actGetSettings, mock.Anything).Return(acme.Settings{SelfCheckTimeout: time.Minute}, nil)
			env.OnActivity(actGetAuthorization, mock.Anything, mock.Anything).Return(acme.Authorization{Status: "pending", Identifier: "example.com",
				Challenges: []acme.ChallengeInfo{{Type: "http-01", URL: "https://acme/chall/0", Token: "tok", KeyAuthorization: "tok.thumb"}}}, nil).Once()
			var created []kube.CreateChallengeInput
			env.OnActivity(actCreateChallenge, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.CreateChallengeInput) (kube.ObjectRef, error) {
				created = append(created, in)
				return kube.ObjectRef{Namespace: "ns", Name: in.Name, UID: "ch-uid"}, nil
			})
			env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(nil)
			env.OnActivity(actDeleteChallenge, mock.Anything, mock.Anything).Return(nil)
			env.OnWorkflow(ChallengeWorkflow, mock.Anything, mock.Anything).Return(ChallengeResult{State: acmev1.Invalid, Reason: "stop here"}, nil)
			class := "nginx"
			in := testOrderInput()
			in.Solvers = []acmev1.ACMEChallengeSolver{{HTTP01: &acmev1.ACMEChallengeSolverHTTP01{Ingress: &acmev1.ACMEChallengeSolverHTTP01Ingress{Class: &class}}}}
			in.HTTP01Overrides = tc.overrides

			env.ExecuteWorkflow(OrderWorkflow, in)

			err := env.GetWorkflowError()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || len(created) != 0 {
					t.Fatalf("error %v, %d Challenges; want %q and none", err, len(created), tc.wantErr)
				}
				return
			}
			if len(created) != 1 {
				t.Fatalf("Challenges created: %+v", created)
			}
			ing := created[0].Spec.Solver.HTTP01.Ingress
			if ing.Name != tc.wantName || (tc.wantName == "") != (ing.Class != nil && *ing.Class == "nginx") {
				t.Errorf("solver ingress %+v (class %v), want name %q", ing, ing.Class, tc.wantName)
			}
			if in.Solvers[0].HTTP01.Ingress.Name != "" || *in.Solvers[0].HTTP01.Ingress.Class != "nginx" {
				t.Errorf("the issuer's solver was changed: %+v", in.Solvers[0].HTTP01.Ingress)
			}
		})
	}
}

// Only the server's refusals count as failed validations of their names: a challenge
// that errored on this side (an accept that timed out) makes the order errored, and
// its name is not held back by the failed-validation limit.
func TestChallengesFailureCountsOnlyRefusedNames(t *testing.T) {
	accept := ChallengeResult{State: acmev1.Errored, Reason: "Error accepting challenge: deadline exceeded (type: StartToClose)"}
	refused := ChallengeResult{State: acmev1.Invalid, Reason: "Authorization invalid: Incorrect TXT record"}
	unknown := ChallengeResult{State: acmev1.Errored, Reason: "Error accepting challenge: accountDoesNotExist", AccountUnknown: true}
	valid := ChallengeResult{State: acmev1.Valid}
	for _, tc := range []struct {
		name        string
		a, b        ChallengeResult
		wantState   acmev1.State // the Order's end
		wantType    string       // the order's error
		wantOutcome string
		wantFailed  []string
	}{
		{name: "all valid", a: valid, b: valid, wantState: acmev1.Valid, wantOutcome: scheduler.OutcomeValid},
		{name: "refused", a: valid, b: refused, wantState: acmev1.Invalid, wantType: ErrTypeOrderFailed, wantOutcome: scheduler.OutcomeInvalid, wantFailed: []string{"b.example.com"}},
		{name: "errored", a: accept, b: valid, wantState: acmev1.Errored, wantType: ErrTypeOrderFailed, wantOutcome: scheduler.OutcomeErrored},
		{name: "both", a: accept, b: refused, wantState: acmev1.Invalid, wantType: ErrTypeOrderFailed, wantOutcome: scheduler.OutcomeInvalid, wantFailed: []string{"b.example.com"}},
		{name: "account unknown", a: unknown, b: valid, wantState: acmev1.Errored, wantType: acme.ErrTypeAccountUnknown, wantOutcome: scheduler.OutcomeErrored},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newACMEEnv(t)
			env.OnActivity(actRequestSlot, mock.Anything, mock.Anything).Return(func(_ context.Context, in scheduler.RequestSlotInput) (scheduler.RequestSlotResult, error) {
				return scheduler.RequestSlotResult{Scheduler: in.SchedulerID, Granted: true}, nil
			})
			var releases []scheduler.Release
			env.OnActivity(actReleaseSlot, mock.Anything, mock.Anything).Return(func(_ context.Context, in scheduler.ReleaseSlotInput) error {
				releases = append(releases, in.Release)
				return nil
			})
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", scheduler.SignalOrdered, mock.Anything).Return(nil).Maybe()
			env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
			env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "pending",
				FinalizeURL: "https://acme/fin/1", Authorizations: []string{"https://acme/authz/a", "https://acme/authz/b"}}, nil)
			env.OnActivity(actGetSettings, mock.Anything).Return(acme.Settings{SelfCheckTimeout: time.Minute}, nil)
			env.OnActivity(actGetAuthorization, mock.Anything, mock.Anything).Return(func(_ context.Context, in acme.AuthorizationInput) (acme.Authorization, error) {
				name := strings.TrimPrefix(in.URL, "https://acme/authz/") + ".example.com"
				return acme.Authorization{Status: "pending", Identifier: name,
					Challenges: []acme.ChallengeInfo{{Type: "dns-01", URL: in.URL + "/dns", Token: "tok", KeyAuthorization: "tok.thumb"}}}, nil
			})
			env.OnActivity(actCreateChallenge, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.CreateChallengeInput) (kube.ObjectRef, error) {
				return kube.ObjectRef{Namespace: "ns", Name: in.Name, UID: "ch-" + in.Name}, nil
			})
			env.OnActivity(actDeleteChallenge, mock.Anything, mock.Anything).Return(nil)
			env.OnWorkflow(ChallengeWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in ChallengeInput) (ChallengeResult, error) {
				if in.Spec.DNSName == "a.example.com" {
					return tc.a, nil
				}
				return tc.b, nil
			})
			var orderStates []kube.OrderStatusInput
			env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.OrderStatusInput) error {
				orderStates = append(orderStates, in)
				return nil
			})
			env.OnActivity(actGetOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "valid", CertificateURL: "https://acme/cert/1"}, nil)
			env.OnActivity(actFetchCertificate, mock.Anything, mock.Anything).Return(acme.Chain{CertificatePEM: []byte("chain")}, nil)
			in := testOrderInput()
			in.Spec.DNSNames = []string{"a.example.com", "b.example.com"}

			env.ExecuteWorkflow(OrderWorkflow, in)

			err := env.GetWorkflowError()
			var appErr *temporal.ApplicationError
			switch {
			case tc.wantType == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.wantType != "" && (!errors.As(err, &appErr) || appErr.Type() != tc.wantType || !appErr.NonRetryable()):
				t.Fatalf("error %v, want a final %s", err, tc.wantType)
			}
			for _, r := range []ChallengeResult{tc.a, tc.b} {
				if appErr != nil && r.State != acmev1.Valid && !strings.Contains(appErr.Message(), r.Reason) {
					t.Errorf("message %q does not say %q", appErr.Message(), r.Reason)
				}
			}
			if last := orderStates[len(orderStates)-1]; last.State != tc.wantState {
				t.Errorf("the Order ended %s, want %s", last.State, tc.wantState)
			}
			if len(releases) != 1 || releases[0].Outcome != tc.wantOutcome || !slices.Equal(releases[0].FailedNames, tc.wantFailed) {
				t.Errorf("releases %+v, want one %s with failed names %v", releases, tc.wantOutcome, tc.wantFailed)
			}
		})
	}
}
