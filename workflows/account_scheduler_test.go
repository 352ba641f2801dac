package workflows

import (
	"context"
	"errors"
	"slices"
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
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/scheduler"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/policy"
)

// schedulerEnv runs an AccountSchedulerWorkflow and records the grants it signals,
// with their time since the start.
type schedulerEnv struct {
	*testsuite.TestWorkflowEnvironment
	grants   []string
	grantAt  map[string][]time.Duration
	goneIDs  map[string]bool
	startsAt time.Time
	limits   policy.RateLimits
}

func newSchedulerEnv(t *testing.T) *schedulerEnv {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	e := &schedulerEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment(), grantAt: map[string][]time.Duration{}, goneIDs: map[string]bool{}, startsAt: epoch, limits: testLimits}
	e.SetStartTime(epoch)
	e.RegisterWorkflowWithOptions(AccountSchedulerWorkflow, workflow.RegisterOptions{Name: scheduler.WorkflowType})
	e.OnSignalExternalWorkflow(mock.Anything, mock.Anything, mock.Anything, scheduler.SignalGranted, mock.Anything).Return(
		func(_, id, _, _ string, arg any) error {
			if e.goneIDs[id] {
				return errors.New("workflow not found")
			}
			e.grants = append(e.grants, id)
			e.grantAt[id] = append(e.grantAt[id], e.Now().Sub(e.startsAt))
			return nil
		})
	return e
}

func (e *schedulerEnv) request(after time.Duration, id string, names ...string) {
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(scheduler.SignalRequest, scheduler.Request{OrderID: id, Identifiers: names, Seq: 1, Limits: e.limits})
	}, after)
}

// ordered reports, after d, that the order reached the server at that time.
func (e *schedulerEnv) ordered(after time.Duration, id string) {
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(scheduler.SignalOrdered, scheduler.Ordered{OrderID: id, At: e.Now()})
	}, after)
}

func (e *schedulerEnv) release(after time.Duration, r scheduler.Release) {
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(scheduler.SignalRelease, r) }, after)
}

func (e *schedulerEnv) status(t *testing.T) scheduler.Status {
	t.Helper()
	v, err := e.QueryWorkflow(scheduler.QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st scheduler.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// stop ends the (never ending) scheduler after d.
func (e *schedulerEnv) stopAfter(d time.Duration) {
	e.RegisterDelayedCallback(func() { e.CancelWorkflow() }, d)
}

var testLimits = policy.RateLimits{CertificatesPerDomain: policy.RateWindow{Count: 2, Window: time.Minute}, Concurrent: 10, Lease: time.Hour}

// Two orders of a domain fit the window; the third waits in the queue (visible in the
// query, with the limit and the time) and gets its slot when the first leaves the
// window. Another domain's order is not held back.
func TestAccountSchedulerGrantsWithinTheWindow(t *testing.T) {
	e := newSchedulerEnv(t)
	e.request(time.Second, "order/ns/a", "a.example.com")
	e.request(2*time.Second, "order/ns/b", "b.example.com")
	e.request(3*time.Second, "order/ns/c", "c.example.com")
	e.request(4*time.Second, "order/ns/d", "d.other.org")
	// The orders reach the server a little after their grants: the windows count
	// from their reports.
	e.ordered(1500*time.Millisecond, "order/ns/a")
	e.ordered(2500*time.Millisecond, "order/ns/b")
	var st scheduler.Status
	e.RegisterDelayedCallback(func() { st = e.status(t) }, 10*time.Second)
	e.stopAfter(5 * time.Minute)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Account: "https://acme/dir (key Secret ns/key)", Limits: testLimits})

	if want := []string{"order/ns/a", "order/ns/b", "order/ns/d", "order/ns/c"}; !slices.Equal(e.grants, want) {
		t.Fatalf("grants %v, want %v", e.grants, want)
	}
	if at := e.grantAt["order/ns/c"][0]; at != 61500*time.Millisecond {
		t.Errorf("c granted after %s, want 61.5s (a's order leaves the window)", at)
	}
	if len(st.Waiting) != 1 || st.Waiting[0].OrderID != "order/ns/c" || st.Waiting[0].Limit != policy.LimitDomain ||
		st.Waiting[0].Until == nil || !st.Waiting[0].Until.Equal(epoch.Add(61500*time.Millisecond)) || st.Waiting[0].Position != 1 || st.Running != 3 {
		t.Errorf("status while c waits: %+v", st)
	}
}

// The windows count an order from when it reached the server (its report), not from
// its grant: orders granted together may reach the server far apart on a busy
// worker, and the server counts arrivals. Until its report a running grant stays in
// the window; a released one without a report counts from its release.
func TestAccountSchedulerCountsOrdersFromTheServer(t *testing.T) {
	e := newSchedulerEnv(t)
	e.request(time.Second, "order/ns/a", "a.example.com")
	e.request(2*time.Second, "order/ns/b", "b.example.com")
	e.request(3*time.Second, "order/ns/c", "c.example.com")
	e.request(4*time.Second, "order/ns/d", "d.example.com")
	e.ordered(30*time.Second, "order/ns/a") // a late arrival at the server
	// b never reports; it ends (errored) at 80s: it counts from then.
	e.release(80*time.Second, scheduler.Release{OrderID: "order/ns/b", Outcome: "errored"})
	var st scheduler.Status
	e.RegisterDelayedCallback(func() { st = e.status(t) }, 75*time.Second)
	e.stopAfter(5 * time.Minute)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: testLimits})

	if want := []string{"order/ns/a", "order/ns/b", "order/ns/c", "order/ns/d"}; !slices.Equal(e.grants, want) {
		t.Fatalf("grants %v, want %v", e.grants, want)
	}
	if c, d := e.grantAt["order/ns/c"][0], e.grantAt["order/ns/d"][0]; c != 90*time.Second || d != 140*time.Second {
		t.Errorf("c granted after %s (want 90s: a reached the server at 30s), d after %s (want 140s: b released at 80s)", c, d)
	}
	if len(st.Waiting) != 2 || st.Waiting[0].Until == nil || !st.Waiting[0].Until.Equal(epoch.Add(90*time.Second)) {
		t.Errorf("status at 75s: %+v", st)
	}
}

// A request sent again (the grant was lost, or crossed it) is one queue entry; an order
// that holds its slot and asks again gets the grant again.
func TestAccountSchedulerDeduplicatesAndResendsGrants(t *testing.T) {
	e := newSchedulerEnv(t)
	limits := testLimits
	limits.CertificatesPerDomain.Count = 1
	e.limits = limits
	e.request(time.Second, "order/ns/a", "a.example.com")
	e.request(2*time.Second, "order/ns/b", "b.example.com")
	e.request(3*time.Second, "order/ns/b", "b.example.com") // queued already: nothing new
	e.request(4*time.Second, "order/ns/a", "a.example.com") // holds its slot: the grant again
	e.ordered(5*time.Second, "order/ns/a")
	e.stopAfter(5 * time.Minute)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: limits})
	if want := []string{"order/ns/a", "order/ns/a", "order/ns/b"}; !slices.Equal(e.grants, want) {
		t.Fatalf("grants %v, want %v", e.grants, want)
	}
}

// A slot never given back is reclaimed after its lease; a released one at once.
func TestAccountSchedulerReclaimsLeases(t *testing.T) {
	e := newSchedulerEnv(t)
	limits := policy.RateLimits{Concurrent: 1, Lease: 10 * time.Minute}
	e.limits = limits
	e.request(time.Second, "order/ns/a", "a.example.com")
	e.request(2*time.Second, "order/ns/b", "b.example.com")
	e.request(3*time.Second, "order/ns/c", "c.example.com")
	e.release(20*time.Minute, scheduler.Release{OrderID: "order/ns/b", Outcome: "valid"})
	e.stopAfter(time.Hour)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: limits})
	if want := []string{"order/ns/a", "order/ns/b", "order/ns/c"}; !slices.Equal(e.grants, want) {
		t.Fatalf("grants %v, want %v", e.grants, want)
	}
	if b, c := e.grantAt["order/ns/b"][0], e.grantAt["order/ns/c"][0]; b != 10*time.Minute+time.Second || c != 20*time.Minute {
		t.Errorf("b granted after %s (want a's lease end, 10m1s), c after %s (want b's release, 20m)", b, c)
	}
}

// A server's rateLimited answer pauses the account: nothing is granted until then,
// except exempt renewals; failed names wait out their limit.
func TestAccountSchedulerPausesAndCountsFailures(t *testing.T) {
	e := newSchedulerEnv(t)
	limits := testLimits
	limits.FailedValidations = policy.RateWindow{Count: 1, Window: time.Hour}
	e.limits = limits
	e.request(time.Second, "order/ns/a", "a.example.com")
	e.release(2*time.Second, scheduler.Release{OrderID: "order/ns/a", Outcome: "rateLimited", PausedUntil: epoch.Add(30 * time.Second)})
	e.request(3*time.Second, "order/ns/b", "b.other.org")
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(scheduler.SignalRequest, scheduler.Request{OrderID: "order/ns/ari", Identifiers: []string{"r.example.com"}, Exempt: true, Seq: 1, Limits: limits})
	}, 4*time.Second)
	e.release(40*time.Second, scheduler.Release{OrderID: "order/ns/b", Outcome: "invalid", FailedNames: []string{"b.other.org"}})
	e.request(41*time.Second, "order/ns/b2", "b.other.org")
	var st scheduler.Status
	e.RegisterDelayedCallback(func() { st = e.status(t) }, 5*time.Second)
	e.stopAfter(2 * time.Hour)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: limits})
	if want := []string{"order/ns/a", "order/ns/ari", "order/ns/b", "order/ns/b2"}; !slices.Equal(e.grants, want) {
		t.Fatalf("grants %v, want %v", e.grants, want)
	}
	if b := e.grantAt["order/ns/b"][0]; b != 30*time.Second {
		t.Errorf("b granted after %s, want the end of the pause (30s)", b)
	}
	if b2 := e.grantAt["order/ns/b2"][0]; b2 != 40*time.Second+time.Hour {
		t.Errorf("b2 granted after %s, want an hour after b's failure (1h0m40s)", b2)
	}
	if st.PausedUntil == nil || len(st.Waiting) != 1 || st.Waiting[0].Limit != policy.LimitPaused {
		t.Errorf("status during the pause: %+v", st)
	}
}

// An order refused as rateLimited gives its slot back and asks again; the scheduler
// may read the new request before the release (an update handled before a signal
// of the same workflow task). The request carries the pause and a higher Seq, so
// the old slot ends and the order waits out the pause all the same; the late release
// marks only the refused grant as no certificate.
func TestAccountSchedulerPausesForARequestReadBeforeItsRelease(t *testing.T) {
	e := newSchedulerEnv(t)
	paused := epoch.Add(30 * time.Second)
	var answer *scheduler.Answer
	e.request(time.Second, "order/ns/a", "a.example.com")
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(scheduler.UpdateRequest, "a2", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("update rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				if err != nil {
					t.Errorf("update: %v", err)
					return
				}
				a := v.(scheduler.Answer)
				answer = &a
			},
		}, scheduler.Request{OrderID: "order/ns/a", Identifiers: []string{"a.example.com"}, Seq: 2, Limits: e.limits, PausedUntil: paused})
	}, 2*time.Second)
	e.release(3*time.Second, scheduler.Release{OrderID: "order/ns/a", Outcome: scheduler.OutcomeRateLimited, PausedUntil: paused, Seq: 1})
	e.request(4*time.Second, "order/ns/b", "b.other.org")
	var during scheduler.Status
	e.RegisterDelayedCallback(func() { during = e.status(t) }, 5*time.Second)
	e.release(40*time.Second, scheduler.Release{OrderID: "order/ns/a", Outcome: scheduler.OutcomeValid, Seq: 2})
	var after scheduler.Status
	e.RegisterDelayedCallback(func() { after = e.status(t) }, 41*time.Second)
	e.stopAfter(time.Minute)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: testLimits})

	if answer == nil || answer.Granted {
		t.Fatalf("answer to the second request %+v, want queued (the account is paused)", answer)
	}
	if at := e.grantAt["order/ns/a"]; len(at) != 2 || at[0] != time.Second || at[1] != 30*time.Second {
		t.Errorf("a granted after %v, want 1s, then at the end of the pause (30s)", at)
	}
	if at := e.grantAt["order/ns/b"]; len(at) != 1 || at[0] != 30*time.Second {
		t.Errorf("b granted after %v, want at the end of the pause (30s)", at)
	}
	if during.PausedUntil == nil || !during.PausedUntil.Equal(paused) || len(during.Waiting) != 2 || during.Running != 0 {
		t.Errorf("status during the pause %+v, want paused until %s with a and b waiting and nothing running", during, paused)
	}
	if after.Running != 1 {
		t.Errorf("status after a's valid release %+v, want b running only", after)
	}
}

// An order that ended invalid issued no certificate: the domain's window does not
// count it, as the CA does not, and the next order of the domain goes at once. An
// errored one may have been issued (a failed download), so it still counts.
func TestAccountSchedulerCountsOnlyWhatMayHaveBeenIssued(t *testing.T) {
	e := newSchedulerEnv(t) // 2 per minute per registered domain
	e.request(time.Second, "order/ns/a", "a.example.com")
	e.request(2*time.Second, "order/ns/b", "b.example.com")
	e.release(3*time.Second, scheduler.Release{OrderID: "order/ns/a", Outcome: "invalid", FailedNames: []string{"a.example.com"}})
	e.release(3*time.Second, scheduler.Release{OrderID: "order/ns/b", Outcome: "errored"})
	e.request(4*time.Second, "order/ns/c", "c.example.com")
	e.request(5*time.Second, "order/ns/d", "d.example.com")
	e.stopAfter(5 * time.Minute)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: testLimits})
	if want := []string{"order/ns/a", "order/ns/b", "order/ns/c", "order/ns/d"}; !slices.Equal(e.grants, want) {
		t.Fatalf("grants %v, want %v", e.grants, want)
	}
	if c := e.grantAt["order/ns/c"][0]; c != 4*time.Second {
		t.Errorf("c granted after %s, want at once (4s): a's invalid order is no certificate", c)
	}
	if d := e.grantAt["order/ns/d"][0]; d != 63*time.Second {
		t.Errorf("d granted after %s, want when b's errored order leaves the window (1m3s)", d)
	}
}

// A grant the order cannot receive (it is gone) gives the slot back at once.
func TestAccountSchedulerReleasesGrantsOfGoneOrders(t *testing.T) {
	e := newSchedulerEnv(t)
	e.goneIDs["order/ns/gone"] = true
	limits := policy.RateLimits{Concurrent: 1, Lease: time.Hour}
	e.limits = limits
	e.request(time.Second, "order/ns/gone", "a.example.com")
	e.request(2*time.Second, "order/ns/b", "b.example.com")
	e.stopAfter(time.Minute)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: limits})
	if want := []string{"order/ns/b"}; !slices.Equal(e.grants, want) || e.grantAt["order/ns/b"][0] > 2*time.Second {
		t.Fatalf("grants %v at %v, want b at once", e.grants, e.grantAt)
	}
}

// A long history continues as new, carrying the queue and the grants the windows count.
func TestAccountSchedulerContinuesAsNew(t *testing.T) {
	e := newSchedulerEnv(t)
	limits := testLimits
	limits.CertificatesPerDomain.Count = 1
	e.limits = limits
	e.request(time.Second, "order/ns/a", "a.example.com")
	e.request(2*time.Second, "order/ns/b", "b.example.com")
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: limits, MaxHistoryEvents: 16})
	err := e.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("scheduler ended with %v, want continue-as-new", err)
	}
	var next scheduler.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if len(next.Queue) != 1 || next.Queue[0].OrderID != "order/ns/b" || len(next.Seqs) != 1 ||
		len(next.History.Grants) != 1 || next.History.Grants[0].OrderID != "order/ns/a" || next.MaxHistoryEvents != 16 {
		t.Errorf("carried %+v", next)
	}
	// Started on the workers' queue, it moves to the schedulers' own.
	if want := scheduler.TaskQueue(taskQueueOfTest); can.TaskQueueName != want {
		t.Errorf("continued on task queue %q, want %q", can.TaskQueueName, want)
	}
}

// taskQueueOfTest is the test environment's task queue.
const taskQueueOfTest = "default-test-taskqueue"

// The order asks its account's scheduler for a slot before it creates the order at
// the server, asks again when no answer comes, and gives the slot back at its end.
// A rateLimited answer pauses the account and the order asks again.
func TestOrderWaitsForSlotAndPausesOnRateLimit(t *testing.T) {
	env := newACMEEnv(t)
	var requests []scheduler.RequestSlotInput
	var releases []scheduler.Release
	env.OnActivity(actRequestSlot, mock.Anything, mock.Anything).Return(func(_ context.Context, in scheduler.RequestSlotInput) (scheduler.RequestSlotResult, error) {
		requests = append(requests, in)
		return scheduler.RequestSlotResult{Scheduler: in.SchedulerID}, nil
	})
	env.OnActivity(actReleaseSlot, mock.Anything, mock.Anything).Return(func(_ context.Context, in scheduler.ReleaseSlotInput) error {
		releases = append(releases, in.Release)
		return nil
	})
	env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
	var created []time.Duration
	env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(func(_ context.Context, in acme.EnsureOrderInput) (acme.OrderState, error) {
		created = append(created, env.Now().Sub(epoch))
		if !in.ReportRateLimit {
			t.Error("EnsureOrder not asked to report rate limits")
		}
		if len(created) == 1 {
			return acme.OrderState{}, temporal.NewApplicationErrorWithOptions("too many new orders recently", acme.ErrTypeRateLimited,
				temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{10 * time.Second}})
		}
		return acme.OrderState{URL: "https://acme/order/1", Status: "valid", CertificateURL: "https://acme/cert/1"}, nil
	})
	// The report is not waited for (the order goes on in the same workflow task), and
	// the test environment delivers it on a goroutine of its own: it may arrive after
	// the workflow ended.
	var reportsMu sync.Mutex
	var reports []scheduler.Ordered
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", scheduler.SignalOrdered, mock.Anything).Return(
		func(_, id, _, _ string, arg any) error {
			reportsMu.Lock()
			defer reportsMu.Unlock()
			reports = append(reports, arg.(scheduler.Ordered))
			return nil
		})
	expectValidOrderEnd(env)
	// First grant lost: the order asks again after slotResendInterval, then hears.
	var waiting string
	env.RegisterDelayedCallback(func() {
		v, _ := env.QueryWorkflow(QueryStatus)
		var st Status
		_ = v.Get(&st)
		waiting = st.WaitingFor
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(scheduler.SignalGranted, scheduler.Grant{Seq: 1})
	}, slotResendInterval+time.Minute)
	// After the rateLimited answer: a stale grant of the first request, then the right one.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(scheduler.SignalGranted, scheduler.Grant{Seq: 1})
	}, slotResendInterval+2*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(scheduler.SignalGranted, scheduler.Grant{Seq: 2})
	}, slotResendInterval+3*time.Minute)
	in := testOrderInput()
	in.Account = acme.AccountRef{Server: "https://acme-v02.api.letsencrypt.org/directory", KeyNamespace: "ns", KeySecretName: "key"}
	in.RateLimits = &acmev1.ACMERateLimits{ConcurrentOrders: ptrTo(int32(5))}
	// An ARI renewal: exempt until the server refuses it anyway.
	in.RenewalWindowOpen = true
	env.ExecuteWorkflow(OrderWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(requests) != 3 || requests[0].Request.Seq != 1 || requests[1].Request.Seq != 1 || requests[2].Request.Seq != 2 {
		t.Fatalf("slot requests %+v, want seq 1 twice (no answer), then 2", requests)
	}
	if !requests[0].Request.Exempt || !requests[1].Request.Exempt || requests[2].Request.Exempt {
		t.Errorf("exempt requests %t %t %t, want true true false (refused as rateLimited, the order waits out the pause)",
			requests[0].Request.Exempt, requests[1].Request.Exempt, requests[2].Request.Exempt)
	}
	r := requests[0]
	if r.SchedulerID != AccountSchedulerID(in.Account) || r.Request.OrderID != workflowIDOfTest ||
		r.Request.Limits.Concurrent != 5 || r.Request.Limits.OrdersPerAccount != policy.LetsEncryptLimits.OrdersPerAccount {
		t.Errorf("request %+v", r)
	}
	if want := []time.Duration{slotResendInterval + time.Minute, slotResendInterval + 3*time.Minute}; !slices.Equal(created, want) {
		t.Errorf("orders created at %v, want %v (only after each grant)", created, want)
	}
	pause := epoch.Add(slotResendInterval + time.Minute + 10*time.Second)
	if len(releases) != 2 || releases[0].Outcome != "rateLimited" || !releases[0].PausedUntil.Equal(pause) || releases[0].Seq != 1 ||
		releases[1].Outcome != "valid" || releases[1].Seq != 2 {
		t.Errorf("releases %+v, want seq 1 rateLimited until %s, then seq 2 valid", releases, pause)
	}
	// The request after the refusal carries the pause: the scheduler may read it
	// before the release.
	if !requests[0].Request.PausedUntil.IsZero() || !requests[2].Request.PausedUntil.Equal(pause) {
		t.Errorf("requests paused until %s and %s, want none, then %s", requests[0].Request.PausedUntil, requests[2].Request.PausedUntil, pause)
	}
	// Once created (not when refused), the order tells the scheduler when it reached
	// the server.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		reportsMu.Lock()
		n := len(reports)
		reportsMu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	reportsMu.Lock()
	defer reportsMu.Unlock()
	if len(reports) != 1 || reports[0].OrderID != workflowIDOfTest || !reports[0].At.Equal(epoch.Add(slotResendInterval+3*time.Minute)) {
		t.Errorf("reports to the scheduler %+v, want one at the second order's creation", reports)
	}
	if want := "a slot from " + AccountSchedulerID(in.Account); len(waiting) < len(want) || waiting[:len(want)] != want {
		t.Errorf("status while waiting: %q", waiting)
	}
}

// workflowIDOfTest is the test environment's workflow ID.
const workflowIDOfTest = "default-test-workflow-id"

func ptrTo[T any](v T) *T { return &v }

// Invalid orders name their failed names in the release.
func TestOrderOutcome(t *testing.T) {
	err := temporal.NewNonRetryableApplicationError("Failed to validate: b.example.com: Incorrect TXT record", ErrTypeOrderFailed, nil)
	if r := orderOutcome(err, []string{"b.example.com"}); r.Outcome != "invalid" || !slices.Equal(r.FailedNames, []string{"b.example.com"}) {
		t.Errorf("outcome %+v", r)
	}
	if r := orderOutcome(errors.New("boom"), nil); r.Outcome != "errored" {
		t.Errorf("outcome %+v", r)
	}
	if r := orderOutcome(nil, nil); r.Outcome != "valid" {
		t.Errorf("outcome %+v", r)
	}
}

// An issuer's rateLimits override the server's defaults limit by limit.
func TestRateLimitsOf(t *testing.T) {
	le := "https://acme-v02.api.letsencrypt.org/directory"
	if got := rateLimitsOf(le, nil); got != policy.LetsEncryptLimits {
		t.Errorf("Let's Encrypt without overrides: %+v", got)
	}
	got := rateLimitsOf("https://127.0.0.1:14000/dir", &acmev1.ACMERateLimits{
		CertificatesPerDomain: &acmev1.ACMERateLimit{Count: 50, Window: metav1.Duration{Duration: 20 * time.Second}},
	})
	want := policy.GenericLimits
	want.CertificatesPerDomain = policy.RateWindow{Count: 50, Window: 20 * time.Second}
	if got != want {
		t.Errorf("Pebble with a domain limit: %+v, want %+v", got, want)
	}
	got = rateLimitsOf(le, &acmev1.ACMERateLimits{ConcurrentOrders: ptrTo(int32(3))})
	if got.Concurrent != 3 || got.OrdersPerAccount != policy.LetsEncryptLimits.OrdersPerAccount {
		t.Errorf("Let's Encrypt with a concurrency cap: %+v", got)
	}
}

// A scheduler continued from an input without Seqs does not fail.
func TestAccountSchedulerAcceptsQueueWithoutSeqs(t *testing.T) {
	e := newSchedulerEnv(t)
	e.stopAfter(time.Minute)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Limits: testLimits,
		Queue: []policy.SlotRequest{{OrderID: "order/ns/a", Identifiers: []string{"a.example.com"}, Since: epoch}}})
	if want := []string{"order/ns/a"}; !slices.Equal(e.grants, want) {
		t.Fatalf("grants %v, want %v", e.grants, want)
	}
}

// A request by update is answered: a free slot is granted in the answer (no signal
// back), a request the limits hold back is answered queued and granted by signal
// later; a release read in the same round comes first.
func TestAccountSchedulerAnswersUpdateRequests(t *testing.T) {
	e := newSchedulerEnv(t)
	e.limits = policy.RateLimits{Concurrent: 1, Lease: time.Hour}
	answers := map[string]scheduler.Answer{}
	ask := func(after time.Duration, id string) {
		e.RegisterDelayedCallback(func() {
			e.UpdateWorkflow(scheduler.UpdateRequest, id, &testsuite.TestUpdateCallback{
				OnReject: func(err error) { t.Errorf("update of %s rejected: %v", id, err) },
				OnAccept: func() {},
				OnComplete: func(v any, err error) {
					if err != nil {
						t.Errorf("update of %s: %v", id, err)
						return
					}
					answers[id] = v.(scheduler.Answer)
				},
			}, scheduler.Request{OrderID: id, Identifiers: []string{id + ".example.com"}, Seq: 3, Limits: e.limits})
		}, after)
	}
	ask(time.Second, "order/ns/a")
	ask(2*time.Second, "order/ns/b")
	e.release(time.Minute, scheduler.Release{OrderID: "order/ns/a", Outcome: "valid"})
	e.stopAfter(5 * time.Minute)
	e.ExecuteWorkflow(AccountSchedulerWorkflow, scheduler.Input{Account: "acct", Limits: e.limits})

	if a := answers["order/ns/a"]; !a.Granted || a.Seq != 3 {
		t.Errorf("answer to a %+v, want granted for seq 3", a)
	}
	if b, ok := answers["order/ns/b"]; !ok || b.Granted {
		t.Errorf("answer to b %+v (answered %v), want queued", b, ok)
	}
	if want := []string{"order/ns/b"}; !slices.Equal(e.grants, want) {
		t.Errorf("grants by signal %v, want only b's, after a's release", e.grants)
	}
	if at := e.grantAt["order/ns/b"]; len(at) != 1 || at[0] != time.Minute {
		t.Errorf("b granted after %v, want at a's release (1m)", at)
	}
}

// An order whose slot request is answered granted creates the order at once, in the
// same workflow task: no wait for a signal, no resend timer.
func TestOrderTakesTheSlotFromTheAnswer(t *testing.T) {
	env := newACMEEnv(t)
	var requests []scheduler.RequestSlotInput
	env.OnActivity(actRequestSlot, mock.Anything, mock.Anything).Return(func(_ context.Context, in scheduler.RequestSlotInput) (scheduler.RequestSlotResult, error) {
		requests = append(requests, in)
		return scheduler.RequestSlotResult{Scheduler: in.SchedulerID, Granted: true}, nil
	})
	env.OnActivity(actReleaseSlot, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(actCreateOrder, mock.Anything, mock.Anything).Return(kube.ObjectRef{Namespace: "ns", Name: "web-1-42", UID: "o-uid"}, nil)
	env.OnActivity(actEnsureOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "valid", CertificateURL: "https://acme/cert/1"}, nil)
	expectValidOrderEnd(env)
	// Pebble's limits have no windows: no report that the order reached the server.
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", scheduler.SignalOrdered, mock.Anything).Return(
		func(_, _, _, _ string, _ any) error {
			t.Error("the order reported its creation to a scheduler without windows")
			return nil
		}).Maybe()

	env.ExecuteWorkflow(OrderWorkflow, testOrderInput())

	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(requests) != 1 || !requests[0].Answered {
		t.Errorf("slot requests %+v, want one, asked for an answer", requests)
	}
	if !env.Now().Equal(epoch) {
		t.Errorf("the order ended at %v, want at once (%v): no wait for a grant", env.Now(), epoch)
	}
}

// expectValidOrderEnd mocks the end of an order the server has made valid: its status
// writes, its reads and the download.
func expectValidOrderEnd(env *testsuite.TestWorkflowEnvironment) {
	env.OnActivity(actSetOrderStatus, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(actGetOrder, mock.Anything, mock.Anything).Return(acme.OrderState{URL: "https://acme/order/1", Status: "valid", CertificateURL: "https://acme/cert/1"}, nil)
	env.OnActivity(actFetchCertificate, mock.Anything, mock.Anything).Return(acme.Chain{CertificatePEM: []byte("chain")}, nil)
}
