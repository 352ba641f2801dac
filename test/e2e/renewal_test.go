package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/workflows"
)

// Renewals on their timer go on in the run that issued: each is one workflow task of
// 8 history events (the timer fired, the task's three, the reads, the issuance, the
// search attributes, the next timer), as the first issuance is, and no continue-as-new.
func TestRenewalsWithinOneRun(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "renewals"
	mustKubectl(t, nil, "create", "namespace", ns)
	// The issuer is ready first, so that the first issuance does not wait for it.
	mustKubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned")), "apply", "-n", ns, "-f", "-")
	waitIssuerReady(t, ns, "selfsigned")
	// Valid for an hour, renewed 10 s after it was issued.
	mustKubectl(t, testkit.Manifest(testkit.Cert{
		Name: "short", CommonName: "short.example.com", DNSNames: []string{"short.example.com"}, PrivateKey: "{algorithm: ECDSA}",
		Issuer: "selfsigned", Duration: "1h", Extra: "  renewBefore: 59m50s\n",
	}.String()), "apply", "-n", ns, "-f", "-")
	testkit.WaitRevision(t, env.CertFlow, ns, "short", 3, 90*time.Second)

	// Read the history while the workflow sleeps, between two renewals.
	id := workflows.CertificateWorkflowID(ns, "short")
	var events, tasks, issuances, runs int
	var types []string
	eventually(t, 30*time.Second, "the workflow asleep until its next renewal", func() (bool, string) {
		events, tasks, issuances, runs, types = 0, 0, 0, 0, nil
		last := ""
		for runID := ""; ; {
			prev := ""
			it := env.Temporal.GetWorkflowHistory(context.Background(), id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					return false, err.Error()
				}
				if runID == "" {
					last = ev.EventType.String() // of the current run
				}
				events++
				typ := strings.TrimPrefix(ev.EventType.String(), "EVENT_TYPE_")
				switch ev.EventType {
				case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
					prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
				case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
					tasks++
				case enums.EVENT_TYPE_MARKER_RECORDED:
					var data struct{ ActivityType string }
					details := ev.GetMarkerRecordedEventAttributes().GetDetails()["data"]
					if converter.GetDefaultDataConverter().FromPayloads(details, &data) == nil && data.ActivityType == "IssueWithinTask" {
						issuances++
					}
					typ += "(" + data.ActivityType + ")"
				}
				types = append(types, typ)
			}
			if prev == "" {
				runs++
				break
			}
			runID = prev
		}
		return last == enums.EVENT_TYPE_TIMER_STARTED.String(), "last event " + last
	})
	t.Logf("%d issuances: %d history events, %d workflow tasks, %d runs", issuances, events, tasks, runs)
	if issuances < 3 {
		t.Fatalf("%d one-step issuances in the history, want at least 3 (revision 3)", issuances)
	}
	if runs != 1 || events > 8*issuances || tasks > issuances {
		t.Errorf("%d issuances took %d runs, %d events and %d workflow tasks; want 1 run, at most 8 events and 1 task each; the events, newest run first: %s",
			issuances, runs, events, tasks, strings.Join(types, " "))
	}
}
