package workflows

import (
	"testing"
	"time"
)

// A local step's retries have time to run: the SDK bounds a local activity with all
// its attempts by its schedule-to-close, which defaults to one attempt's timeout. An
// ACME server that stalls for a minute (each attempt running into its timeout) must
// not fail an order whose policy would retry for ten.
func TestLocalStepsHaveTimeToRetry(t *testing.T) {
	for name, kind := range map[string]stepKind{"kubeStep": kubeStep, "acmeLocalStep": acmeLocalStep} {
		o := kind.localOptions("x")
		if o.StartToCloseTimeout != kind.timeout {
			t.Errorf("%s: start-to-close %s, want %s", name, o.StartToCloseTimeout, kind.timeout)
		}
		// Room for the policy's backoff and at least three whole attempts.
		backoff := time.Duration(0)
		interval := kind.retry.InitialInterval
		for range 3 {
			backoff += interval
			interval = time.Duration(float64(interval) * kind.retry.BackoffCoefficient)
			if m := kind.retry.MaximumInterval; m > 0 {
				interval = min(interval, m)
			}
		}
		if want := 3*kind.timeout + backoff; o.ScheduleToCloseTimeout < want {
			t.Errorf("%s: schedule-to-close %s leaves no room for three attempts and their backoff (%s)", name, o.ScheduleToCloseTimeout, want)
		}
	}
}
