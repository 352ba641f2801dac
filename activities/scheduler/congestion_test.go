package scheduler

import (
	"testing"
	"time"
)

func TestCongestion(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	type step struct {
		id         string
		at         time.Duration
		unanswered bool // record a failed ask instead of asking
		want       bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a scheduler never unanswered is asked by update", []step{{id: "a", want: true}, {id: "a", at: time.Hour, want: true}}},
		{"after an unanswered ask, by signal for the cooldown", []step{
			{id: "a", unanswered: true},
			{id: "a", at: time.Second, want: false},
			{id: "a", at: congestionCooldown - time.Millisecond, want: false},
			{id: "a", at: congestionCooldown, want: true},
			{id: "a", at: congestionCooldown + time.Second, want: true},
		}},
		{"per scheduler", []step{{id: "a", unanswered: true}, {id: "b", at: time.Second, want: true}, {id: "a", at: time.Second, want: false}}},
		{"a later failure extends the cooldown", []step{
			{id: "a", unanswered: true},
			{id: "a", at: 20 * time.Second, unanswered: true},
			{id: "a", at: congestionCooldown + time.Second, want: false},
			{id: "a", at: 20*time.Second + congestionCooldown, want: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c congestion
			for i, s := range tc.steps {
				if s.unanswered {
					c.unanswered(s.id, t0.Add(s.at))
					continue
				}
				if got := c.useUpdate(s.id, t0.Add(s.at)); got != s.want {
					t.Errorf("step %d: useUpdate(%s, +%s) = %v, want %v", i, s.id, s.at, got, s.want)
				}
			}
		})
	}
}
