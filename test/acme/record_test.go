package acme

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	enums "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/certflow/certflow/internal/testkit/integration"
)

// TestRecordACMEHistories records the ACME workflows' histories that
// workflows/replay_test.go replays (workflows/testdata/histories-acme): the DNS-01
// issuer's account registration, the Certificate run that ran an order, the order and
// its two challenges (wildcard + apex); from TestPebbleRestartedCertificatesRenewAtOnce
// the Certificate run that registered the account again and ordered twice, and the
// ClusterIssuer that verified its account on its timer. It replaces that folder's
// *.json.
//
//	CERTFLOW_INTEGRATION=1 CERTFLOW_RECORD_HISTORIES=1 go test -count=1 -v -run 'TestPebbleRestartedCertificatesRenewAtOnce|TestSeedDNS01CloudflareWildcard|TestRecordACMEHistories' ./test/acme/
func TestRecordACMEHistories(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	if os.Getenv("CERTFLOW_RECORD_HISTORIES") != "1" {
		t.Skip("set CERTFLOW_RECORD_HISTORIES=1 to re-record workflows/testdata/histories-acme")
	}
	ctx := context.Background()
	recorded := map[string]*historypb.History{}
	add := func(name, id string, want func(*historypb.History) bool) {
		t.Helper()
		var events []*historypb.HistoryEvent
		it := env.Temporal.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			events = append(events, ev)
		}
		h := &historypb.History{Events: events}
		if !want(h) {
			t.Fatalf("history of %s does not show what %s is named after", id, name)
		}
		recorded[name] = h
	}
	hasEvent := func(typ enums.EventType) func(*historypb.History) bool {
		return func(h *historypb.History) bool {
			for _, e := range h.Events {
				if e.EventType == typ {
					return true
				}
			}
			return false
		}
	}
	// Runs after TestSeedDNS01CloudflareWildcard (same package, same stack).
	add("clusterissuer-acme-registered", "clusterissuer/letsencrypt-dns01", hasEvent(enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED))
	for _, typ := range []string{"OrderWorkflow", "ChallengeWorkflow"} {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = '" + typ + "'"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range resp.Executions {
			id := e.Execution.WorkflowId
			if !strings.Contains(id, "/dns01/wildcard-") || e.Status != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				continue
			}
			n++
			name := "order-dns01-valid"
			if typ == "ChallengeWorkflow" {
				name = "challenge-dns01-valid-" + string(rune('0'+n))
			}
			add(name, id, hasEvent(enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED))
		}
		if n == 0 {
			t.Fatalf("no completed %s of dns01/wildcard: run TestSeedDNS01CloudflareWildcard first", typ)
		}
	}
	// The Certificate's run that started the order (child workflow events).
	addRun := func(name, id string, want func(*historypb.History) bool) {
		t.Helper()
		d, err := env.Temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		for runID := d.WorkflowExecutionInfo.Execution.RunId; runID != ""; {
			var events []*historypb.HistoryEvent
			it := env.Temporal.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				events = append(events, ev)
			}
			h := &historypb.History{Events: events}
			if want(h) {
				recorded[name] = h
				return
			}
			runID = events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		}
		t.Fatalf("no run of %s shows what %s is named after", id, name)
	}
	addRun("certificate-acme-order", "certificate/dns01/wildcard", hasEvent(enums.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED))
	// After TestPebbleRestartedCertificatesRenewAtOnce: the order refused for the
	// unknown account, the registration, the second order.
	addRun("certificate-acme-account-registered-again", "certificate/pebble-restart/one", func(h *historypb.History) bool {
		return hasEvent(enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)(h) && hasEvent(enums.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED)(h) &&
			hasEvent(enums.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED)(h)
	})
	add("clusterissuer-acme-account-recheck", "clusterissuer/restart-dns01", hasEvent(enums.EVENT_TYPE_TIMER_FIRED))
	// An account scheduler: requests answered by update, releases by signal.
	resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = 'AccountSchedulerWorkflow'"})
	if err != nil || len(resp.Executions) == 0 {
		t.Fatalf("no AccountSchedulerWorkflow (%v)", err)
	}
	add("account-scheduler", resp.Executions[0].Execution.WorkflowId, func(h *historypb.History) bool {
		return hasEvent(enums.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)(h) && hasEvent(enums.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)(h)
	})

	dir := filepath.Join(env.Root, "workflows", "testdata", "histories-acme")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for name, h := range recorded {
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d events)", name, len(h.Events))
	}
}
