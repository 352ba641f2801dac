package keys

import (
	"errors"

	"go.temporal.io/sdk/temporal"
)

// Error types of the non-retryable application errors returned by this
// package. Workflows match on them with temporal.ApplicationError.Type().
const (
	// ErrTypeInvalidPrivateKeySpec: the requested algorithm, size or
	// encoding is not supported. Retrying cannot help.
	ErrTypeInvalidPrivateKeySpec = "InvalidPrivateKeySpec"
	// ErrTypeInvalidPrivateKey: a Secret holds data that is not a usable
	// private key (missing data key, not PEM, unparsable, unsupported type).
	ErrTypeInvalidPrivateKey = "InvalidPrivateKey"
	// ErrTypePrivateKeySecretNotFound: the Secret a KeyRef points to does
	// not exist (any more).
	ErrTypePrivateKeySecretNotFound = "PrivateKeySecretNotFound"
	// ErrTypeKeyMismatch: the key found is not the key that was expected
	// (its public key hash differs from the KeyRef, or a CSR was made with a
	// different key).
	ErrTypeKeyMismatch = "KeyMismatch"
	// ErrTypeInvalidInput: activity input is missing required fields.
	ErrTypeInvalidInput = "InvalidInput"
	// ErrTypeSecretInTheWay: a Secret that is not this owner's key Secret has the
	// key Secret's name. A person has to rename one of them.
	ErrTypeSecretInTheWay = "SecretInTheWay"
)

func invalidSpec(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeInvalidPrivateKeySpec, nil)
}

func invalidKey(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeInvalidPrivateKey, nil)
}

// IsErrorType reports whether err is (or wraps) a Temporal application error
// of the given type.
func IsErrorType(err error, errType string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == errType
}
