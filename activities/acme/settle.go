package acme

import (
	"context"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// settle paces the few re-reads of a step that waits, for a moment, for the server to
// decide (a validation, a CSR being processed) instead of ending the workflow task
// on a timer: pauses of 100 ms doubling, until its time is up.
type settle struct {
	deadline time.Time
	pauses   wait.Backoff
}

func newSettle(d time.Duration) *settle {
	return &settle{deadline: time.Now().Add(d), pauses: wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Steps: math.MaxInt32}}
}

// wait pauses before the next read; false when the time is up (or ctx ended).
func (s *settle) wait(ctx context.Context) bool {
	left := time.Until(s.deadline)
	if left <= 0 {
		return false
	}
	t := time.NewTimer(min(s.pauses.Step(), left))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
