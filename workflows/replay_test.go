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
// (a versioned change, versions.go, or accepted as a break of running workflows). Keep
// the previous recordings in testdata/histories-before-<change> for as long as their
// changes live: TestHistoriesReachLiveChanges says when they, and the old branches
// they reach, may go (docs/changing-workflows.md).
package workflows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/certflow/certflow/workflows"
)

// historiesDir holds the recorded histories, one run per file.
const historiesDir = "testdata/histories"

// currentHistoriesDirs are re-recorded from the current code: testdata/histories by
// test/crash's TestRecordHistories, testdata/histories-acme by test/acme's
// TestRecordACMEHistories.
var currentHistoriesDirs = []string{historiesDir, "testdata/histories-acme"}

// olderHistoriesDirs were recorded by earlier versions of the workflows (re-recording
// never replaces them): workflows started by an older certflow must go on replaying
// after an upgrade, which the versioned changes make possible and these prove.
//
// histories-point-of-use holds runs of chains that carry fewer changes than their
// code knew, recorded by the code before the fence (de771b9), which asked GetVersion
// where a change was used: their markers stand in later workflow tasks, where a
// reading of the change must still find them.
var olderHistoriesDirs = []string{"testdata/histories-before-object-replaced", "testdata/histories-before-carried-changes", "testdata/histories-before-secret-first", "testdata/histories-point-of-use",
	"testdata/histories-before-acme-account-recovery", "testdata/histories-before-lost-renewal", "testdata/histories-before-order-local-acme-steps",
	"testdata/histories-before-slot-seq", "testdata/histories-before-challenge-valid-unwritten",
	"testdata/histories-before-acme-renewal-info-retry-after", "testdata/histories-before-issue-within-task"}

// replayedTypes are the workflow types worker.Register registers: each needs at least
// one recorded history, so a type cannot silently go untested.
var replayedTypes = []string{"CertificateWorkflow", "IssuerWorkflow", "OrderWorkflow", "ChallengeWorkflow", "CampaignWorkflow", "AccountSchedulerWorkflow"}

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
	files := keptHistories(t)
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

// keptHistories lists every recorded history the replay tests keep.
func keptHistories(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range append(slices.Clone(currentHistoriesDirs), olderHistoriesDirs...) {
		found, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(found) == 0 {
			t.Fatalf("no histories in workflows/%s (%v): a replay test without histories checks nothing. "+
				"Record them: CERTFLOW_INTEGRATION=1 CERTFLOW_RECORD_HISTORIES=1 go test -count=1 -v -run TestRecordHistories ./test/crash/", dir, err)
		}
		files = append(files, found...)
	}
	return files
}

// The retirement rule of the versioned changes (docs/changing-workflows.md), read off
// the kept histories. A change is "off" in a history when its run neither carried it
// in its input nor recorded its GetVersion marker: the history replays the change's
// old branch.
//   - Every live change is off in some kept history: an old branch that no supported
//     history reaches is dead code, to be deleted and its row retired.
//   - Every older history reaches a live old branch: one whose changes are all retired
//     proves nothing the current histories do not, and goes with its branches.
func TestHistoriesReachLiveChanges(t *testing.T) {
	tables := workflows.ChangeTables()
	reached := map[string]bool{}
	for _, f := range keptHistories(t) {
		hist := loadHistory(t, f)
		typ := hist.Events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
		carried, markers := versioning(t, f, hist)
		reachesLive := false
		for i, ch := range tables[typ] {
			if !ch.Retired && i >= carried && !markers[ch.ID] {
				reached[typ+"/"+ch.ID], reachesLive = true, true
			}
		}
		if !reachesLive && !slices.Contains(currentHistoriesDirs, filepath.Dir(f)) {
			t.Errorf("%s reaches no live old branch (carries %d changes): every change it predates is retired, so delete it", f, carried)
		}
	}
	for typ, table := range tables {
		for _, ch := range table {
			if !ch.Retired && !reached[typ+"/"+ch.ID] {
				t.Errorf("no kept history reaches the old branch of %s change %s: delete that branch and retire the change (versions.go)", typ, ch.ID)
			}
		}
	}
}

// versioning reads what a recorded run had in effect: the count of changes its input
// carried, and the change IDs of its version markers.
func versioning(t *testing.T, path string, hist *historypb.History) (carried int, markers map[string]bool) {
	t.Helper()
	var in struct{ Changes int }
	if p := hist.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads(); len(p) > 0 {
		if err := json.Unmarshal(p[0].GetData(), &in); err != nil {
			t.Fatalf("%s: input: %v", path, err)
		}
	}
	markers = map[string]bool{}
	for _, e := range hist.Events {
		m := e.GetMarkerRecordedEventAttributes()
		if m == nil || m.GetMarkerName() != "Version" {
			continue
		}
		var id string
		if p := m.GetDetails()["change-id"].GetPayloads(); len(p) > 0 {
			if err := json.Unmarshal(p[0].GetData(), &id); err != nil {
				t.Fatalf("%s: version marker: %v", path, err)
			}
		}
		markers[id] = true
	}
	return in.Changes, markers
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
