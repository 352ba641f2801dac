// Package pki holds the key and certificate helpers that several activities, the policy
// and the watcher share, so that each exists once. It is pure: no I/O, no Kubernetes or
// Temporal client, nothing but bytes in and values out, which keeps it usable anywhere
// (including tests and pure encoders such as pki/keystores).
package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// MaxInputSize bounds every PEM, DER or keystore input the parsers take: a Secret's
// whole data is at most 1 MiB in Kubernetes, so no value read from one is larger, and
// a CertificateRequest or a chain from a CA is far smaller.
const MaxInputSize = 1 << 20

// MaxCertificates bounds the certificates of one bundle (tls.crt, ca.crt, a CA's chain,
// a keystore): a CA bundle of every public root holds about 150.
const MaxCertificates = 1000

// ErrTooLarge is returned (wrapped) for an input past MaxInputSize.
var ErrTooLarge = fmt.Errorf("input larger than %d bytes", MaxInputSize)

// CheckSize refuses data past MaxInputSize, naming what it is.
func CheckSize(what string, data []byte) error {
	if len(data) > MaxInputSize {
		return fmt.Errorf("%s: %w (%d bytes)", what, ErrTooLarge, len(data))
	}
	return nil
}

// Recover turns a panic of a parser into an error: deferred as
// defer pki.Recover("decoding JKS store", &err), it sets err to a message naming what
// was parsed, so that hostile input that makes a third-party parser panic fails one
// call instead of the worker. Only the panic's type is named, never its value (it may
// quote the input).
func Recover(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: malformed input (the parser failed with %T)", what, r)
	}
}

// PEMTypeCertificate is the PEM block type of an X.509 certificate.
const PEMTypeCertificate = "CERTIFICATE"

// PublicKeysEqual reports whether two public keys are the same key.
func PublicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// PrivateKeysEqual reports whether two private keys are the same key.
func PrivateKeysEqual(a crypto.Signer, b crypto.PrivateKey) bool {
	e, ok := a.(interface{ Equal(crypto.PrivateKey) bool })
	return ok && e.Equal(b)
}

// CertificatesEqual reports whether two chains hold the same certificates in the same
// order.
func CertificatesEqual(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// FirstCertificate parses the leaf of a PEM bundle: its first block, which must be a
// certificate.
func FirstCertificate(data []byte) (*x509.Certificate, error) {
	if err := CheckSize("PEM certificate", data); err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != PEMTypeCertificate {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// ParseCertificates parses every CERTIFICATE block of data, in order, skipping other
// blocks; data without one gives none and no error. At a block that does not parse it
// returns the certificates before it with the parser's error, so a caller can say which
// one failed. Data past MaxInputSize, or more than MaxCertificates certificates, is an
// error.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if err := CheckSize("PEM certificates", data); err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return certs, nil
		}
		if block.Type != PEMTypeCertificate {
			continue
		}
		if len(certs) == MaxCertificates {
			return certs, fmt.Errorf("more than %d certificates", MaxCertificates)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return certs, err
		}
		certs = append(certs, c)
	}
}

// SafeErrorMessage turns a parser's error into a message that cannot carry key bytes or
// passwords: the standard library's and the keystore libraries' errors describe structure
// only, but the message is cut at the first newline and capped anyway.
func SafeErrorMessage(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	const maxLen = 200
	if len(msg) > maxLen {
		msg = msg[:maxLen] + "..."
	}
	return msg
}
