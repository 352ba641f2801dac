package acme

import (
	"errors"
	"fmt"
	"strings"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	"go.temporal.io/sdk/temporal"

	"github.com/certflow/certflow/internal/bounded"
)

// Error types of non-retryable failures, for workflows to tell them apart.
const (
	// ErrTypeProblem: the ACME server refused the request (an RFC 8555 problem
	// document); the message is the server's.
	ErrTypeProblem = "ACMEProblem"
	// ErrTypeRateLimited: the server's rate limit; retried after its Retry-After.
	ErrTypeRateLimited = "ACMERateLimited"
	// ErrTypeAccountKey: the account key Secret is missing or unusable.
	ErrTypeAccountKey = "ACMEAccountKey"
	// ErrTypeConfig: the issuer's configuration cannot work (bad caBundle, EAB key...).
	ErrTypeConfig = "ACMEConfig"
	// ErrTypeOrderGone: the Order object was deleted or replaced (another UID).
	ErrTypeOrderGone = "OrderGone"
	// ErrTypeAccountUnknown: the server does not know the account the request was
	// signed as (accountDoesNotExist: a server that lost its accounts, such as a
	// restarted Pebble) or refuses it as deactivated. Registering again is the fix.
	ErrTypeAccountUnknown = "ACMEAccountUnknown"
)

// ACME problem types (RFC 8555 section 6.7) the activities tell apart.
const (
	problemAccountDoesNotExist = "urn:ietf:params:acme:error:accountDoesNotExist"
	problemUnauthorized        = "urn:ietf:params:acme:error:unauthorized"
)

// accountUnknown reports whether a problem says the account is gone: it does not
// exist, or it is deactivated (RFC 8555 section 7.3.6 has the server answer
// unauthorized then; Pebble and Boulder say "deactivated" in the detail).
func accountUnknown(pd *legoacme.ProblemDetails) bool {
	return pd.Type == problemAccountDoesNotExist ||
		(pd.Type == problemUnauthorized && strings.Contains(strings.ToLower(pd.Detail), "deactivated"))
}

// defaultRateLimitDelay is the wait after a rate-limit answer without Retry-After.
const defaultRateLimitDelay = time.Minute

func nonRetryable(errType, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, nil)
}

// classify turns a lego error into what Temporal should do with it: a rate limit is
// retried after the server's Retry-After, a problem the server answered with (4xx) is
// final for this step and carries the server's message, anything else (network, 5xx)
// is retried by the activity's retry policy. An account the server does not know (or
// no longer accepts) has a type of its own: the workflow registers again and retries.
// badNonce never gets here: lego retries it.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var rl *legoacme.RateLimitedError
	if errors.As(err, &rl) {
		delay, perr := api.ParseRetryAfter(rl.RetryAfter)
		if perr != nil || delay <= 0 {
			delay = defaultRateLimitDelay
		}
		return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%s: rate limited by the ACME server, retrying after %s: %s", op, delay, bounded.Excerpt(rl.Detail, 0)),
			ErrTypeRateLimited, temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	var pd *legoacme.ProblemDetails
	if errors.As(err, &pd) && pd.HTTPStatus >= 400 && pd.HTTPStatus < 500 && accountUnknown(pd) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", op, problemMessage(pd)), ErrTypeAccountUnknown, nil)
	}
	if errors.As(err, &pd) && pd.HTTPStatus >= 400 && pd.HTTPStatus < 500 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", op, problemMessage(pd)), ErrTypeProblem, nil)
	}
	return bounded.Error(op, err) // lego's text may quote a whole response body
}

// problemMessage is the server's own words: detail, type and sub-problems, each an
// excerpt (the server is the one an issuer names, and the message goes into statuses).
func problemMessage(pd *legoacme.ProblemDetails) string {
	const maxSubProblems = 10
	msg := fmt.Sprintf("%s (%s, HTTP %d)", bounded.Excerpt(pd.Detail, 0), bounded.Excerpt(pd.Type, 128), pd.HTTPStatus)
	for i, sub := range pd.SubProblems {
		if i == maxSubProblems {
			msg += fmt.Sprintf("; and %d more", len(pd.SubProblems)-i)
			break
		}
		msg += fmt.Sprintf("; %s: %s (%s)", bounded.Excerpt(sub.Identifier.Value, 128), bounded.Excerpt(sub.Detail, 0), bounded.Excerpt(sub.Type, 128))
	}
	return msg
}
