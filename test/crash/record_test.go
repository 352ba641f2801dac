package crash

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/worker"
	"github.com/certflow/certflow/workflows"
)

// EnvRecordHistories, set to 1 together with CERTFLOW_INTEGRATION, makes
// TestRecordHistories rewrite workflows/testdata/histories.
const EnvRecordHistories = "CERTFLOW_RECORD_HISTORIES"

const recordNS = "record"

// TestRecordHistories records the histories workflows/replay_test.go replays, from the
// real system: k8swatch and the worker in this process against the local stack. Each
// file is one run: a run that continued as new or completed is taken whole, an open run
// while it waits (timer or signal). It replaces every workflows/testdata/histories/*.json.
//
//	CERTFLOW_INTEGRATION=1 CERTFLOW_RECORD_HISTORIES=1 go test -count=1 -v -run TestRecordHistories ./test/crash/
func TestRecordHistories(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	if os.Getenv(EnvRecordHistories) != "1" {
		t.Skipf("set %s=1 to re-record workflows/testdata/histories", EnvRecordHistories)
	}
	ctx := context.Background()
	ns := recordNS
	createNamespace(t, ns)
	wk, err := kubernetes.NewForConfig(env.workerConfig)
	if err != nil {
		t.Fatal(err)
	}
	wcf, err := versioned.NewForConfig(env.workerConfig)
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(worker.Config{Temporal: env.temporal, Kube: wk, CertFlow: wcf})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	recorded := map[string][]*historypb.HistoryEvent{}
	record := func(name, id string, r run, checks ...historyCheck) {
		t.Helper()
		for _, c := range checks {
			if err := c(r.Events); err != nil {
				t.Fatalf("history %s (%s run %s) does not show what it is named after: %v\n%s", name, id, r.RunID, err, eventList(r.Events))
			}
		}
		recorded[name] = r.Events
		t.Logf("recorded %s: %s run %s, %d events, last %s", name, id, r.RunID, len(r.Events), r.Events[len(r.Events)-1].GetEventType())
	}

	// First issuance, continue-as-new, the next run asleep on its renewal timer.
	kubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"), testkit.Cert{Name: "first", DNSNames: []string{"first.example.com"}, Duration: "24h", PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String()), "apply", "-n", ns, "-f", "-")
	first := workflows.CertificateWorkflowID(ns, "first")
	waitRevision(t, ns, "first", 1)
	sleeping := waitBlocked(t, first, workflows.PhaseReady)
	issuance := lastRunWith(t, first, hasActivity("IssueWithinTask"))
	record("certificate-first-issuance", first, issuance, hasActivity("IssueWithinTask"))
	if issuance.RunID != sleeping.RunID {
		// The issuance continued as new; this run only sleeps.
		record("certificate-renewal-timer", first, sleeping, endsWith(enumspb.EVENT_TYPE_TIMER_STARTED))
	} else {
		t.Logf("the first issuance's run sleeps on the renewal timer itself: certificate-first-issuance covers both")
	}

	// A renew signal cuts the renewal timer short.
	if err := env.temporal.SignalWorkflow(ctx, first, "", workflows.SignalRenew, workflows.RenewSignal{Reason: "recording replay histories"}); err != nil {
		t.Fatal(err)
	}
	waitRevision(t, ns, "first", 2)
	waitBlocked(t, first, workflows.PhaseReady)
	record("certificate-renew-signal", first, lastRunWith(t, first, hasSignal(workflows.SignalRenew)), hasSignal(workflows.SignalRenew), hasActivity("IssueWithinTask"))

	// A spec change (new generation) re-issues.
	kubectl(t, nil, "patch", "certificate", "first", "-n", ns, "--type", "merge", "-p", `{"spec":{"dnsNames":["first.example.com","www.first.example.com"]}}`)
	waitRevision(t, ns, "first", 3)
	current := waitBlocked(t, first, workflows.PhaseReady)
	record("certificate-spec-change", first, lastRunWith(t, first, hasLaterSignal(workflows.SignalSpec)), hasLaterSignal(workflows.SignalSpec), hasActivity("IssueWithinTask"))

	// Renewals on their timer within the run that issued (valid an hour, renewed 10 s
	// after each issuance), the old request deleted in the renewal's step.
	kubectl(t, []byte(testkit.Cert{Name: "short", DNSNames: []string{"short.example.com"}, Duration: "1h", PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned",
		Extra: "  renewBefore: 59m50s\n"}.String()), "apply", "-n", ns, "-f", "-")
	short := workflows.CertificateWorkflowID(ns, "short")
	waitRevision(t, ns, "short", 3)
	record("certificate-renewals-within-run", short, waitBlocked(t, short, workflows.PhaseReady), hasActivityTimes("IssueWithinTask", 3),
		endsWith(enumspb.EVENT_TYPE_TIMER_STARTED))
	kubectl(t, nil, "delete", "certificate", "short", "-n", ns)

	// Deleting the Certificate ends its workflow.
	kubectl(t, nil, "delete", "certificate", "first", "-n", ns)
	record("certificate-deleted", first, waitClosed(t, first, current.RunID), hasSignal(workflows.SignalDelete), endsWith(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED))

	// An issuer that appears late: the Certificate waits for a signal, then issues.
	kubectl(t, []byte(testkit.Cert{Name: "late", DNSNames: []string{"late.example.com"}, Duration: "24h", PrivateKey: "{algorithm: ECDSA}", Issuer: "late-issuer"}.String()), "apply", "-n", ns, "-f", "-")
	late := workflows.CertificateWorkflowID(ns, "late")
	waitBlocked(t, late, workflows.PhaseWaitingForIssuer)
	kubectl(t, []byte(`apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: late-issuer}
spec: {selfSigned: {}}
`), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "late", 1)
	waitBlocked(t, late, workflows.PhaseReady)
	record("certificate-issuer-late", late, lastRunWith(t, late, hasSignal(workflows.SignalIssuerChanged)), hasSignal(workflows.SignalIssuerChanged), hasActivity("IssueWithinTask"))

	// A failed issuance backing off: a DNS name the API server accepts but a CSR cannot
	// carry (not ASCII) fails the issuance without a retry.
	kubectl(t, []byte(testkit.Cert{Name: "failing", DNSNames: []string{"bücher.example.com"}, Duration: "24h", PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String()), "apply", "-n", ns, "-f", "-")
	failing := workflows.CertificateWorkflowID(ns, "failing")
	record("certificate-failed-backoff", failing, waitBlocked(t, failing, workflows.PhaseBackoff),
		hasFailedActivity(""), endsWith(enumspb.EVENT_TYPE_TIMER_STARTED))

	// IssuerWorkflows: a SelfSigned one waiting for its next generation; a CA one that
	// verifies its key pair, gets a new generation and is deleted.
	selfsigned := workflows.IssuerWorkflowID(ns, "selfsigned")
	record("issuer-selfsigned", selfsigned, waitBlocked(t, selfsigned, workflows.PhaseReady), hasActivity("SetIssuerStatus"))
	kubectl(t, []byte(testkit.Cert{Name: "rec-ca", CommonName: "recording CA", IsCA: true, Duration: "2160h", PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String()), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "rec-ca", 1)
	kubectl(t, []byte(testkit.CAIssuer("rec-ca-issuer", "rec-ca-tls")), "apply", "-n", ns, "-f", "-")
	waitIssuerReady(t, ns, "rec-ca-issuer")
	caIssuer := workflows.IssuerWorkflowID(ns, "rec-ca-issuer")
	kubectl(t, nil, "patch", "issuer", "rec-ca-issuer", "-n", ns, "--type", "merge", "-p", `{"spec":{"ca":{"crlDistributionPoints":["http://crl.example.com/ca.crl"]}}}`)
	caRun := waitBlocked(t, caIssuer, workflows.PhaseReady, hasLaterSignal(workflows.SignalSpec))
	kubectl(t, nil, "delete", "issuer", "rec-ca-issuer", "-n", ns)
	record("issuer-ca-spec-change-deleted", caIssuer, waitClosed(t, caIssuer, caRun.RunID), hasActivity("CheckCAKeyPair"),
		hasLaterSignal(workflows.SignalSpec), hasSignal(workflows.SignalDelete), endsWith(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED))

	// A campaign over the namespace, one Certificate a run: paused and resumed, each run
	// continuing as new with its progress, the last one completing.
	campaign := workflows.CampaignWorkflowID("record")
	if _, err := env.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: campaign, TaskQueue: workflows.TaskQueue}, workflows.CampaignWorkflowType,
		workflows.CampaignInput{Name: "record", Selection: kube.CampaignSelection{Namespaces: []string{ns}}, Rate: workflows.Rate{Count: 1, Per: time.Second}, PageSize: 1, ContinueAsNewEvery: 1}); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{workflows.SignalCampaignPause, workflows.SignalCampaignResume} {
		if err := env.temporal.SignalWorkflow(ctx, campaign, "", sig, workflows.CampaignSignal{Reason: "recording replay histories"}); err != nil {
			t.Fatal(err)
		}
	}
	var progress workflows.CampaignProgress
	if err := env.temporal.GetWorkflow(ctx, campaign, "").Get(ctx, &progress); err != nil {
		t.Fatal(err)
	}
	record("campaign-paused-resumed", campaign, lastRunWith(t, campaign, hasSignal(workflows.SignalCampaignResume)),
		hasSignal(workflows.SignalCampaignPause), hasSignal(workflows.SignalCampaignResume), hasActivity("ListCampaignTargets"))
	record("campaign-completed", campaign, lastRunWith(t, campaign, endsWith(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)),
		endsWith(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED))

	writeHistories(t, recorded)
}

// writeHistories replaces workflows/testdata/histories/*.json with the recorded runs.
func writeHistories(t *testing.T, recorded map[string][]*historypb.HistoryEvent) {
	t.Helper()
	dir := filepath.Join(env.root, "workflows", "testdata", "histories")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	encoded := map[string][]byte{}
	for name, events := range recorded {
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&historypb.History{Events: events})
		if err != nil {
			t.Fatalf("encode %s: %v", name, err)
		}
		encoded[name] = append(b, '\n')
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range encoded {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(b))
	}
}

// waitRevision waits until the Certificate is Ready with the given status.revision.
func waitRevision(t *testing.T, ns, name string, revision int) {
	t.Helper()
	testkit.WaitRevision(t, env.certflow, ns, name, revision, 60*time.Second)
}

// waitBlocked waits until the workflow's current run reports phase through its status
// query and is blocked on a timer or a signal: no pending activity or workflow task,
// and nothing but timers and search attribute upserts after its last completed workflow
// task. It returns that run's history, which is stable until the next timer or signal.
func waitBlocked(t *testing.T, id, phase string, checks ...historyCheck) run {
	t.Helper()
	var r run
	eventually(t, 60*time.Second, id+" blocked in phase "+phase, func() (bool, string) {
		st, err := queryStatus(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		if st.Phase != phase {
			return false, fmt.Sprintf("phase %s: %+v", st.Phase, st)
		}
		d, err := env.temporal.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return false, err.Error()
		}
		if d.GetPendingWorkflowTask() != nil || len(d.GetPendingActivities()) > 0 {
			return false, "workflow task or activity pending"
		}
		runID := d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		events := runHistory(t, id, runID)
		for _, check := range append([]historyCheck{blocked}, checks...) {
			if err := check(events); err != nil {
				return false, err.Error()
			}
		}
		r = run{RunID: runID, Events: events}
		return true, ""
	})
	return r
}

func blocked(events []*historypb.HistoryEvent) error {
	last := -1
	for i, ev := range events {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			last = i
		}
	}
	if last < 0 {
		return fmt.Errorf("no completed workflow task")
	}
	for _, ev := range events[last+1:] {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_TIMER_STARTED, enumspb.EVENT_TYPE_TIMER_CANCELED, // a re-check timer a signal made moot
			enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, enumspb.EVENT_TYPE_MARKER_RECORDED:
		default:
			return fmt.Errorf("event %d %s after the last completed workflow task", ev.GetEventId(), ev.GetEventType())
		}
	}
	return nil
}

// waitClosed waits until a run has closed and returns its history.
func waitClosed(t *testing.T, id, runID string) run {
	t.Helper()
	eventually(t, 60*time.Second, id+" run "+runID+" closed", func() (bool, string) {
		d, err := env.temporal.DescribeWorkflowExecution(context.Background(), id, runID)
		if err != nil {
			return false, err.Error()
		}
		s := d.GetWorkflowExecutionInfo().GetStatus()
		return s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, s.String()
	})
	return run{RunID: runID, Events: runHistory(t, id, runID)}
}

// historyCheck says what a recorded history must show to deserve its name.
type historyCheck func([]*historypb.HistoryEvent) error

// lastRunWith returns the newest run of a workflow that passes check. Call it once the
// workflow is blocked or closed: a run that continued as new is taken whole, the
// current run as it is now.
func lastRunWith(t *testing.T, id string, check historyCheck) run {
	t.Helper()
	runs := runChain(t, id)
	for i := len(runs) - 1; i >= 0; i-- {
		if check(runs[i].Events) == nil {
			return runs[i]
		}
	}
	t.Fatalf("no run of %s passes the check: %v", id, check(runs[len(runs)-1].Events))
	return run{}
}

// hasLaterSignal: a signal of that name arrived after the run's first workflow task
// started (not the one its start came with).
func hasLaterSignal(name string) historyCheck {
	return func(events []*historypb.HistoryEvent) error {
		started := false
		for _, ev := range events {
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
				started = true
			}
			if started && ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == name {
				return nil
			}
		}
		return fmt.Errorf("no %s signal after the first workflow task", name)
	}
}

// hasActivity: an activity or local activity of that type ran.
func hasActivity(name string) historyCheck {
	return func(events []*historypb.HistoryEvent) error {
		for _, ev := range events {
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == name || testkit.LocalActivityType(ev) == name {
				return nil
			}
		}
		return fmt.Errorf("no %s activity", name)
	}
}

// hasActivityTimes: at least n activities or local activities of that type.
func hasActivityTimes(name string, n int) historyCheck {
	return func(events []*historypb.HistoryEvent) error {
		seen := 0
		for _, ev := range events {
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == name || testkit.LocalActivityType(ev) == name {
				seen++
			}
		}
		if seen < n {
			return fmt.Errorf("%d %s activities, want at least %d", seen, name, n)
		}
		return nil
	}
}

func hasSignal(name string) historyCheck {
	return func(events []*historypb.HistoryEvent) error {
		for _, ev := range events {
			if ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == name {
				return nil
			}
		}
		return fmt.Errorf("no %s signal", name)
	}
}

// hasFailedActivity: an activity or local activity of that type ("" for any) failed.
func hasFailedActivity(name string) historyCheck {
	return func(events []*historypb.HistoryEvent) error {
		scheduled := map[int64]string{}
		for _, ev := range events {
			if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
				scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
			}
			if a := ev.GetActivityTaskFailedEventAttributes(); a != nil && (name == "" || scheduled[a.GetScheduledEventId()] == name) {
				return nil
			}
			if typ := testkit.LocalActivityType(ev); typ != "" && (name == "" || typ == name) && ev.GetMarkerRecordedEventAttributes().GetFailure() != nil {
				return nil
			}
		}
		return fmt.Errorf("no failed %s activity", name)
	}
}

func endsWith(typ enumspb.EventType) historyCheck {
	return func(events []*historypb.HistoryEvent) error {
		if last := events[len(events)-1].GetEventType(); last != typ {
			return fmt.Errorf("last event is %s, want %s", last, typ)
		}
		return nil
	}
}

func eventList(events []*historypb.HistoryEvent) string {
	return runsSummary([]run{{Events: events}})
}
