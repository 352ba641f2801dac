package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
)

// fleet is a fake API server's Certificates for the campaign's list activities, and a
// record of the renew signals the campaign sent.
type fleet struct {
	certs   []string
	gone    map[string]bool // workflows that do not run
	mu      sync.Mutex
	signals map[string]int // workflow ID -> renew signals
	order   []string
}

func newFleet(n int) *fleet {
	f := &fleet{gone: map[string]bool{}, signals: map[string]int{}}
	for i := range n {
		f.certs = append(f.certs, fmt.Sprintf("ns/cert-%03d", i))
	}
	return f
}

func (f *fleet) mock(env *testsuite.TestWorkflowEnvironment) {
	env.OnActivity(actCountCampaignTargets, mock.Anything, mock.Anything).Return(func(context.Context, kube.CampaignSelection) (int, error) {
		return len(f.certs), nil
	})
	env.OnActivity(actListCampaignTargets, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.CampaignPageInput) (kube.CampaignPage, error) {
		start := 0
		if in.Continue != "" {
			_, _ = fmt.Sscanf(in.Continue, "0|%d", &start)
		}
		end := min(start+int(in.Limit), len(f.certs))
		page := kube.CampaignPage{Certificates: f.certs[start:end]}
		if end < len(f.certs) {
			page.Continue = fmt.Sprintf("0|%d", end)
		}
		return page, nil
	})
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", SignalRenew, mock.Anything).Return(
		func(_, id, _, _ string, _ any) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.gone[id] {
				return errors.New("unknown external workflow execution")
			}
			f.signals[id]++
			f.order = append(f.order, id)
			return nil
		})
}

func newCampaignEnv(t *testing.T, f *fleet) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(epoch)
	env.RegisterWorkflowWithOptions(CampaignWorkflow, workflow.RegisterOptions{Name: CampaignWorkflowType})
	registerAllActivities(env)
	f.mock(env)
	return env
}

func queryProgress(t *testing.T, env *testsuite.TestWorkflowEnvironment) CampaignProgress {
	t.Helper()
	v, err := env.QueryWorkflow(QueryCampaignProgress)
	if err != nil {
		t.Fatalf("progress query: %v", err)
	}
	var p CampaignProgress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// A campaign signals every Certificate's workflow once, at its rate, pauses and
// resumes on signal, and counts a workflow that does not run as a failure with its
// reason without stopping.
func TestCampaignPacedPausedResumed(t *testing.T) {
	f := newFleet(30)
	f.gone[CertificateWorkflowID("ns", "cert-007")] = true
	env := newCampaignEnv(t, f)
	var atPause, duringPause CampaignProgress
	// 5/s: 30 Certificates take 6 s; pause at 2.5 s for a minute.
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCampaignPause, CampaignSignal{}) }, 2500*time.Millisecond)
	env.RegisterDelayedCallback(func() { atPause = queryProgress(t, env) }, 5*time.Second)
	env.RegisterDelayedCallback(func() { duringPause = queryProgress(t, env) }, 50*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCampaignResume, CampaignSignal{}) }, time.Minute)
	env.ExecuteWorkflow(CampaignWorkflowType, CampaignInput{Name: "rotate", Rate: Rate{5, time.Second}, PageSize: 8,
		Selection: kube.CampaignSelection{IssuerName: "ca", IssuerKind: "ClusterIssuer"}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res CampaignProgress
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != CampaignFinished || res.Total != 30 || res.Done != 29 || res.Failed != 1 || res.Remaining != 0 || res.Finished == nil {
		t.Errorf("result %+v, want Finished, 29 of 30 done, 1 failed", res)
	}
	if len(res.Failures) != 1 || res.Failures[0].Certificate != "ns/cert-007" || res.Failures[0].Reason == "" {
		t.Errorf("failures %+v, want ns/cert-007 with its reason", res.Failures)
	}
	if len(f.signals) != 29 {
		t.Errorf("%d workflows signalled, want 29", len(f.signals))
	}
	for id, n := range f.signals {
		if n != 1 {
			t.Errorf("%s signalled %d times, want once", id, n)
		}
	}
	if !atPause.Paused || atPause.State != CampaignPaused || atPause.Done == 0 || atPause.Done+atPause.Failed >= 30 {
		t.Errorf("progress after the pause %+v, want paused part way", atPause)
	}
	if duringPause.Done != atPause.Done || !duringPause.Paused {
		t.Errorf("progress moved while paused: %d done at the pause, %d later", atPause.Done, duringPause.Done)
	}
	if res.Finished.Sub(epoch) < time.Minute {
		t.Errorf("finished at %v, before the resume", res.Finished)
	}
}

// A cancelled campaign stops sending and reports what it did.
func TestCampaignCancelled(t *testing.T) {
	f := newFleet(40)
	env := newCampaignEnv(t, f)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCampaignCancel, CampaignSignal{}) }, 1500*time.Millisecond)
	env.ExecuteWorkflow(CampaignWorkflowType, CampaignInput{Name: "stop", Rate: Rate{10, time.Second}})
	var res CampaignProgress
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != CampaignCancelled || res.Done != 20 || res.Remaining != 20 || res.Total != 40 || len(f.order) != 20 {
		t.Errorf("result %+v after %d signals, want Cancelled after 2 batches of 10, 20 remaining", res, len(f.order))
	}
}

// A campaign continues as new every ContinueAsNewEvery Certificates at a page
// boundary, carrying its progress and the list's position: the next run signals the
// rest, none twice.
func TestCampaignContinuesAsNew(t *testing.T) {
	f := newFleet(25)
	in := CampaignInput{Name: "big", Rate: Rate{100, time.Second}, PageSize: 5, ContinueAsNewEvery: 10}
	runs := 0
	var res CampaignProgress
	for {
		runs++
		if runs > 5 {
			t.Fatal("too many runs")
		}
		env := newCampaignEnv(t, f)
		if runs == 2 {
			// A pause signal that arrives as the run ends is carried into the next.
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCampaignPause, CampaignSignal{}) }, 0)
			env.RegisterDelayedCallback(func() {
				if p := queryProgress(t, env); !p.Paused {
					t.Errorf("run 2 not paused: %+v", p)
				}
				env.SignalWorkflow(SignalCampaignResume, CampaignSignal{})
			}, time.Hour)
		}
		env.ExecuteWorkflow(CampaignWorkflowType, in)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			if in.Progress.Done != 10*runs || in.Continue == "" || !in.Counted {
				t.Fatalf("run %d carried %+v, want %d done and the list's position", runs, in, 10*runs)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		break
	}
	if runs != 3 || res.Done != 25 || res.Total != 25 || res.State != CampaignFinished {
		t.Errorf("%d runs, result %+v; want 3 runs, 25 done", runs, res)
	}
	if len(f.order) != 25 || len(f.signals) != 25 {
		t.Errorf("%d signals to %d workflows, want 25 to 25", len(f.order), len(f.signals))
	}
}
