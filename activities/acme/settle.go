package acme

import (
	"context"
	"time"
)

// settleFirstDelay is the first pause of a settle; each next one doubles.
const settleFirstDelay = 100 * time.Millisecond

// settle paces the few re-reads of a step that waits, for a moment, for the server to
// decide (a validation, a CSR being processed) instead of ending the workflow task
// on a timer: 100 ms doubling, until its time is up.
type settle struct {
	deadline time.Time
	delay    time.Duration
}

func newSettle(d time.Duration) *settle {
	return &settle{deadline: time.Now().Add(d), delay: settleFirstDelay}
}

// wait pauses before the next read; false when the time is up (or ctx ended).
func (s *settle) wait(ctx context.Context) bool {
	left := time.Until(s.deadline)
	if left <= 0 {
		return false
	}
	t := time.NewTimer(min(s.delay, left))
	defer t.Stop()
	s.delay *= 2
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
