package kube

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Error types of the non-retryable application errors the activities return. They are
// recorded in workflow histories and matched by workflows: the values never change.
const (
	// ErrTypeInvalidKeystorePassword: a keystore's password Secret or its key is missing
	// or empty. The message names the Secret and the key, never the password.
	ErrTypeInvalidKeystorePassword = "InvalidKeystorePassword"
	// ErrTypeInvalidSecretOutput: a keystore or output format cannot be encoded for this
	// key and certificate (for example an unknown PKCS#12 profile).
	ErrTypeInvalidSecretOutput = "InvalidSecretOutput"
	// ErrTypeSecretNotReady: RefreshSecretOutputs found no valid key pair in the Secret to
	// derive the outputs from; the Certificate needs issuing first.
	ErrTypeSecretNotReady = "SecretNotReady"
	// ErrTypeInvalidCertificate: the certificate to write into the Secret does not parse.
	ErrTypeInvalidCertificate = "InvalidCertificate"
	// ErrTypeKeyMismatch: the key in the key Secret is not the issued certificate's.
	ErrTypeKeyMismatch = "KeyMismatch"
	// ErrTypeInvalidCSR: the CSR of a CertificateRequest to create does not parse.
	ErrTypeInvalidCSR = "InvalidCSR"
	// ErrTypeRequestGone: the CertificateRequest was deleted or replaced (another UID).
	ErrTypeRequestGone = "RequestGone"
	// ErrTypeDenied: the CertificateRequest was denied.
	ErrTypeDenied = "Denied"
	// ErrTypeOrderConflict: an Order of the name exists and belongs to another
	// CertificateRequest.
	ErrTypeOrderConflict = "OrderConflict"
	// ErrTypeSecretInUse: the target Secret was written by another Certificate that
	// still names it as its secretName; it is not overwritten.
	ErrTypeSecretInUse = "SecretInUse"
	// ErrTypeObjectGone: the object an activity was to write for does not exist, or is
	// another object (another UID): nothing is written.
	ErrTypeObjectGone = "ObjectGone"
	// ErrTypeChallengeConflict: a Challenge of the name exists and belongs to another
	// Order.
	ErrTypeChallengeConflict = "ChallengeConflict"
)

// nonRetryable marks an error that retrying cannot fix (bad input, bad data).
func nonRetryable(errType, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, nil)
}
