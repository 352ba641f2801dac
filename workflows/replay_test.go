// Replay tests: every workflow history recorded under testdata/histories/ (JSON, the
// format of `temporal workflow show --output json` and of client.HistoryFromJSON) is
// replayed against the current workflow code. A change that would break a workflow
// already running in a cluster (an activity, timer or signal added, removed or reordered
// without workflow.GetVersion) fails here with the SDK's non-determinism error.
//
// Run:
//
//	GOTOOLCHAIN=local go test -count=1 ./workflows/ -run Replay
//
// (Re)record the histories from a real run (local stack, the worker and k8swatch in
// process; rewrites every testdata/histories/*.json):
//
//	GOTOOLCHAIN=local CERTFLOW_INTEGRATION=1 CERTFLOW_RECORD_HISTORIES=1 \
//		go test -count=1 -v -run TestRecordHistories ./test/crash/
//
// Re-recording replaces the evidence of what running workflows look like: run this test
// against the old histories first, and re-record only once a failure here is understood
// (versioned with workflow.GetVersion, or accepted as a break of running workflows).
package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexus-rpc/sdk-go/nexus"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/worker"
)

// historiesDir holds the recorded histories, one run per file.
const historiesDir = "testdata/histories"

// moreHistoriesDirs: the ACME workflows' histories (recorded by test/acme's
// TestRecordACMEHistories), and histories recorded by earlier versions of the workflows
// (re-recording never replaces them): workflows started by an older certflow must go
// on replaying after an upgrade, which workflow.GetVersion makes possible and these prove.
var moreHistoriesDirs = []string{"testdata/histories-acme", "testdata/histories-before-lazy-issuing-status", "testdata/histories-before-carried-changes", "testdata/histories-before-secret-first"}

// replayedTypes are the workflow types worker.Register registers: each needs at least
// one recorded history, so a type cannot silently go untested.
var replayedTypes = []string{"CertificateWorkflow", "IssuerWorkflow", "OrderWorkflow", "ChallengeWorkflow"}

// replayRegistry lets worker.Register fill a replayer, so the workflows are replayed
// under exactly the names the worker registers them with. Activities never run during a
// replay (their results come from the history), so registering them is a no-op.
type replayRegistry struct {
	sdkworker.WorkflowReplayer
}

func (replayRegistry) RegisterActivity(any)                                         {}
func (replayRegistry) RegisterActivityWithOptions(any, activity.RegisterOptions)    {}
func (replayRegistry) RegisterDynamicActivity(any, activity.DynamicRegisterOptions) {}
func (replayRegistry) RegisterNexusService(*nexus.Service)                          {}

func newReplayer() sdkworker.WorkflowReplayer {
	r := sdkworker.NewWorkflowReplayer()
	worker.Register(replayRegistry{r}, worker.Config{})
	return r
}

func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range moreHistoriesDirs {
		older, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(older) == 0 {
			t.Fatalf("no histories in workflows/%s (%v)", dir, err)
		}
		files = append(files, older...)
	}
	if len(files) == 0 {
		t.Fatalf("no recorded histories in workflows/%s: a replay test without histories checks nothing. "+
			"Record them: CERTFLOW_INTEGRATION=1 CERTFLOW_RECORD_HISTORIES=1 go test -count=1 -v -run TestRecordHistories ./test/crash/", historiesDir)
	}
	perType := map[string]int{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "testdata/"), ".json")
		hist := loadHistory(t, f)
		typ := hist.Events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
		perType[typ]++
		t.Run(name, func(t *testing.T) {
			last := hist.Events[len(hist.Events)-1]
			t.Logf("%s: %d events, last %s", typ, len(hist.Events), last.GetEventType())
			if err := newReplayer().ReplayWorkflowHistory(nil, hist); err != nil {
				t.Errorf("replaying %s (%s) against the current code: %v", f, typ, err)
			}
		})
	}
	for _, typ := range replayedTypes {
		if perType[typ] == 0 {
			t.Errorf("no recorded history of %s in workflows/%s; re-record the histories", typ, historiesDir)
		}
	}
}

// The harness itself must catch non-determinism: a recorded CertificateWorkflow history
// replayed against a workflow that does something else first has to fail.
func TestReplayDetectsNonDeterminism(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hist *historypb.History
	for _, f := range files {
		h := loadHistory(t, f)
		if h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName() == "CertificateWorkflow" && len(h.Events) > 5 {
			hist = h
			break
		}
	}
	if hist == nil {
		t.Fatalf("no recorded CertificateWorkflow history in workflows/%s", historiesDir)
	}
	r := sdkworker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, _ any) error {
		return workflow.Sleep(ctx, time.Hour) // a timer where the history has an activity
	}, workflow.RegisterOptions{Name: "CertificateWorkflow"})
	if err := r.ReplayWorkflowHistory(nil, hist); err == nil {
		t.Fatal("replaying a CertificateWorkflow history against a different workflow succeeded: the replay harness does not detect non-determinism")
	}
}

func loadHistory(t *testing.T, path string) *historypb.History {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(hist.GetEvents()) < 3 || hist.Events[0].GetWorkflowExecutionStartedEventAttributes() == nil {
		t.Fatalf("%s is not a workflow history starting with WorkflowExecutionStarted (%d events)", path, len(hist.GetEvents()))
	}
	return hist
}
