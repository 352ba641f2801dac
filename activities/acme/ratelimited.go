package acme

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
)

// reportRateLimit turns a rate-limit error (retried after the server's Retry-After)
// into a final one carrying that delay as its details, when report is set: the
// workflow then pauses the account and orders again once the account's scheduler
// says so.
func reportRateLimit(report bool, err error) error {
	var appErr *temporal.ApplicationError
	if !report || !errors.As(err, &appErr) || appErr.Type() != ErrTypeRateLimited {
		return err
	}
	// The delay, and the time it ends: a local activity's workflow task began before
	// the server answered, so its clock would end the pause early.
	delay := appErr.NextRetryDelay()
	return temporal.NewApplicationErrorWithOptions(appErr.Message(), ErrTypeRateLimited, temporal.ApplicationErrorOptions{
		NonRetryable: true, Details: []any{delay, time.Now().Add(delay)},
	})
}
