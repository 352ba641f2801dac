// Package policy holds pure decision logic shared by certflow's workflows:
// when a certificate is due for renewal and how long to back off after a
// failed issuance. Nothing in this package performs I/O or reads the clock;
// every time value is passed in by the caller (workflow.Now in workflows).
package policy

import "time"

// DefaultRenewBeforeDivisor is used when neither renewBefore nor a valid
// renewBeforePercentage is set: renewal happens when one third of the
// certificate's lifetime remains (two thirds through it).
const DefaultRenewBeforeDivisor = 3

// RenewBefore returns how long before notAfter a certificate with the given
// lifetime (notAfter - notBefore) should be renewed.
//
//   - renewBefore is honoured when 0 < renewBefore < lifetime;
//   - otherwise renewBeforePercentage is honoured when 0 < pct < 100, giving
//     lifetime*pct/100;
//   - otherwise lifetime/3.
//
// The percentage is computed without overflowing int64 nanoseconds, so very
// long lifetimes (decade-long CA certificates) give the exact result.
func RenewBefore(lifetime time.Duration, renewBefore *time.Duration, renewBeforePercentage *int32) time.Duration {
	if renewBefore != nil && *renewBefore > 0 && *renewBefore < lifetime {
		return *renewBefore
	}
	if renewBeforePercentage != nil && *renewBeforePercentage > 0 && *renewBeforePercentage < 100 {
		return percentOf(lifetime, int64(*renewBeforePercentage))
	}
	return lifetime / DefaultRenewBeforeDivisor
}

// percentOf returns d*pct/100 (truncated toward zero) for 0 < pct < 100
// without overflowing the intermediate product.
func percentOf(d time.Duration, pct int64) time.Duration {
	q, r := int64(d)/100, int64(d)%100
	return time.Duration(q*pct + r*pct/100)
}

// RenewalTime is the moment a certificate valid from notBefore to notAfter
// should be renewed: notAfter - RenewBefore(lifetime, ...), truncated to the
// second. Truncation matters: the value is stored in Certificate.status with
// second precision and compared against again later, so an untruncated value
// could make a renewal look due a fraction of a second too early or late.
func RenewalTime(notBefore, notAfter time.Time, renewBefore *time.Duration, renewBeforePercentage *int32) time.Time {
	lifetime := notAfter.Sub(notBefore)
	return notAfter.Add(-RenewBefore(lifetime, renewBefore, renewBeforePercentage)).Truncate(time.Second)
}

const (
	// InitialFailureBackoff is the delay after the first failed issuance.
	InitialFailureBackoff = time.Hour
	// MaxFailureBackoff caps the exponential failure backoff.
	MaxFailureBackoff = 32 * time.Hour
)

// FailureBackoff returns how long to wait, counted from the last failure,
// before retrying issuance after failedAttempts consecutive failures:
// min(1h * 2^(failedAttempts-1), 32h). Zero or negative attempts give 0.
func FailureBackoff(failedAttempts int) time.Duration {
	if failedAttempts <= 0 {
		return 0
	}
	d := InitialFailureBackoff
	for i := 1; i < failedAttempts; i++ {
		d *= 2
		if d >= MaxFailureBackoff {
			return MaxFailureBackoff
		}
	}
	return d
}

// FailureBackoffUntil returns the time at which issuance may be retried:
// lastFailure + FailureBackoff(failedAttempts).
func FailureBackoffUntil(lastFailure time.Time, failedAttempts int) time.Time {
	return lastFailure.Add(FailureBackoff(failedAttempts))
}

// SignalRecheck bounds a wait for a relayed signal (an issuer becoming ready, a
// person's approval): the workflow looks again after it even when the signal was lost
// (a watcher down at the moment, a kubectl edit the watcher missed). Long enough that
// thousands of waiting Certificates cost little, short enough that nothing waits for a
// watcher restart.
const SignalRecheck = 10 * time.Minute

// RecheckBackoff is how long an issuer that is not ready for a reason that may fix
// itself (its CA Secret is missing) waits before its n-th re-check (n from 0): 5s
// doubling to at most 5 minutes.
func RecheckBackoff(n int) time.Duration {
	const first, most = 5 * time.Second, 5 * time.Minute
	if n >= 6 { // 5s·2^6 = 320s > 5m
		return most
	}
	return min(first<<max(n, 0), most)
}
