package dns01

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/certflow/certflow/activities/kube"
)

// Types of the non-retryable errors the activities return.
const (
	// ErrTypeConfig: the solver's configuration cannot be used as it is: a
	// credentials Secret or key that is missing or empty, invalid provider
	// settings (nameserver, TSIG algorithm, conflicting credentials), or a bad
	// input (no DNS name, no key authorization).
	ErrTypeConfig = "DNS01Config"
	// ErrTypeUnsupported: the solver names a DNS provider certflow does not
	// implement (cloudDNS, azureDNS), or none at all.
	ErrTypeUnsupported = "DNS01Unsupported"
	// ErrTypeRefused: a DNS provider's API refused the request for good (HTTP 400,
	// 401, 403, 404 or 422: bad credentials, no access, a zone it does not have):
	// retrying the same request at once cannot help. The message is the API's.
	ErrTypeRefused = "DNS01Refused"
)

// refusedOrErr prefixes err with op. An *APIError whose status is a refusal becomes
// a non-retryable DNS01Refused error; other errors stay retryable.
func refusedOrErr(op string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case 400, 401, 403, 404, 422:
			return temporal.NewNonRetryableApplicationError(op+": "+err.Error(), ErrTypeRefused, nil)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func configError(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeConfig, nil)
}

// objectGone is kube.ErrTypeObjectGone: the input names no Challenge that exists.
func objectGone(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), kube.ErrTypeObjectGone, nil)
}

// isObjectGone reports whether err says the Challenge is gone or another object now.
func isObjectGone(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == kube.ErrTypeObjectGone
}
