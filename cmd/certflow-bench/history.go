package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/certflow/certflow/workflows"
)

// historyCount is the Temporal history of one Certificate workflow over all its runs
// (and, after countTree, of the child workflows it started).
type historyCount struct {
	Events int
	// Bytes is the size of the events as Temporal encodes them (protobuf).
	Bytes  int
	Runs   int // of the root workflow
	ByType map[string]int
	// Children are the IDs of the child workflows the runs started (ACME: the
	// Certificate's OrderWorkflows, an Order's ChallengeWorkflows), in order, once each.
	Children []string
	// Kinds is events, runs and workflows by kind ("certificate", "order",
	// "challenge": the workflow ID up to its first '/'); set by countTree.
	Kinds map[string]*kindCount
	// Time spent, from event timestamps: workflow tasks waiting for a worker
	// (scheduled → started) and running (started → completed, which includes local
	// activities), activities waiting and running, by activity type.
	WFTWait, WFTRun time.Duration
	Activity        map[string]*activityTime
	// Started is when the first run started (the watcher's SignalWithStart).
	Started time.Time
}

// activityTime is the time one activity type spent over a workflow's history.
type activityTime struct {
	Count     int
	Wait, Run time.Duration
}

// countHistory walks the continue-as-new chain of workflowID from the current run back
// (each run's WorkflowExecutionStarted event names the run it continued) and counts
// every event of every run.
func countHistory(ctx context.Context, tc client.Client, workflowID string) (historyCount, error) {
	h := historyCount{ByType: map[string]int{}, Activity: map[string]*activityTime{}}
	seenChild := map[string]bool{}
	for runID := ""; ; {
		prev := ""
		at := map[int64]time.Time{}   // event id → time, of scheduled and started events
		actType := map[int64]string{} // scheduled event id → activity type
		actOf := map[int64]int64{}    // activity started event id → scheduled event id
		it := tc.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return h, fmt.Errorf("history of %s run %q: %w", workflowID, runID, err)
			}
			h.Events++
			h.Bytes += proto.Size(ev)
			h.ByType[ev.GetEventType().String()]++
			t := ev.GetEventTime().AsTime()
			switch {
			case ev.GetWorkflowExecutionStartedEventAttributes() != nil:
				prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
				h.Started = t // runs are walked newest first: the last one seen is the first
			case ev.GetWorkflowTaskScheduledEventAttributes() != nil:
				at[ev.GetEventId()] = t
			case ev.GetWorkflowTaskStartedEventAttributes() != nil:
				at[ev.GetEventId()] = t
				if s, ok := at[ev.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId()]; ok {
					h.WFTWait += t.Sub(s)
				}
			case ev.GetWorkflowTaskCompletedEventAttributes() != nil:
				if s, ok := at[ev.GetWorkflowTaskCompletedEventAttributes().GetStartedEventId()]; ok {
					h.WFTRun += t.Sub(s)
				}
			case ev.GetStartChildWorkflowExecutionInitiatedEventAttributes() != nil:
				if id := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowId(); id != "" && !seenChild[id] {
					seenChild[id] = true
					h.Children = append(h.Children, id)
				}
			case ev.GetActivityTaskScheduledEventAttributes() != nil:
				at[ev.GetEventId()] = t
				actType[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			case ev.GetActivityTaskStartedEventAttributes() != nil:
				a := ev.GetActivityTaskStartedEventAttributes()
				at[ev.GetEventId()] = t
				actOf[ev.GetEventId()] = a.GetScheduledEventId()
				if s, ok := at[a.GetScheduledEventId()]; ok {
					h.activity(actType[a.GetScheduledEventId()]).Wait += t.Sub(s)
				}
			case ev.GetActivityTaskCompletedEventAttributes() != nil:
				a := ev.GetActivityTaskCompletedEventAttributes()
				if s, ok := at[a.GetStartedEventId()]; ok {
					acc := h.activity(actType[a.GetScheduledEventId()])
					acc.Run += t.Sub(s)
					acc.Count++
				}
			}
		}
		h.Runs++
		if prev == "" {
			return h, nil
		}
		runID = prev
	}
}

// kindCount is the history of the workflows of one kind under a Certificate.
type kindCount struct {
	Workflows int `json:"workflows"`
	Runs      int `json:"runs"`
	Events    int `json:"events"`
}

// workflowKind is the part of a workflow ID before its first '/': "certificate",
// "order", "challenge".
func workflowKind(id string) string {
	kind, _, _ := strings.Cut(id, "/")
	return kind
}

// countTree counts the history of workflowID and of every child workflow started under
// it, recursively (Certificate → OrderWorkflow → ChallengeWorkflow), summed; Kinds
// splits the events by kind of workflow. Events, time and activities are totals over
// the tree; Runs and Started are the root's.
func countTree(ctx context.Context, tc client.Client, workflowID string) (historyCount, error) {
	return walkTree(workflowID, func(id string) (historyCount, error) { return countHistory(ctx, tc, id) })
}

// walkTree is countTree with the history of one workflow coming from count.
func walkTree(workflowID string, count func(id string) (historyCount, error)) (historyCount, error) {
	h, err := count(workflowID)
	if err != nil {
		return h, err
	}
	h.Kinds = map[string]*kindCount{workflowKind(workflowID): {Workflows: 1, Runs: h.Runs, Events: h.Events}}
	seen := map[string]bool{workflowID: true}
	queue := slices.Clone(h.Children)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		c, err := count(id)
		if err != nil {
			return h, err
		}
		h.add(c)
		k := h.Kinds[workflowKind(id)]
		if k == nil {
			k = &kindCount{}
			h.Kinds[workflowKind(id)] = k
		}
		k.Workflows++
		k.Runs += c.Runs
		k.Events += c.Events
		queue = append(queue, c.Children...)
	}
	return h, nil
}

// add sums another workflow's events, time and activities into h.
func (h *historyCount) add(o historyCount) {
	h.Events += o.Events
	h.Bytes += o.Bytes
	for t, n := range o.ByType {
		h.ByType[t] += n
	}
	h.WFTWait += o.WFTWait
	h.WFTRun += o.WFTRun
	for name, a := range o.Activity {
		acc := h.activity(name)
		acc.Count += a.Count
		acc.Wait += a.Wait
		acc.Run += a.Run
	}
}

func (h *historyCount) activity(name string) *activityTime {
	if h.Activity[name] == nil {
		h.Activity[name] = &activityTime{}
	}
	return h.Activity[name]
}

// historyFigures is the mean history per Certificate over a sample of workflows.
type historyFigures struct {
	Sampled       int                `json:"sampled"`
	EventsPerCert float64            `json:"events_per_cert"`
	RunsPerCert   float64            `json:"runs_per_cert"`
	ByTypePerCert map[string]float64 `json:"by_type_per_cert"`
	// Mean seconds per Certificate that workflow tasks waited for a worker and ran
	// (running includes local activities).
	WorkflowTaskWaitSeconds float64 `json:"workflow_task_wait_s"`
	WorkflowTaskRunSeconds  float64 `json:"workflow_task_run_s"`
	// StartDelaySeconds is the mean time from the create call returning to the first
	// run's WorkflowExecutionStarted: the watch, the watcher's queue, SignalWithStart.
	StartDelaySeconds float64 `json:"start_delay_s"`
	// Regular activities by type: mean count, wait and run seconds per Certificate.
	Activities map[string]activityFigures `json:"activities,omitempty"`
	// ByWorkflowKind splits the events per Certificate by kind of workflow
	// (certificate; with ACME also order and challenge).
	ByWorkflowKind map[string]kindFigures `json:"by_workflow_kind,omitempty"`
	SettleSeconds  float64                `json:"settle_s"`
	SampleWorkflow []string               `json:"sample_workflows"`
}

// kindFigures are the mean workflows, runs and events of one kind per Certificate.
type kindFigures struct {
	Workflows     float64 `json:"workflows"`
	Runs          float64 `json:"runs"`
	EventsPerCert float64 `json:"events_per_cert"`
}

type activityFigures struct {
	Count       float64 `json:"count"`
	WaitSeconds float64 `json:"wait_s"`
	RunSeconds  float64 `json:"run_s"`
}

// sampleHistory counts the histories of up to k of names (evenly spread). Workflows keep
// working briefly after Ready (continue-as-new, status write, timer), so it recounts
// until the total is the same twice in a row, at most for settle.
func sampleHistory(ctx context.Context, tc client.Client, names []string, k int, settle time.Duration, created func(string) (time.Time, bool)) (historyFigures, error) {
	var sample []string
	if k > len(names) {
		k = len(names)
	}
	for i := range k {
		sample = append(sample, names[i*len(names)/k])
	}
	begin := time.Now()
	var prevTotal = -1
	for {
		f := historyFigures{Sampled: len(sample), ByTypePerCert: map[string]float64{}}
		total, runs := 0, 0
		var wftWait, wftRun, startDelay time.Duration
		delays := 0
		acts := map[string]*activityTime{}
		kinds := map[string]kindCount{}
		for _, name := range sample {
			id := workflows.CertificateWorkflowID(benchNS, name)
			f.SampleWorkflow = append(f.SampleWorkflow, id)
			h, err := countTree(ctx, tc, id)
			if err != nil {
				return f, err
			}
			for k, c := range h.Kinds {
				s := kinds[k]
				s.Workflows += c.Workflows
				s.Runs += c.Runs
				s.Events += c.Events
				kinds[k] = s
			}
			total += h.Events
			runs += h.Runs
			for t, n := range h.ByType {
				f.ByTypePerCert[t] += float64(n)
			}
			wftWait += h.WFTWait
			if c, ok := created(name); ok && !h.Started.IsZero() {
				startDelay += h.Started.Sub(c)
				delays++
			}
			wftRun += h.WFTRun
			for name, a := range h.Activity {
				if acts[name] == nil {
					acts[name] = &activityTime{}
				}
				acts[name].Count += a.Count
				acts[name].Wait += a.Wait
				acts[name].Run += a.Run
			}
		}
		if total == prevTotal || time.Since(begin) > settle || ctx.Err() != nil {
			n := float64(len(sample))
			if n > 0 {
				f.EventsPerCert = float64(total) / n
				f.RunsPerCert = float64(runs) / n
				for t := range f.ByTypePerCert {
					f.ByTypePerCert[t] /= n
				}
				f.WorkflowTaskWaitSeconds = round(wftWait.Seconds()/n, 3)
				f.WorkflowTaskRunSeconds = round(wftRun.Seconds()/n, 3)
				if delays > 0 {
					f.StartDelaySeconds = round(startDelay.Seconds()/float64(delays), 3)
				}
				f.ByWorkflowKind = map[string]kindFigures{}
				for k, c := range kinds {
					f.ByWorkflowKind[k] = kindFigures{
						Workflows:     round(float64(c.Workflows)/n, 2),
						Runs:          round(float64(c.Runs)/n, 2),
						EventsPerCert: round(float64(c.Events)/n, 1),
					}
				}
				f.Activities = map[string]activityFigures{}
				for name, a := range acts {
					f.Activities[name] = activityFigures{
						Count:       round(float64(a.Count)/n, 2),
						WaitSeconds: round(a.Wait.Seconds()/n, 3),
						RunSeconds:  round(a.Run.Seconds()/n, 3),
					}
				}
			}
			f.SettleSeconds = time.Since(begin).Seconds()
			return f, nil
		}
		prevTotal = total
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
