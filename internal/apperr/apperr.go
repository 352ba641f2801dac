// Package apperr reads Temporal application errors for people.
package apperr

import (
	"errors"

	"go.temporal.io/sdk/temporal"
)

// Message is an error's own message: an application error's without the type and the
// activity wrapping its Error() adds, or err.Error() for other errors.
func Message(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}
