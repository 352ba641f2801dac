package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

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
		events, tasks, issuances, types = 0, 0, 0, nil
		last := ""
		var err error
		runs, err = testkit.WalkHistory(context.Background(), env.Temporal, id, func(run int, ev *historypb.HistoryEvent) {
			events++
			typ := strings.TrimPrefix(ev.EventType.String(), "EVENT_TYPE_")
			if run == 0 {
				last = ev.EventType.String()
			}
			switch ev.EventType {
			case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				tasks++
			case enums.EVENT_TYPE_MARKER_RECORDED:
				activity := testkit.LocalActivityType(ev)
				if activity == "IssueWithinTask" {
					issuances++
				}
				typ += "(" + activity + ")"
			}
			types = append(types, typ)
		})
		if err != nil {
			return false, err.Error()
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
