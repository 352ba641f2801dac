// Package pki builds certificate signing requests from Certificate specs and
// signs certificates (self-signed, or with a CA key pair held in a Secret).
//
// The pure functions (BuildCSR, CertificateTemplateFromCSR, KeyUsages,
// DescribeCertificate, ParseLiteralSubject...) take every input, including
// the time, as arguments. The activities (methods of Activities) add the
// Secret I/O: they load private keys with keys.LoadSigner, use them, and
// return only public data (CSRs and certificates).
package pki

import (
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/certflow/certflow/activities/keys"
)

// Error types of the non-retryable application errors returned by this
// package (see temporal.ApplicationError.Type).
const (
	// ErrTypeInvalidCertificateSpec: the Certificate spec cannot be turned
	// into a request (bad IP address, URI, literalSubject, otherName OID,
	// usage, signature algorithm, name constraint, or no name at all).
	ErrTypeInvalidCertificateSpec = "InvalidCertificateSpec"
	// ErrTypeInvalidCSR: the CSR cannot be parsed, its signature is wrong,
	// or the usages / basic constraints it encodes contradict the request.
	ErrTypeInvalidCSR = "InvalidCSR"
	// ErrTypeKeyMismatch: the CSR was not made with the referenced key (or
	// the key in the Secret changed). Same value as keys.ErrTypeKeyMismatch.
	ErrTypeKeyMismatch = keys.ErrTypeKeyMismatch
	// ErrTypeCASecretNotFound: the CA issuer's Secret does not exist (yet).
	ErrTypeCASecretNotFound = "CASecretNotFound"
	// ErrTypeInvalidCAKeyPair: the CA Secret lacks tls.crt or tls.key, or its
	// certificate and key do not belong together.
	ErrTypeInvalidCAKeyPair = "InvalidCAKeyPair"
	// ErrTypeInvalidInput: required activity input is missing.
	ErrTypeInvalidInput = keys.ErrTypeInvalidInput
)

func specErrorf(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidCertificateSpec, nil)
}

func csrErrorf(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidCSR, nil)
}

func caErrorf(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidCAKeyPair, nil)
}

func keyMismatch(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeKeyMismatch, nil)
}

func inputErrorf(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidInput, nil)
}
