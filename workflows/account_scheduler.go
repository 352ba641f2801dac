package workflows

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/scheduler"
	"github.com/certflow/certflow/policy"
)

// AccountSchedulerID is the workflow ID of the scheduler of an ACME account: the
// server's directory URL and the account key Secret, hashed (a workflow ID is short;
// the scheduler's status names the account in full).
func AccountSchedulerID(a acme.AccountRef) string {
	h := fnv.New64a()
	h.Write([]byte(a.Server + "|" + a.KeyNamespace + "/" + a.KeySecretName + "/" + a.KeySecretKey))
	return "acme-account/" + strconv.FormatUint(h.Sum64(), 36)
}

// accountName names an ACME account for people.
func accountName(a acme.AccountRef) string {
	return fmt.Sprintf("%s (key Secret %s/%s)", a.Server, a.KeyNamespace, a.KeySecretName)
}

// defaultSchedulerMaxHistory is the history length at which a scheduler continues as
// new when Temporal does not suggest it sooner.
const defaultSchedulerMaxHistory = 5000

// AccountSchedulerWorkflow keeps the new orders of one ACME account within the CA's
// rate limits (policy.DecideSlots). Orders ask for a slot (scheduler.SignalRequest,
// sent again by them on a timer until they hear back: no state depends on one
// signal), the scheduler grants slots as the windows allow (scheduler.SignalGranted
// to the order), and orders give them back at their end (scheduler.SignalRelease)
// with their outcome: failed names count for the failed-validation limit, and a
// server's rateLimited answer pauses the whole account. A slot never given back is
// reclaimed after its lease. One timer wakes it for the next decision. It never ends:
// it continues as new when its history grows, carrying its queue and the grants the
// windows still count.
func AccountSchedulerWorkflow(ctx workflow.Context, in scheduler.Input) error {
	s := &schedulerRun{ctx: ctx, in: in, changes: resolveChanges(ctx, schedulerChanges, in.Changes)}
	// Seqs go with Queue, position by position (an input from elsewhere may lack them).
	s.in.Seqs = append(s.in.Seqs, make([]int, max(0, len(s.in.Queue)-len(s.in.Seqs)))...)[:len(s.in.Queue)]
	if err := workflow.SetQueryHandler(ctx, scheduler.QueryStatus, func() (scheduler.Status, error) { return s.status(), nil }); err != nil {
		return err
	}
	requests := workflow.GetSignalChannel(ctx, scheduler.SignalRequest)
	releases := workflow.GetSignalChannel(ctx, scheduler.SignalRelease)
	ordered := workflow.GetSignalChannel(ctx, scheduler.SignalOrdered)
	// A request by update is decided in its handler, so that a free slot is granted
	// in the answer (no signal back); wake has the loop plan its timer again.
	wake := workflow.NewBufferedChannel(ctx, 1)
	if err := workflow.SetUpdateHandler(ctx, scheduler.UpdateRequest, func(ctx workflow.Context, r scheduler.Request) (scheduler.Answer, error) {
		s.drainReports(ordered, releases)
		s.answering, s.answered = r.OrderID, false
		s.request(r)
		s.decide()
		s.answering = ""
		wake.SendAsync(true)
		return scheduler.Answer{Granted: s.answered, Seq: r.Seq}, nil
	}); err != nil {
		return err
	}
	maxHistory := in.MaxHistoryEvents
	if maxHistory <= 0 {
		maxHistory = defaultSchedulerMaxHistory
	}
	// Each round is at least a signal or a timer and a workflow task: four events. The
	// count stands in where the history length is not known (test environments).
	const eventsPerRound = 4
	for round := 1; ; round++ {
		s.drainReports(ordered, releases)
		// Requests after releases: an order refused as rateLimited gives its slot back
		// (with the pause) and asks again at once; read in the other order, the request
		// would find the old grant still active and get it again, past the pause.
		for {
			var r scheduler.Request
			if !requests.ReceiveAsync(&r) {
				break
			}
			s.request(r)
		}
		s.decide()
		info := workflow.GetInfo(ctx)
		if len(s.signals) == 0 && workflow.AllHandlersFinished(ctx) && (info.GetContinueAsNewSuggested() || max(info.GetCurrentHistoryLength(), eventsPerRound*round) >= maxHistory) {
			next := s.in
			next.Changes = len(schedulerChanges)
			next.History = policy.PruneSlotHistory(s.in.Limits, s.in.History, workflow.Now(ctx))
			// A scheduler started on the workers' queue (before schedulers had
			// their own) moves to its own.
			cctx := workflow.WithWorkflowTaskQueue(ctx, scheduler.TaskQueue(info.TaskQueueName))
			return workflow.NewContinueAsNewError(cctx, AccountSchedulerWorkflow, next)
		}
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(requests, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(releases, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(ordered, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.ReceiveAsync(nil) })
		for _, f := range s.signals {
			sel.AddFuture(f.future, func(workflow.Future) {})
		}
		tctx, cancel := workflow.WithCancel(ctx)
		if !s.next.IsZero() {
			d := s.next.Sub(workflow.Now(ctx))
			sel.AddFuture(workflow.NewTimerWithOptions(tctx, max(d, time.Millisecond), workflow.TimerOptions{
				Summary: "next slot decision at " + s.next.UTC().Format(time.RFC3339)}), func(workflow.Future) {})
		}
		sel.Select(ctx)
		cancel()
		s.settleSignals()
	}
}

// schedulerRun is one run's state; in is what continue-as-new carries.
type schedulerRun struct {
	ctx     workflow.Context
	in      scheduler.Input
	changes changeSet
	// waiting is the last decision's view of the queue.
	waiting []policy.SlotWait
	next    time.Time
	// signals are grants on their way to orders.
	signals []grantSignal
	// answering is the order whose update request is being decided; answered says
	// it was granted (in the answer, without a signal).
	answering string
	answered  bool
}

// drainReports takes the orders' reports received so far: created orders, then
// released slots (before any request: an order refused as rateLimited gives its slot
// back with the pause and asks again at once).
func (s *schedulerRun) drainReports(ordered, releases workflow.ReceiveChannel) {
	for {
		var o scheduler.Ordered
		if !ordered.ReceiveAsync(&o) {
			break
		}
		s.ordered(o)
	}
	for {
		var r scheduler.Release
		if !releases.ReceiveAsync(&r) {
			break
		}
		s.release(r)
	}
}

type grantSignal struct {
	orderID string
	future  workflow.Future
}

// request queues an order's request, once per order; a request of an order that
// holds a slot for it gets the grant again (it was lost, or the order asked again
// before it arrived). A request with a higher Seq than the order's slot means the
// order gave that slot back (its release may be read later): the slot ends, and the
// pause the request carries holds it like any other.
func (s *schedulerRun) request(r scheduler.Request) {
	s.in.Limits = r.Limits
	seqs := s.changes.has(changeSlotSeq)
	if seqs {
		s.pause(r.PausedUntil)
	}
	if i := slices.IndexFunc(s.in.Queue, func(q policy.SlotRequest) bool { return q.OrderID == r.OrderID }); i >= 0 {
		s.in.Seqs[i] = r.Seq
		return
	}
	now := workflow.Now(s.ctx)
	for i := range s.in.History.Grants {
		g := &s.in.History.Grants[i]
		if g.OrderID != r.OrderID || !g.Active(now, s.in.Limits.Lease) {
			continue
		}
		if seqs && g.Seq != 0 && g.Seq < r.Seq {
			g.Released = now
			continue
		}
		s.sendGrant(r.OrderID, r.Seq)
		return
	}
	s.in.Queue = append(s.in.Queue, policy.SlotRequest{OrderID: r.OrderID, Identifiers: r.Identifiers, Exempt: r.Exempt, Since: now})
	s.in.Seqs = append(s.in.Seqs, r.Seq)
}

// ordered records when an order reached the server: its grant counts from then.
func (s *schedulerRun) ordered(o scheduler.Ordered) {
	for i := range s.in.History.Grants {
		if g := &s.in.History.Grants[i]; g.OrderID == o.OrderID && g.Ordered.IsZero() {
			g.Ordered = o.At
		}
	}
}

// release ends an order's slot (or takes it out of the queue: it ended waiting): the
// one of its request r.Seq and earlier ones, not a later request's, which may have
// been read first.
func (s *schedulerRun) release(r scheduler.Release) {
	now := workflow.Now(s.ctx)
	upTo := 0 // every request of the order
	if s.changes.has(changeSlotSeq) {
		upTo = r.Seq
	}
	covers := func(seq int) bool { return upTo == 0 || seq == 0 || seq <= upTo }
	for i := range s.in.History.Grants {
		g := &s.in.History.Grants[i]
		if g.OrderID != r.OrderID || !covers(g.Seq) {
			continue
		}
		if g.Released.IsZero() {
			g.Released = now
		}
		if r.NoCertificate() {
			g.NotIssued = true
		}
	}
	if i := slices.IndexFunc(s.in.Queue, func(q policy.SlotRequest) bool { return q.OrderID == r.OrderID }); i >= 0 && covers(s.in.Seqs[i]) {
		s.in.Queue = slices.Delete(s.in.Queue, i, i+1)
		s.in.Seqs = slices.Delete(s.in.Seqs, i, i+1)
	}
	for _, n := range r.FailedNames {
		s.in.History.Failures = append(s.in.History.Failures, policy.ValidationFailure{Identifier: n, At: now})
	}
	s.pause(r.PausedUntil)
}

// pause holds every grant but exempt ones until the server's Retry-After.
func (s *schedulerRun) pause(until time.Time) {
	if until.After(s.in.History.PausedUntil) {
		s.in.History.PausedUntil = until
	}
}

func (s *schedulerRun) releaseGrant(orderID string, now time.Time) {
	for i := range s.in.History.Grants {
		if g := &s.in.History.Grants[i]; g.OrderID == orderID && g.Released.IsZero() {
			g.Released = now
		}
	}
}

// decide grants what the limits allow now, reclaims expired leases, prunes what no
// window counts, and shows the queue in the UI.
func (s *schedulerRun) decide() {
	now := workflow.Now(s.ctx)
	for i := range s.in.History.Grants {
		if g := &s.in.History.Grants[i]; g.Released.IsZero() && !g.Active(now, s.in.Limits.Lease) {
			g.Released = now // lease over: reclaimed
		}
	}
	s.in.History = policy.PruneSlotHistory(s.in.Limits, s.in.History, now)
	// Pure: the registered domain's IP address check reaches unique.Make, a cache.
	d := policy.DecideSlots(s.in.Limits, s.in.Queue, s.in.History, now) //workflowcheck:ignore
	for _, id := range d.Grant {
		i := slices.IndexFunc(s.in.Queue, func(q policy.SlotRequest) bool { return q.OrderID == id })
		r, seq := s.in.Queue[i], s.in.Seqs[i]
		s.in.Queue = slices.Delete(s.in.Queue, i, i+1)
		s.in.Seqs = slices.Delete(s.in.Seqs, i, i+1)
		s.in.History.Grants = append(s.in.History.Grants, policy.SlotGrant{OrderID: id, Identifiers: r.Identifiers, Exempt: r.Exempt, At: now, Seq: seq})
		s.sendGrant(id, seq)
	}
	s.waiting, s.next = d.Waiting, d.Next
	for i := range s.waiting {
		s.waiting[i].Position = i + 1 // positions after the grants left the queue
	}
	workflow.SetCurrentDetails(s.ctx, s.details())
}

func (s *schedulerRun) sendGrant(orderID string, seq int) {
	if orderID == s.answering {
		s.answered = true // granted in the update's answer
		return
	}
	f := workflow.SignalExternalWorkflow(s.ctx, orderID, "", scheduler.SignalGranted,
		scheduler.Grant{Scheduler: workflow.GetInfo(s.ctx).WorkflowExecution.ID, Seq: seq, At: workflow.Now(s.ctx)})
	s.signals = append(s.signals, grantSignal{orderID: orderID, future: f})
}

// settleSignals forgets delivered grants; a grant that could not be delivered (the
// order is gone) gives its slot back at once.
func (s *schedulerRun) settleSignals() {
	var pending []grantSignal
	for _, g := range s.signals {
		if !g.future.IsReady() {
			pending = append(pending, g)
			continue
		}
		if err := g.future.Get(s.ctx, nil); err != nil {
			workflow.GetLogger(s.ctx).Info("slot granted to an order that is gone: released", "order", g.orderID, "error", err)
			s.releaseGrant(g.orderID, workflow.Now(s.ctx))
		}
	}
	s.signals = pending
}

func (s *schedulerRun) status() scheduler.Status {
	now := workflow.Now(s.ctx)
	st := scheduler.Status{Account: s.in.Account, Limits: s.in.Limits}
	if now.Before(s.in.History.PausedUntil) {
		t := s.in.History.PausedUntil
		st.PausedUntil = &t
	}
	for _, g := range s.in.History.Grants {
		if g.Active(now, s.in.Limits.Lease) {
			st.Running++
		}
	}
	st.Granted = len(s.in.History.Grants)
	for _, w := range s.waiting {
		i := slices.IndexFunc(s.in.Queue, func(q policy.SlotRequest) bool { return q.OrderID == w.OrderID })
		if i < 0 {
			continue // granted or released since the decision
		}
		e := scheduler.Waiting{OrderID: w.OrderID, Since: s.in.Queue[i].Since, Exempt: s.in.Queue[i].Exempt,
			Limit: w.Limit, Detail: w.Detail, Position: w.Position}
		if !w.Until.IsZero() {
			u := w.Until
			e.Until = &u
		}
		st.Waiting = append(st.Waiting, e)
	}
	return st
}

// details is the scheduler's line in the Temporal UI: a short markdown table of the
// head of the queue.
func (s *schedulerRun) details() string {
	st := s.status()
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**ACME account** %s\n\n%d running, %d waiting", st.Account, st.Running, len(st.Waiting)))
	if st.PausedUntil != nil {
		b.WriteString(fmt.Sprintf(", paused by the server until %s", st.PausedUntil.UTC().Format(time.RFC3339)))
	}
	b.WriteString("\n")
	if len(st.Waiting) == 0 {
		return b.String()
	}
	b.WriteString("\n| # | order | waiting since | limit | until |\n|---|---|---|---|---|\n")
	const shown = 10
	for i, w := range st.Waiting {
		if i == shown {
			b.WriteString(fmt.Sprintf("| | and %d more | | | |\n", len(st.Waiting)-shown))
			break
		}
		until := "a slot is released"
		if w.Until != nil {
			until = w.Until.UTC().Format(time.RFC3339)
		}
		b.WriteString(fmt.Sprintf("| %d | %s | %s | %s | %s |\n", w.Position, w.OrderID, w.Since.UTC().Format(time.RFC3339), w.Limit, until))
	}
	return b.String()
}
