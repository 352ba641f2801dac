package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/scheduler"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/apperr"
	"github.com/certflow/certflow/policy"
)

// slotResendInterval is how long an order waits for its scheduler's answer before it
// asks again (a lost signal, a scheduler restarted from an older history): the
// scheduler keeps one queue entry per order, so asking again costs one signal.
const slotResendInterval = 5 * time.Minute

// rateLimitsOf are an account's limits: the server's defaults with the issuer's
// overrides.
func rateLimitsOf(server string, o *acmev1.ACMERateLimits) policy.RateLimits {
	l := policy.DefaultRateLimits(server)
	if o == nil {
		return l
	}
	w := func(r *acmev1.ACMERateLimit) policy.RateWindow {
		if r == nil {
			return policy.RateWindow{}
		}
		return policy.RateWindow{Count: int(r.Count), Window: r.Window.Duration}
	}
	var ov policy.RateLimits
	ov.OrdersPerAccount, ov.CertificatesPerDomain = w(o.OrdersPerAccount), w(o.CertificatesPerDomain)
	ov.DuplicateCertificates, ov.FailedValidations = w(o.DuplicateCertificates), w(o.FailedValidations)
	if o.ConcurrentOrders != nil {
		ov.Concurrent = int(*o.ConcurrentOrders)
	}
	return l.Override(ov)
}

// orderSlot is an order's place with its account's scheduler.
type orderSlot struct {
	scheduler string // "" when the worker runs no schedulers
	seq       int
	granted   bool
}

// awaitSlot asks the account's scheduler for a slot and waits for it, asking again
// every slotResendInterval until the grant arrives. status says what it waits for;
// pausedUntil is the pause of a refusal of the order's last attempt.
//
// answered asks by update: a free slot comes in the reply, without a signal back.
func awaitSlot(ctx workflow.Context, in OrderInput, limits policy.RateLimits, slot *orderSlot, status *Status, answered bool, pausedUntil time.Time) error {
	granted := workflow.GetSignalChannel(ctx, scheduler.SignalGranted)
	slot.seq++
	id := AccountSchedulerID(in.Account)
	req := scheduler.RequestSlotInput{SchedulerID: id, Account: accountName(in.Account), Request: scheduler.Request{
		OrderID: workflow.GetInfo(ctx).WorkflowExecution.ID, Identifiers: append(append([]string{}, in.Spec.DNSNames...), in.Spec.IPAddresses...),
		Exempt: in.RenewalWindowOpen, Seq: slot.seq, PausedUntil: pausedUntil,
	}, Answered: answered, SchedulerChanges: len(schedulerChanges)}
	req.Request.Limits = limits
	since := workflow.Now(ctx)
	for {
		var res scheduler.RequestSlotResult
		if err := step(ctx, kubeStep, "ask "+id+" for a slot", actRequestSlot, req).Get(ctx, &res); err != nil {
			return err
		}
		if res.Scheduler == "" {
			return nil // this worker runs no schedulers
		}
		slot.scheduler = res.Scheduler
		if res.Granted {
			slot.granted = true
			status.WaitingFor = "creating the order"
			return nil
		}
		status.WaitingFor = fmt.Sprintf("a slot from %s (asked at %s; kubectl cert-manager status shows the limit and the position)",
			res.Scheduler, since.UTC().Format(time.RFC3339))
		wait := true
		for wait {
			tctx, cancel := workflow.WithCancel(ctx)
			timer := workflow.NewTimerWithOptions(tctx, slotResendInterval, workflow.TimerOptions{Summary: "no answer from " + id + " yet: ask again"})
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(granted, func(c workflow.ReceiveChannel, _ bool) {
				var g scheduler.Grant
				c.Receive(ctx, &g)
				if g.Seq == slot.seq {
					slot.granted = true
				}
			})
			var timerErr error
			fired := false
			sel.AddFuture(timer, func(f workflow.Future) { fired, timerErr = true, f.Get(ctx, nil) })
			sel.Select(ctx)
			cancel()
			if slot.granted {
				status.WaitingFor = "creating the order"
				return nil
			}
			if timerErr != nil {
				return timerErr // cancelled
			}
			wait = !fired
		}
	}
}

// releaseSlot gives the slot back (also while waiting: the queue entry goes), with
// the order's outcome; on a disconnected context, so a cancelled order releases too.
func releaseSlot(ctx workflow.Context, slot *orderSlot, rel scheduler.Release) {
	if slot.scheduler == "" {
		return
	}
	rel.OrderID, rel.Seq = workflow.GetInfo(ctx).WorkflowExecution.ID, slot.seq
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = step(dctx, kubeStep, "give the slot back to "+slot.scheduler, actReleaseSlot,
		scheduler.ReleaseSlotInput{SchedulerID: slot.scheduler, Release: rel}).Get(dctx, nil)
	slot.granted = false
}

// orderOutcome is the release of an order that ended with err: valid, invalid (the
// names whose challenge the server refused count for the failed-validation limit), or
// errored.
func orderOutcome(err error, refused []string) scheduler.Release {
	switch {
	case err == nil:
		return scheduler.Release{Outcome: scheduler.OutcomeValid}
	case len(refused) > 0:
		return scheduler.Release{Outcome: scheduler.OutcomeInvalid, FailedNames: refused}
	}
	return scheduler.Release{Outcome: scheduler.OutcomeErrored}
}

// rateLimitedUntil reports whether err is the server's rateLimited answer to a new
// order, and until when the account should pause.
func rateLimitedUntil(ctx workflow.Context, err error) (time.Time, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != acme.ErrTypeRateLimited {
		return time.Time{}, false
	}
	var delay time.Duration
	var until time.Time
	if appErr.HasDetails() {
		if appErr.Details(&delay, &until) != nil { // until: given since order-local-create
			_ = appErr.Details(&delay)
		}
	}
	if delay <= 0 {
		delay = time.Minute
	}
	if now := workflow.Now(ctx); until.Before(now) {
		until = now.Add(delay)
	}
	return until, true
}

// createOrderWithSlot runs the "create or resume the ACME order" step within the
// account's limits: it waits for a slot first, and a server that answers rateLimited
// pauses the account (scheduler.Release.PausedUntil) and asks for a slot again.
//
// With localCreate the slot is asked for by update (a free one comes in the reply),
// the step is a local activity (EnsureOrder resumes the order its Order object
// records, so a rerun creates no second one) and the report to the scheduler is not
// waited for: the order goes on in the same workflow task.
func createOrderWithSlot(ctx workflow.Context, in OrderInput, slot *orderSlot, status *Status, ensure acme.EnsureOrderInput, localCreate bool) (acme.OrderState, error) {
	ensure.ReportRateLimit = true
	kind := acmeStep
	if localCreate {
		kind = acmeLocalStep
	}
	// Pure: url.Parse of the server URL.
	limits := rateLimitsOf(in.Account.Server, in.RateLimits) //workflowcheck:ignore
	var pausedUntil time.Time
	for {
		if err := awaitSlot(ctx, in, limits, slot, status, localCreate, pausedUntil); err != nil {
			return acme.OrderState{}, err
		}
		var st acme.OrderState
		err := step(ctx, kind, "create or resume the ACME order", actEnsureOrder, ensure).Get(ctx, &st)
		until, limited := rateLimitedUntil(ctx, err)
		if !limited {
			if err == nil && slot.scheduler != "" && (limits.Longest() > 0 || !localCreate) {
				// The server has counted the order by now: the scheduler's windows
				// count it from here, not from the grant (an account without window
				// limits has nothing to count). A report that fails (the scheduler is
				// gone) keeps the slot in the windows until released.
				at := workflow.Now(ctx)
				if st.Created != nil && st.Created.After(at) {
					at = *st.Created // a local step's task began before the server answered
				}
				ordered := workflow.SignalExternalWorkflow(ctx, slot.scheduler, "", scheduler.SignalOrdered,
					scheduler.Ordered{OrderID: workflow.GetInfo(ctx).WorkflowExecution.ID, At: at})
				if !localCreate {
					_ = ordered.Get(ctx, nil)
				}
			}
			return st, err
		}
		status.LastError = apperr.Message(err)
		if slot.scheduler == "" {
			// No scheduler to pause: this order waits by itself.
			if err := workflow.NewTimerWithOptions(ctx, until.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: "rate limited by the ACME server"}).Get(ctx, nil); err != nil {
				return acme.OrderState{}, err
			}
			continue
		}
		releaseSlot(ctx, slot, scheduler.Release{Outcome: scheduler.OutcomeRateLimited, PausedUntil: until})
		pausedUntil = until
		// The server did not exempt this order: it waits out the pause like any other
		// (an exempt request skips the pause, and would be refused again at once).
		in.RenewalWindowOpen = false
	}
}
