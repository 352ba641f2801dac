// Package scheduler holds the activities that talk to an ACME account's scheduler
// workflow (workflows.AccountSchedulerWorkflow) through the worker's Temporal client:
// an order asks for a slot (starting the scheduler if it does not run) and gives it
// back. The signals' payloads are here so that both sides share them.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/certflow/certflow/policy"
)

// Names shared by the scheduler and its orders.
const (
	// WorkflowType is the scheduler's registered workflow type.
	WorkflowType = "AccountSchedulerWorkflow"
	// SignalRequest asks the scheduler for a slot (Request).
	SignalRequest = "slot-request"
	// SignalRelease gives a slot back (Release).
	SignalRelease = "slot-release"
	// SignalGranted tells an order it has its slot (Grant).
	SignalGranted = "slot-granted"
	// SignalOrdered tells the scheduler an order has reached the server (Ordered).
	SignalOrdered = "slot-ordered"
	// QueryStatus is the scheduler's queue (Status).
	QueryStatus = "status"
	// UpdateRequest asks for a slot as SignalRequest does, and answers at once
	// whether it was granted (Answer): a grant then needs no signal back.
	UpdateRequest = "slot-request-answered"
)

// TaskQueueSuffix names the schedulers' own task queue beside the worker's.
const TaskQueueSuffix = "-acme-accounts"

// TaskQueue is the task queue of the schedulers of the orders on taskQueue. The
// schedulers have their own, polled with their own workflow task slots: an order's
// workflow task waits for its scheduler's answer, so a scheduler's task must never
// queue behind a burst of orders' tasks holding every slot.
func TaskQueue(taskQueue string) string {
	if strings.HasSuffix(taskQueue, TaskQueueSuffix) {
		return taskQueue
	}
	return taskQueue + TaskQueueSuffix
}

// Answer is the scheduler's reply to UpdateRequest: Granted for the request's Seq, or
// queued (the grant comes later by SignalGranted).
type Answer struct {
	Granted bool `json:",omitempty"`
	Seq     int
}

// Request is an order's request for a slot. The scheduler keeps one queue entry per
// OrderID: a request sent again (the order heard nothing) changes nothing but, for an
// order already granted, sends the grant again.
type Request struct {
	OrderID     string
	Identifiers []string
	Exempt      bool `json:",omitempty"`
	// Seq numbers the order's requests; the grant names it, so a late grant of an
	// earlier request is not taken for one of this.
	Seq int
	// Limits are the account's limits as the order's issuer says them (defaults
	// with its overrides): the scheduler keeps the latest.
	Limits policy.RateLimits
	// PausedUntil is the pause the server set when it refused this order's last
	// attempt (rateLimited). The release says it too, but the scheduler may read the
	// two messages in either order: with it here, this request never finds the
	// account unpaused.
	PausedUntil time.Time `json:",omitempty"`
}

// Release gives a slot back with the order's outcome.
type Release struct {
	OrderID string
	// Outcome is one of the Outcome* values.
	Outcome     string
	FailedNames []string  `json:",omitempty"`
	PausedUntil time.Time `json:",omitempty"`
	// Seq is the request whose slot (or queue entry) is given back: a later request
	// of the order, read first, keeps its own. 0 gives back everything the order
	// holds (orders of an older certflow).
	Seq int `json:",omitempty"`
}

// Outcomes of an order, as its Release reports them (recorded in histories: never
// change a value).
const (
	OutcomeValid   = "valid"
	OutcomeInvalid = "invalid"
	OutcomeErrored = "errored"
	// OutcomeRateLimited: the server refused the order; the account is paused until
	// PausedUntil.
	OutcomeRateLimited = "rateLimited"
)

// NoCertificate says that the order ended without a certificate: it was invalid or
// refused. An errored order may have been issued (its download failed, say).
func (r Release) NoCertificate() bool {
	return r.Outcome == OutcomeInvalid || r.Outcome == OutcomeRateLimited
}

// Ordered is an order's report that its new-order call returned at At: the windows
// count its slot from then (the server counted it no later).
type Ordered struct {
	OrderID string
	At      time.Time
}

// Grant is the scheduler's answer to a request.
type Grant struct {
	Scheduler string
	Seq       int
	At        time.Time
}

// Input starts (or continues) a scheduler.
type Input struct {
	// Account names the account for people: server and key Secret.
	Account string
	Limits  policy.RateLimits
	Queue   []policy.SlotRequest `json:",omitempty"`
	// Seqs are the queued requests' Seq, by queue position.
	Seqs    []int              `json:",omitempty"`
	History policy.SlotHistory `json:",omitempty"`
	// MaxHistoryEvents continues the scheduler as new once its history is this long
	// (0: a default; Temporal's suggestion always counts).
	MaxHistoryEvents int `json:",omitempty"`
	// Changes counts the rows of the scheduler's change table (workflows/versions.go)
	// the run adopts.
	Changes int `json:",omitempty"`
}

// Status is the scheduler's query answer.
type Status struct {
	Account     string
	Limits      policy.RateLimits
	PausedUntil *time.Time `json:",omitempty"`
	// Running is how many granted slots are not released.
	Running int
	// Granted is how many grants the windows still count.
	Granted int
	Waiting []Waiting
}

// Waiting is one queued order.
type Waiting struct {
	OrderID  string
	Since    time.Time
	Exempt   bool       `json:",omitempty"`
	Limit    string     // which limit holds it back
	Detail   string     `json:",omitempty"`
	Until    *time.Time `json:",omitempty"`
	Position int
}

// RequestSlotInput is the RequestSlot activity's input.
type RequestSlotInput struct {
	SchedulerID string
	Account     string
	Request     Request
	// Answered asks by UpdateRequest (update-with-start) instead of a signal, so that
	// a free slot is granted in the reply.
	Answered bool `json:",omitempty"`
	// SchedulerChanges is the Changes of a scheduler this request starts.
	SchedulerChanges int `json:",omitempty"`
}

// RequestSlotResult says where the request went; no Scheduler means this worker runs
// no schedulers (no Temporal client: tests, replays), and the order goes on at once.
// Granted says the reply granted the slot (Answered requests only).
type RequestSlotResult struct {
	Scheduler string `json:",omitempty"`
	Granted   bool   `json:",omitempty"`
}

// ReleaseSlotInput is the ReleaseSlot activity's input.
type ReleaseSlotInput struct {
	SchedulerID string
	Release     Release
}

// Activities talk to schedulers with the worker's client.
type Activities struct {
	Client client.Client

	congestion congestion
}

// RequestSlot signals the request to the account's scheduler, starting it if it does
// not run.
func (a *Activities) RequestSlot(ctx context.Context, in RequestSlotInput) (RequestSlotResult, error) {
	if a == nil || a.Client == nil {
		return RequestSlotResult{}, nil
	}
	opts := client.StartWorkflowOptions{
		ID: in.SchedulerID, TaskQueue: TaskQueue(activity.GetInfo(ctx).TaskQueue),
		StaticSummary: "ACME account scheduler for " + in.Account,
	}
	start := Input{Account: in.Account, Limits: in.Request.Limits, Changes: in.SchedulerChanges}
	if in.Answered && a.congestion.useUpdate(in.SchedulerID, time.Now()) {
		ans, err := a.requestAnswered(ctx, in, opts, start)
		if err == nil {
			return RequestSlotResult{Scheduler: in.SchedulerID, Granted: ans.Granted && ans.Seq == in.Request.Seq}, nil
		}
		if ctx.Err() != nil {
			return RequestSlotResult{}, ctx.Err()
		}
		// A busy scheduler (no answer in time, or its 10 updates at once), a
		// scheduler run older than the update (it rejects an update it has no
		// handler for), or a server without update-with-start: ask by signal, and
		// so for a while.
		a.congestion.unanswered(in.SchedulerID, time.Now())
		activity.GetLogger(ctx).Info("asking the ACME account scheduler by update failed; asking by signal", "scheduler", in.SchedulerID, "error", err)
	}
	_, err := a.Client.SignalWithStartWorkflow(ctx, in.SchedulerID, SignalRequest, in.Request, opts, WorkflowType, start)
	if err != nil {
		return RequestSlotResult{}, fmt.Errorf("ask ACME account scheduler %s for a slot: %w", in.SchedulerID, err)
	}
	return RequestSlotResult{Scheduler: in.SchedulerID}, nil
}

// answerTimeout bounds the wait for the scheduler's answer. The order's workflow task
// waits meanwhile, and the scheduler's needs a worker slot: should every slot hold an
// order waiting so, the orders ask by signal instead (a grant the scheduler made in an
// answer nobody read is sent again by signal: it knows the order holds it). After one
// unanswered ask the worker's orders ask that scheduler by signal for a while
// (congestion), so a burst does not hold every slot for answerTimeout.
const answerTimeout = 5 * time.Second

// requestAnswered asks the scheduler by update, starting it if it does not run, and
// waits for its answer.
func (a *Activities) requestAnswered(ctx context.Context, in RequestSlotInput, opts client.StartWorkflowOptions, start Input) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	h, err := a.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: a.Client.NewWithStartWorkflowOperation(opts, WorkflowType, start),
		UpdateOptions: client.UpdateWorkflowOptions{
			WorkflowID: in.SchedulerID, UpdateName: UpdateRequest, Args: []any{in.Request},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return Answer{}, err
	}
	var ans Answer
	err = h.Get(ctx, &ans)
	return ans, err
}

// ReleaseSlot gives a slot back. A scheduler that is gone has nothing to release.
func (a *Activities) ReleaseSlot(ctx context.Context, in ReleaseSlotInput) error {
	if a == nil || a.Client == nil || in.SchedulerID == "" {
		return nil
	}
	err := a.Client.SignalWorkflow(ctx, in.SchedulerID, "", SignalRelease, in.Release)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("give the slot back to ACME account scheduler %s: %w", in.SchedulerID, err)
	}
	return nil
}
