package acme

import (
	"context"
	"testing"
	"time"
)

// A settle pauses 100 ms, then 200 ms cut to what is left of its time, then says the
// time is up; an ended context ends it at once.
func TestSettlePausesDoubleUntilTheDeadline(t *testing.T) {
	start := time.Now()
	s := newSettle(250 * time.Millisecond)
	if !s.wait(context.Background()) || !s.wait(context.Background()) {
		t.Fatal("a settle of 250 ms should pause twice")
	}
	if s.wait(context.Background()) {
		t.Fatal("a settle should end when its time is up")
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 2*time.Second {
		t.Fatalf("a settle of 250 ms took %v", took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if newSettle(time.Minute).wait(ctx) {
		t.Fatal("a settle should end with its context")
	}
}
