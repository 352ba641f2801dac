package testkit

import (
	"testing"
	"time"
)

// Eventually polls cond every 100 ms until it returns true, failing tb with cond's last
// description of the state once timeout has passed.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, last)
}
