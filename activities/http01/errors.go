package http01

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Types of the non-retryable errors the activities return.
const (
	// ErrTypeInvalidInput: the input lacks a required field or has a
	// malformed one (e.g. a token that is not base64url).
	ErrTypeInvalidInput = "InvalidInput"
	// ErrTypeInvalidSolverConfig: the http01 solver spec cannot be solved
	// (neither or both of ingress and gatewayHTTPRoute, a
	// wildcard identifier).
	ErrTypeInvalidSolverConfig = "InvalidSolverConfig"
	// ErrTypeSolverNotConfigured: this worker cannot run the solver (no
	// Kubernetes or Gateway API client, no solver image).
	ErrTypeSolverNotConfigured = "SolverNotConfigured"
	// ErrTypeSolverNameConflict: an object with the solver's name exists and
	// does not belong to the Challenge (nor to an earlier Challenge of the
	// same name).
	ErrTypeSolverNameConflict = "SolverNameConflict"
)

func invalidInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidInput, nil)
}

func invalidConfig(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidSolverConfig, nil)
}

func notConfigured(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeSolverNotConfigured, nil)
}

func nameConflict(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeSolverNameConflict, nil)
}
