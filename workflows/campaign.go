package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
)

// A campaign re-issues a fleet of Certificates (all of an issuer's, of a label selector,
// of namespaces) as one durable workflow, at a given rate, with its progress in a query
// and pause, resume and cancel by signal: what a CA rotation or a key compromise needs.
//
// Each Certificate is re-issued once. The campaign asks for a re-issuance by sending
// the renew signal to the Certificate's workflow with workflow.SignalExternalWorkflow,
// a command of the campaign's own workflow: Temporal records it in the campaign's
// history and delivers it once; a worker killed mid-way replays that history on restart
// and sends nothing again, and there is no activity whose retry could send it twice.
// On the receiving side, a Certificate's workflow that takes the renewal continues as new
// with it and issues in the next run's first task; a worker killed after that task
// issued but before it completed leaves a revision that the retried task adopts as the
// renewal (change lost-renewal in versions.go) instead of issuing a second time. A
// Certificate counts as done when the signal is delivered, that is when its workflow
// has taken the renewal (it issues at its next workflow task; status.revision moves
// then); it counts as failed, with the reason, when its workflow is not running (the
// Certificate was deleted, or its workflow was terminated: `kubectl cert-manager renew`
// restarts it). Failures never stop the campaign.
//
// The Certificates are listed a page at a time from the API server (names only), and
// each page is re-issued before the next is listed; every continueAsNewEvery
// Certificates, at a page boundary, the run continues as new with the progress and the
// list's continue token, so the history stays bounded however large the fleet.

// Signal and query names of a CampaignWorkflow.
const (
	SignalCampaignPause   = "pause"
	SignalCampaignResume  = "resume"
	SignalCampaignCancel  = "cancel"
	QueryCampaignProgress = "progress"
)

// CampaignWorkflowType is the campaign's workflow type (visibility lists by it).
const CampaignWorkflowType = "CampaignWorkflow"

// CampaignWorkflowID is the ID of the campaign named name.
func CampaignWorkflowID(name string) string { return "campaign/" + name }

// CampaignSignal is the (empty) payload of pause, resume and cancel.
type CampaignSignal struct {
	Reason string `json:",omitempty"`
}

// CampaignInput starts (or continues as new) a CampaignWorkflow.
type CampaignInput struct {
	Name      string
	Selection kube.CampaignSelection
	Rate      Rate
	// PageSize is how many Certificates one list call reads (default 100);
	// ContinueAsNewEvery how many a run re-issues before it continues as new at the
	// next page boundary (default 200).
	PageSize           int `json:",omitempty"`
	ContinueAsNewEvery int `json:",omitempty"`
	// Carried across runs.
	Progress CampaignProgress
	Continue string `json:",omitempty"` // the list's continue token; "" with Listed: the end
	Counted  bool   `json:",omitempty"`
	Listed   bool   `json:",omitempty"` // the last page was read
}

const (
	defaultCampaignPageSize    = 100
	defaultCampaignRunLength   = 200
	maxCampaignSignalsInFlight = 200
)

var campaignListStep = stepKind{timeout: 2 * time.Minute, retry: &temporal.RetryPolicy{
	InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute}}

// campaign is one run's state.
type campaign struct {
	in        CampaignInput
	cancelled bool
	sentInRun int
	pauseCh   workflow.ReceiveChannel
	resumeCh  workflow.ReceiveChannel
	cancelCh  workflow.ReceiveChannel
}

// CampaignWorkflow re-issues the Certificates of in.Selection at in.Rate.
func CampaignWorkflow(ctx workflow.Context, in CampaignInput) (CampaignProgress, error) {
	if in.Rate.Count <= 0 || in.Rate.Per <= 0 {
		return in.Progress, temporal.NewNonRetryableApplicationError("campaign rate must be positive", "BadInput", nil)
	}
	if in.PageSize <= 0 {
		in.PageSize = defaultCampaignPageSize
	}
	if in.ContinueAsNewEvery <= 0 {
		in.ContinueAsNewEvery = defaultCampaignRunLength
	}
	c := &campaign{in: in,
		pauseCh:  workflow.GetSignalChannel(ctx, SignalCampaignPause),
		resumeCh: workflow.GetSignalChannel(ctx, SignalCampaignResume),
		cancelCh: workflow.GetSignalChannel(ctx, SignalCampaignCancel),
	}
	p := &c.in.Progress
	if p.Started.IsZero() {
		p.Started = workflow.Now(ctx)
		p.State = CampaignCounting
	}
	p.Rate = in.Rate.String()
	p.Selection = "Certificates " + in.Selection.String()
	if err := workflow.SetQueryHandler(ctx, QueryCampaignProgress, func() (CampaignProgress, error) { return *p, nil }); err != nil {
		return *p, err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			c.addSignalHandlers(ctx, sel)
			sel.Select(ctx)
			c.show(ctx)
		}
	})

	if !c.in.Counted {
		var total int
		if err := step(ctx, campaignListStep, "count the Certificates "+c.in.Selection.String(), actCountCampaignTargets, c.in.Selection).Get(ctx, &total); err != nil {
			return *p, err
		}
		c.in.Counted = true
		p.Total = total
		p.settle()
	}
	if p.State == CampaignCounting {
		p.State = CampaignRunning
	}
	c.show(ctx)
	return c.run(ctx)
}

func (c *campaign) addSignalHandlers(ctx workflow.Context, sel workflow.Selector) {
	sel.AddReceive(c.pauseCh, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, nil)
		c.setPaused(true)
	})
	sel.AddReceive(c.resumeCh, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, nil)
		c.setPaused(false)
	})
	sel.AddReceive(c.cancelCh, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, nil)
		c.cancelled = true
	})
}

// drainSignals applies every signal already delivered, so none is lost when the run
// continues as new.
func (c *campaign) drainSignals() {
	for {
		switch {
		case c.pauseCh.ReceiveAsync(nil):
			c.setPaused(true)
		case c.resumeCh.ReceiveAsync(nil):
			c.setPaused(false)
		case c.cancelCh.ReceiveAsync(nil):
			c.cancelled = true
		default:
			return
		}
	}
}

func (c *campaign) setPaused(paused bool) {
	p := &c.in.Progress
	p.Paused = paused
	if p.State == CampaignRunning || p.State == CampaignPaused {
		p.State = CampaignRunning
		if paused {
			p.State = CampaignPaused
		}
	}
}

// show puts the progress where the Web UI shows a workflow's current details.
func (c *campaign) show(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, c.in.Progress.Summary())
}

func (c *campaign) run(ctx workflow.Context) (CampaignProgress, error) {
	p := &c.in.Progress
	batch, interval := pace(c.in.Rate)
	var page []string
	for {
		if err := workflow.Await(ctx, func() bool { return !p.Paused || c.cancelled }); err != nil {
			return *p, err
		}
		if c.cancelled {
			break
		}
		if len(page) == 0 {
			if c.in.Listed {
				break
			}
			if c.sentInRun >= c.in.ContinueAsNewEvery || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				// Signals in flight are counted by this run, before it ends.
				if err := workflow.Await(ctx, func() bool { return p.InFlight == 0 }); err != nil {
					return *p, err
				}
				return c.continueAsNew(ctx)
			}
			var res kube.CampaignPage
			in := kube.CampaignPageInput{Selection: c.in.Selection, Continue: c.in.Continue, Limit: int64(c.in.PageSize)}
			if err := step(ctx, campaignListStep, "list the Certificates "+c.in.Selection.String(), actListCampaignTargets, in).Get(ctx, &res); err != nil {
				return *p, err
			}
			page, c.in.Continue, c.in.Listed = res.Certificates, res.Continue, res.Continue == ""
			continue
		}
		n := min(batch, len(page))
		if err := workflow.Await(ctx, func() bool { return p.InFlight+n <= maxCampaignSignalsInFlight }); err != nil {
			return *p, err
		}
		for _, key := range page[:n] {
			c.renew(ctx, key)
		}
		page = page[n:]
		c.show(ctx)
		// The pace's timer; a cancel cuts it short.
		if _, err := workflow.AwaitWithTimeout(ctx, interval, func() bool { return c.cancelled }); err != nil {
			return *p, err
		}
	}
	// Cancelled or done: what was sent is counted once delivered.
	if err := workflow.Await(ctx, func() bool { return p.InFlight == 0 }); err != nil {
		return *p, err
	}
	c.drainSignals()
	p.finish(c.cancelled, workflow.Now(ctx))
	c.show(ctx)
	return *p, nil
}

// renew sends the renew signal to the workflow of the Certificate key (namespace/name)
// and counts the outcome when Temporal has delivered it.
func (c *campaign) renew(ctx workflow.Context, key string) {
	ns, name, ok := splitKey(key)
	if !ok {
		c.in.Progress.recordFailure(key, "not a namespace/name")
		return
	}
	c.in.Progress.InFlight++
	c.sentInRun++
	id := CertificateWorkflowID(ns, name)
	f := workflow.SignalExternalWorkflow(ctx, id, "", SignalRenew, RenewSignal{Reason: "campaign " + CampaignWorkflowID(c.in.Name)})
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { c.in.Progress.InFlight-- }()
		if err := f.Get(ctx, nil); err != nil {
			c.in.Progress.recordFailure(key, signalFailure(id, err))
			return
		}
		c.in.Progress.recordDone()
	})
}

func (c *campaign) continueAsNew(ctx workflow.Context) (CampaignProgress, error) {
	c.drainSignals()
	if c.cancelled {
		c.in.Progress.finish(true, workflow.Now(ctx))
		return c.in.Progress, nil
	}
	return c.in.Progress, workflow.NewContinueAsNewError(ctx, CampaignWorkflowType, c.in)
}

func signalFailure(id string, err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	if errors.Is(err, workflow.ErrCanceled) {
		return "cancelled"
	}
	// SignalExternalWorkflow fails when the workflow does not run.
	return fmt.Sprintf("workflow %s is not running (Certificate deleted, or workflow terminated: kubectl cert-manager renew restarts it): %v", id, err)
}

func splitKey(key string) (ns, name string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], i > 0 && i < len(key)-1
		}
	}
	return "", "", false
}
