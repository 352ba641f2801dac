package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/kube"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

// Renewal information (RFC 9773) with activities mocked: the window sets the renewal
// time, a moved window moves it, and without a window the renewal is as before.

const day = 24 * time.Hour

// ariCertificate is a Certificate of an ACME issuer whose Secret holds a valid 90-day
// certificate from epoch, and the statuses and orders the run makes.
func ariCertificate(t *testing.T, issuer kube.IssuerInfo, info func() acme.RenewalInfo) (*testsuite.TestWorkflowEnvironment, *[]kube.CertificateStatusInput, *[]OrderInput) {
	env := newEnv(t)
	env.RegisterWorkflow(OrderWorkflow)
	statuses, orders := &[]kube.CertificateStatusInput{}, &[]OrderInput{}
	onIssuer(env, issuer)
	secret := validSecret(epoch)
	secret.IssuerName, secret.IssuerKind = "letsencrypt", cmapi.ClusterIssuerKind
	onSecret(env, secret)
	if info != nil {
		env.OnActivity(actGetRenewalInfo, mock.Anything, mock.Anything).Return(func(context.Context, acme.RenewalInfoInput) (acme.RenewalInfo, error) {
			return info(), nil
		})
	}
	expectIssuance(env, statuses)
	env.OnWorkflow(OrderWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in OrderInput) (OrderResult, error) {
		*orders = append(*orders, in)
		return OrderResult{CertificatePEM: []byte("chain")}, nil
	})
	return env, statuses, orders
}

func ariInput() CertificateInput {
	in := testInput()
	in.Spec.IssuerRef = cmmeta.IssuerReference{Name: "letsencrypt", Kind: cmapi.ClusterIssuerKind}
	in.Changes = len(certificateChanges)
	// As the run that issued the certificate leaves it: its issuer gives renewal
	// information, which this run reads first.
	nb, na := epoch, epoch.Add(90*day)
	in.NotBefore, in.NotAfter = &nb, &na
	in.ARI = &ARIState{NotAfter: na}
	return in
}

func window(from, to time.Duration) policy.ARIWindow {
	return policy.ARIWindow{Start: epoch.Add(from), End: epoch.Add(to)}
}

func answer(w policy.ARIWindow) acme.RenewalInfo {
	return acme.RenewalInfo{Supported: true, CertID: "aki.serial", NotBefore: epoch, NotAfter: epoch.Add(90 * day),
		Window: w, ExplanationURL: "https://ca.example/why", RetryAfter: 6 * time.Hour}
}

func eventsOf(statuses []kube.CertificateStatusInput, reason string) []kube.Event {
	var out []kube.Event
	for _, st := range statuses {
		for _, e := range st.Events {
			if e.Reason == reason {
				out = append(out, e)
			}
		}
	}
	return out
}

// The window sets the renewal time (not 2/3 of the life): the renewal happens in it,
// the status and the query say why, and the order names the certificate it replaces.
func TestARIWindowSetsRenewalTime(t *testing.T) {
	w := window(20*day, 21*day)
	env, statuses, orders := ariCertificate(t, readyACME, func() acme.RenewalInfo { return answer(w) })
	var q Status
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryStatus)
		if err == nil {
			_ = v.Get(&q)
		}
	}, 10*day)

	env.ExecuteWorkflow(CertificateWorkflow, ariInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after the renewal, got %v", env.GetWorkflowError())
	}
	if q.RenewalTime == nil || q.RenewalTime.Before(w.Start) || !q.RenewalTime.Before(w.End) {
		t.Errorf("queried renewal time %v, want in %v", q.RenewalTime, w)
	}
	if !strings.Contains(q.RenewalRule, "renewal info window") || !strings.Contains(q.RenewalRule, "https://ca.example/why") {
		t.Errorf("renewal rule %q, want the window and its explanation", q.RenewalRule)
	}
	if now := env.Now(); now.Before(w.Start) || now.After(w.End) {
		t.Errorf("renewed at %v, want in %v", now, w)
	}
	if ev := eventsOf(*statuses, ReasonRenewalInfo); len(ev) != 0 {
		t.Errorf("RenewalInfo events %+v, want none: the first window is in the status and the query, not news", ev)
	}
	if len(*orders) != 1 || (*orders)[0].Replaces != "aki.serial" || !(*orders)[0].RenewalWindowOpen || (*orders)[0].Spec.Replaces != "aki.serial" {
		t.Errorf("orders %+v, want one replacing aki.serial in its open window", *orders)
	}
}

// A window that moves (a revocation: its end in the past) is seen at the next re-read
// and renews at once, with a Warning that says why.
func TestARIWindowMovedRenewsEarlier(t *testing.T) {
	revoked := false
	env, statuses, orders := ariCertificate(t, readyACME, func() acme.RenewalInfo {
		if revoked {
			return answer(window(day-time.Hour, day-time.Hour+time.Second))
		}
		return answer(window(59*day, 61*day))
	})
	env.RegisterDelayedCallback(func() { revoked = true }, day)

	env.ExecuteWorkflow(CertificateWorkflow, ariInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after the renewal, got %v", env.GetWorkflowError())
	}
	if now := env.Now(); now.Before(epoch.Add(day)) || now.After(epoch.Add(day+6*time.Hour)) {
		t.Errorf("renewed at %v, want within a re-read (6h) of the revocation at %v", now, epoch.Add(day))
	}
	ev := eventsOf(*statuses, ReasonRenewalInfo)
	if len(ev) != 1 || ev[0].Type != "Warning" || !strings.Contains(ev[0].Message, "renewing now") || !strings.Contains(ev[0].Message, "https://ca.example/why") {
		t.Errorf("RenewalInfo events %+v, want one Warning naming the new window and its explanation", ev)
	}
	if len(*orders) != 1 || (*orders)[0].Replaces != "aki.serial" {
		t.Errorf("orders %+v, want one replacing aki.serial", *orders)
	}
}

// Signals that wake an evaluation before the server's Retry-After (6 h here) keep the
// window last read: an issuer changed under many Certificates is no burst of requests
// to the CA. The re-read on the timer comes as before.
func TestARISignalsBeforeRetryAfterKeepTheWindow(t *testing.T) {
	var reads []time.Duration
	var env *testsuite.TestWorkflowEnvironment
	env, _, _ = ariCertificate(t, readyACME, func() acme.RenewalInfo {
		reads = append(reads, env.Now().Sub(epoch))
		return answer(window(59*day, 61*day))
	})
	for _, at := range []time.Duration{time.Hour, 2 * time.Hour, 7 * time.Hour} {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalIssuerChanged, IssuerChangedSignal{Ready: true}) }, at)
	}

	env.ExecuteWorkflow(CertificateWorkflow, ariInput())

	var early []time.Duration
	for _, r := range reads {
		if r <= 13*time.Hour {
			early = append(early, r)
		}
	}
	if want := []time.Duration{0, 6 * time.Hour, 12 * time.Hour}; !slices.Equal(early, want) {
		t.Errorf("renewal information read at %v in the first 13 h, want %v: at the start and at each Retry-After, not at the signals", early, want)
	}
}

// A server that fails every read of the renewal information (it does not know the
// certificate) is asked again after 1 h, then 2 h, 4 h ... and at most once a day, and
// the certificate still renews at 2/3 of its life.
func TestARIFailedReadsBackOff(t *testing.T) {
	var reads []time.Duration
	var env *testsuite.TestWorkflowEnvironment
	env, _, orders := ariCertificate(t, readyACME, func() acme.RenewalInfo {
		reads = append(reads, env.Now().Sub(epoch))
		return acme.RenewalInfo{Error: "urn:ietf:params:acme:error:malformed: certificate not found"}
	})

	env.ExecuteWorkflow(CertificateWorkflow, ariInput())

	var early []time.Duration
	for _, r := range reads {
		if r <= 56*time.Hour {
			early = append(early, r)
		}
	}
	h := time.Hour
	if want := []time.Duration{0, h, 3 * h, 7 * h, 15 * h, 31 * h, 55 * h}; !slices.Equal(early, want) {
		t.Errorf("failed reads at %v in the first 56 h, want %v", early, want)
	}
	if n := len(reads); n > 70 {
		t.Errorf("%d reads over the certificate's 60 days, want about one a day", n)
	}
	if len(*orders) != 1 {
		t.Errorf("%d orders, want the renewal at 2/3 of the life", len(*orders))
	}
}

// Re-reads of a window that does not move keep the run waiting, but not past the point
// where Temporal suggests continuing as new: a short re-read interval over a long
// validity (--acme-renewal-info-max-recheck) does not grow one history without end.
func TestARIRereadsContinueAsNewWhenSuggested(t *testing.T) {
	reads := 0
	env, _, orders := ariCertificate(t, readyACME, func() acme.RenewalInfo {
		reads++
		return answer(window(59*day, 61*day))
	})
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 2*day)

	env.ExecuteWorkflow(CertificateWorkflow, ariInput())

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new, got %v", env.GetWorkflowError())
	}
	if now := env.Now(); now.Before(epoch.Add(2*day)) || now.After(epoch.Add(2*day+6*time.Hour)) {
		t.Errorf("continued as new at %v, want at the first re-read (6h) after the suggestion at %v", now, epoch.Add(2*day))
	}
	if len(*orders) != 0 || reads < 8 {
		t.Errorf("%d orders and %d reads, want none before the window and a read every 6 h", len(*orders), reads)
	}
	next := nextRunInput(t, can)
	if next.ARI == nil || next.ARI.Window != window(59*day, 61*day) {
		t.Errorf("next run's renewal information %+v, want the window carried", next.ARI)
	}
}

// Without renewal information at the server, with a read that fails, or with the
// issuer's renewalInformationSource None, the renewal is at 2/3 of the life as before.
func TestARIAbsentOrFailingRenewsAsBefore(t *testing.T) {
	off := readyACME
	offSpec := *readyACME.Spec.ACME
	offSpec.RenewalInformationSource = acmev1.ACMERenewalInformationSourceNone
	off.Spec.ACME = &offSpec
	for _, tc := range []struct {
		name   string
		issuer kube.IssuerInfo
		info   func() acme.RenewalInfo
		rule   string
	}{
		{"server without renewalInfo", readyACME, func() acme.RenewalInfo { return acme.RenewalInfo{} }, "offers no renewal information"},
		{"read fails", readyACME, func() acme.RenewalInfo {
			return acme.RenewalInfo{Supported: true, CertID: "aki.serial", Error: "HTTP 500"}
		}, "failed: HTTP 500"},
		{"turned off at the issuer", off, nil, "renewalInformationSource is None"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, statuses, orders := ariCertificate(t, tc.issuer, tc.info)
			var q Status
			env.RegisterDelayedCallback(func() {
				if v, err := env.QueryWorkflow(QueryStatus); err == nil {
					_ = v.Get(&q)
				}
			}, 10*day)

			env.ExecuteWorkflow(CertificateWorkflow, ariInput())

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after the renewal, got %v", env.GetWorkflowError())
			}
			if want := epoch.Add(60 * day); env.Now().Before(want) {
				t.Errorf("renewed at %v, want at 2/3 of the life (%v)", env.Now(), want)
			}
			if !strings.Contains(q.RenewalRule, "2/3") || !strings.Contains(q.RenewalRule, tc.rule) {
				t.Errorf("renewal rule %q, want 2/3 of the life and %q", q.RenewalRule, tc.rule)
			}
			if len(*orders) != 1 || (*orders)[0].Replaces != "" {
				t.Errorf("orders %+v, want one without replaces", *orders)
			}
			failed := eventsOf(*statuses, ReasonRenewalInfoFailed)
			if wantFailed := tc.name == "read fails"; (len(failed) > 0) != wantFailed {
				t.Errorf("RenewalInfoFailed events %+v, want some: %v", failed, wantFailed)
			}
		})
	}
}

// An issuance by an ACME issuer with renewal information ends the run without
// sleeping, and the next run reads the new certificate's renewal information first;
// any other issuer's certificate sleeps until renewBefore's time, without a read.
func TestIssuanceLeavesRenewalInfoToTheNextRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		issuer  kube.IssuerInfo
		wantOff bool
	}{
		{"ACME", readyACME, false},
		{"self-signed", readySelfSigned, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			env.RegisterWorkflow(OrderWorkflow)
			var statuses []kube.CertificateStatusInput
			onIssuer(env, tc.issuer)
			onSecret(env, policy.SecretState{})
			expectIssuance(env, &statuses)
			env.OnWorkflow(OrderWorkflow, mock.Anything, mock.Anything).Return(OrderResult{CertificatePEM: []byte("chain")}, nil).Maybe()
			in := testInput()
			in.Changes = len(certificateChanges)

			env.ExecuteWorkflow(CertificateWorkflow, in)

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new, got %v", env.GetWorkflowError())
			}
			var next CertificateInput
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
				t.Fatal(err)
			}
			slept := env.Now().After(epoch)
			if next.ARI == nil || next.ARI.Off != tc.wantOff || slept != tc.wantOff {
				t.Errorf("next run's renewal information %+v, slept %v; want off %v, slept %v", next.ARI, slept, tc.wantOff, tc.wantOff)
			}
		})
	}
}

// orderARIIssuance is a Certificate of an ACME issuer with no Secret yet whose order
// reads the new certificate's window w; reread answers the certificate's own re-reads.
// It counts the evaluations (Secret inspections) and re-reads.
type orderARIIssuance struct {
	env                  *testsuite.TestWorkflowEnvironment
	statuses             []kube.CertificateStatusInput
	orders               []OrderInput
	evaluations, rereads int
}

func newOrderARIIssuance(t *testing.T, w policy.ARIWindow, reread func() acme.RenewalInfo) *orderARIIssuance {
	r := &orderARIIssuance{env: newEnv(t)}
	r.env.RegisterWorkflow(OrderWorkflow)
	onIssuer(r.env, readyACME)
	onSecret(r.env, func(context.Context, kube.InspectSecretInput) (policy.SecretState, error) {
		r.evaluations++
		if r.evaluations == 1 {
			return policy.SecretState{}, nil
		}
		secret := validSecret(epoch) // as the issuance wrote it
		secret.IssuerName, secret.IssuerKind, secret.Revision = "letsencrypt", cmapi.ClusterIssuerKind, 1
		return secret, nil
	})
	expectIssuance(r.env, &r.statuses)
	r.env.OnActivity(actGetRenewalInfo, mock.Anything, mock.Anything).Return(func(context.Context, acme.RenewalInfoInput) (acme.RenewalInfo, error) {
		r.rereads++
		return reread(), nil
	})
	r.env.OnWorkflow(OrderWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in OrderInput) (OrderResult, error) {
		r.orders = append(r.orders, in)
		info := answer(w)
		return OrderResult{CertificatePEM: []byte("chain"), RenewalInfo: &info}, nil
	})
	return r
}

func (r *orderARIIssuance) run(t *testing.T) {
	in := testInput()
	in.Spec.IssuerRef = cmmeta.IssuerReference{Name: "letsencrypt", Kind: cmapi.ClusterIssuerKind}
	in.Changes = len(certificateChanges)
	r.env.ExecuteWorkflow(CertificateWorkflow, in)
	var can *workflow.ContinueAsNewError
	if !errors.As(r.env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new at the renewal, got %v", r.env.GetWorkflowError())
	}
}

// An ACME order that read the new certificate's renewal information hands it to the
// issuance: its one status write carries the renewal time the window sets (no Event:
// the first window is no news), and the run sleeps until then, reading the window again only at its
// Retry-After (never at once, and no second evaluation).
func TestIssuanceTakesRenewalInfoFromTheOrder(t *testing.T) {
	w := window(20*day, 21*day)
	r := newOrderARIIssuance(t, w, func() acme.RenewalInfo { return answer(w) })
	r.run(t)

	if len(r.orders) != 1 || !r.orders[0].ReadRenewalInfo {
		t.Errorf("orders %+v, want one asked to read the renewal information", r.orders)
	}
	// Issuing=True, then the issuance's status: nothing after it.
	if n := len(r.statuses); n != 2 || r.statuses[1].RenewalTime == nil || r.statuses[1].RenewalTime.Before(w.Start) || !r.statuses[1].RenewalTime.Before(w.End) {
		t.Fatalf("statuses %+v, want two, the issued one with its renewal time in %v", r.statuses, w)
	}
	if ev := eventsOf(r.statuses, ReasonRenewalInfo); len(ev) != 0 {
		t.Errorf("RenewalInfo events %+v, want none: the first window is no news", ev)
	}
	if now := r.env.Now(); now.Before(w.Start) || now.After(w.End) {
		t.Errorf("the run slept until %v, want in %v", now, w)
	}
	if max := int(w.End.Sub(epoch) / (6 * time.Hour)); r.rereads == 0 || r.rereads > max {
		t.Errorf("%d re-reads of the window, want some, at most one per Retry-After (%d)", r.rereads, max)
	}
	if r.evaluations != 1 {
		t.Errorf("%d evaluations, want 1: the run sleeps right after the issuance", r.evaluations)
	}
}

// A window that moves while the run sleeps after its issuance is evaluated in that run:
// the status write names the moved window (the Event is not lost to a continue-as-new)
// and the run sleeps until the new renewal time, then continues as new to renew.
func TestIssuanceSleepWokenByAMovedWindow(t *testing.T) {
	first, moved := window(20*day, 21*day), window(5*day, 6*day)
	r := newOrderARIIssuance(t, first, func() acme.RenewalInfo {
		a := answer(moved)
		a.ExplanationURL = "https://ca.example/moved"
		return a
	})
	r.run(t)

	if now := r.env.Now(); now.Before(moved.Start) || now.After(moved.End) {
		t.Errorf("woke to renew at %v, want in the moved window %v", now, moved)
	}
	ev := eventsOf(r.statuses, ReasonRenewalInfo)
	if len(ev) != 1 || !strings.Contains(ev[0].Message, "https://ca.example/moved") || !strings.Contains(ev[0].Message, "the window moved") {
		t.Errorf("RenewalInfo events %+v, want one naming the moved window and its explanation", ev)
	}
	if r.evaluations != 2 {
		t.Errorf("%d evaluations, want 2: the issuance, the moved window (the renewal is the next run's)", r.evaluations)
	}
}
