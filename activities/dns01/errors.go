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
	// implement (route53, cloudDNS, azureDNS, acmeDNS, akamai,
	// webhook), or none at all.
	ErrTypeUnsupported = "DNS01Unsupported"
)

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
