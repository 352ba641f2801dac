package starter

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/certflow/certflow/activities/scheduler"
)

// slotWaitPrefix starts an OrderWorkflow's WaitingFor while it waits for a slot from
// its ACME account's scheduler.
const slotWaitPrefix = "a slot from "

// explainSlotWait completes an order's "waiting for a slot" with the scheduler's view
// of it (which limit holds it, until when, its place in the queue); anything it cannot
// read leaves the order's own words.
func explainSlotWait(ctx context.Context, tc client.Client, orderID, waitingFor string) string {
	if !strings.HasPrefix(waitingFor, slotWaitPrefix) {
		return waitingFor
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(waitingFor, slotWaitPrefix), " ")
	v, err := tc.QueryWorkflow(ctx, id, "", scheduler.QueryStatus)
	if err != nil {
		return waitingFor
	}
	var st scheduler.Status
	if v.Get(&st) != nil {
		return waitingFor
	}
	return slotWaitLine(id, orderID, st, time.Now())
}

// slotWaitLine is the order's line: "a slot from acme-account/… (limit X until T,
// position N of M, waiting since S)".
func slotWaitLine(schedulerID, orderID string, st scheduler.Status, now time.Time) string {
	for _, w := range st.Waiting {
		if w.OrderID != orderID {
			continue
		}
		limit := w.Limit
		if w.Detail != "" {
			limit += " " + w.Detail
		}
		until := "until a running order gives its slot back"
		if w.Until != nil {
			until = fmt.Sprintf("until %s (in %s)", w.Until.UTC().Format(time.RFC3339), w.Until.Sub(now).Round(time.Second))
		}
		return fmt.Sprintf("%s%s (limit %s %s, position %d of %d, waiting since %s)", slotWaitPrefix, schedulerID, limit, until,
			w.Position, len(st.Waiting), w.Since.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s%s (granted or on its way: %d running, %d waiting)", slotWaitPrefix, schedulerID, st.Running, len(st.Waiting))
}
