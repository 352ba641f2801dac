package testkit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"testing"

	enums "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// AssertNoKeyInHistory reads every event of every run of a workflow (walking the
// continue-as-new chain back from the current run) and fails the test where one holds
// any of the PEM private keys: as PEM, as DER, either in base64 (how []byte travels in
// JSON payloads), or any PEM private key header at all. It returns the number of events
// read, so a caller can check that the scan saw the issuance.
func AssertNoKeyInHistory(t testing.TB, tc client.Client, workflowID string, keysPEM ...[]byte) int {
	t.Helper()
	return AssertNoSecretInHistory(t, tc, workflowID, nil, keysPEM...)
}

// AssertNoSecretInHistory is AssertNoKeyInHistory that also looks for other secrets
// (keystore passwords, say), named by what they are, as plain bytes and in base64.
func AssertNoSecretInHistory(t testing.TB, tc client.Client, workflowID string, secrets map[string][]byte, keysPEM ...[]byte) int {
	t.Helper()
	needles := map[string][]byte{"PEM private key header": []byte("PRIVATE KEY-----")}
	for what, v := range secrets {
		needles[what] = v
		needles[what+" as base64"] = []byte(base64.StdEncoding.EncodeToString(v))
	}
	for i, k := range keysPEM {
		blk, _ := pem.Decode(k)
		if blk == nil {
			t.Fatalf("key %d to look for is not PEM", i)
		}
		needles[fmt.Sprintf("key %d PEM", i)] = k
		needles[fmt.Sprintf("key %d DER", i)] = blk.Bytes
		needles[fmt.Sprintf("key %d PEM as base64", i)] = []byte(base64.StdEncoding.EncodeToString(k))
		needles[fmt.Sprintf("key %d DER as base64", i)] = []byte(base64.StdEncoding.EncodeToString(blk.Bytes))
	}
	events := 0
	_, err := WalkHistory(context.Background(), tc, workflowID, func(run int, ev *historypb.HistoryEvent) {
		events++
		raw, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		for what, needle := range needles {
			if bytes.Contains(raw, needle) {
				t.Errorf("%s found in event %d (%s) of run %d (0 the newest) of %s", what, ev.EventId, ev.EventType, run, workflowID)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// WalkHistory calls fn with every event of every run of a workflow, walking the
// continue-as-new chain back from the current run (run 0), and returns the number of
// runs.
func WalkHistory(ctx context.Context, tc client.Client, workflowID string, fn func(run int, ev *historypb.HistoryEvent)) (runs int, err error) {
	for runID := ""; ; runs++ {
		prev := ""
		it := tc.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return runs, fmt.Errorf("history of %s run %q: %w", workflowID, runID, err)
			}
			if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
			}
			fn(runs, ev)
		}
		if prev == "" {
			return runs + 1, nil
		}
		runID = prev
	}
}

// LocalActivityType is the activity type of a local activity's marker ("" for other
// events, "?" for a marker it cannot read).
func LocalActivityType(ev *historypb.HistoryEvent) string {
	a := ev.GetMarkerRecordedEventAttributes()
	if a == nil || a.GetMarkerName() != "LocalActivity" {
		return ""
	}
	var data struct{ ActivityType string }
	p := a.GetDetails()["data"].GetPayloads()
	if len(p) == 0 || converter.GetDefaultDataConverter().FromPayload(p[0], &data) != nil {
		return "?"
	}
	return data.ActivityType
}
