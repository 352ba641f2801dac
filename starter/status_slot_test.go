package starter

import (
	"testing"
	"time"

	"github.com/certflow/certflow/activities/scheduler"
	"github.com/certflow/certflow/policy"
)

func TestSlotWaitLine(t *testing.T) {
	now := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	until := now.Add(90 * time.Second)
	st := scheduler.Status{Running: 50, Waiting: []scheduler.Waiting{
		{OrderID: "order/ns/a", Since: now.Add(-time.Minute), Limit: policy.LimitDomain, Detail: "example.com: 50 per 20s", Until: &until, Position: 1},
		{OrderID: "order/ns/b", Since: now, Limit: policy.LimitConcurrency, Position: 2},
	}}
	for _, tc := range []struct{ order, want string }{
		{"order/ns/a", "a slot from acme-account/x (limit certificates per registered domain example.com: 50 per 20s until 2026-12-06T05:01:30Z (in 1m30s), position 1 of 2, waiting since 2026-12-06T04:59:00Z)"},
		{"order/ns/b", "a slot from acme-account/x (limit concurrent orders until a running order gives its slot back, position 2 of 2, waiting since 2026-12-06T05:00:00Z)"},
		{"order/ns/c", "a slot from acme-account/x (granted or on its way: 50 running, 2 waiting)"},
	} {
		if got := slotWaitLine("acme-account/x", tc.order, st, now); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.order, got, tc.want)
		}
	}
}
