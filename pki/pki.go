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
	"strings"
)

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
	block, _ := pem.Decode(data)
	if block == nil || block.Type != PEMTypeCertificate {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// ParseCertificates parses every CERTIFICATE block of data, in order, skipping other
// blocks; data without one gives none and no error. At a block that does not parse it
// returns the certificates before it with the parser's error, so a caller can say which
// one failed.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
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
