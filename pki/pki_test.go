package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/certflow/certflow/pki/pkitest"
)

func selfSigned(t *testing.T, cn string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key := pkitest.Key(t)
	return key, pkitest.PEM(pkitest.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}}, nil, key.Public(), key))
}

func TestParseCertificates(t *testing.T) {
	key, a := selfSigned(t, "a")
	_, b := selfSigned(t, "b")
	other := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{1}})
	bad := pem.EncodeToMemory(&pem.Block{Type: PEMTypeCertificate, Bytes: []byte{1}})

	certs, err := ParseCertificates(append(append(append([]byte{}, a...), other...), b...))
	if err != nil || len(certs) != 2 || certs[0].Subject.CommonName != "a" || certs[1].Subject.CommonName != "b" {
		t.Fatalf("got %d certificates, %v", len(certs), err)
	}
	if !PublicKeysEqual(key.Public(), certs[0].PublicKey) || PublicKeysEqual(key.Public(), certs[1].PublicKey) {
		t.Error("PublicKeysEqual")
	}
	if !PrivateKeysEqual(key, key) || !CertificatesEqual(certs[:1], certs[:1]) || CertificatesEqual(certs, certs[:1]) {
		t.Error("PrivateKeysEqual or CertificatesEqual")
	}
	if certs, err := ParseCertificates(append(append([]byte{}, a...), bad...)); err == nil || len(certs) != 1 {
		t.Errorf("a bad second block: got %d certificates, %v", len(certs), err)
	}
	if certs, err := ParseCertificates(nil); err != nil || len(certs) != 0 {
		t.Errorf("no data: got %d certificates, %v", len(certs), err)
	}

	if c, err := FirstCertificate(append(append([]byte{}, b...), a...)); err != nil || c.Subject.CommonName != "b" {
		t.Errorf("FirstCertificate: %v", err)
	}
	if _, err := FirstCertificate(append(append([]byte{}, other...), a...)); err == nil {
		t.Error("FirstCertificate accepted a bundle that does not start with a certificate")
	}
}

func TestSafeErrorMessage(t *testing.T) {
	if got := SafeErrorMessage(errors.New("first line\nsecret")); got != "first line" {
		t.Errorf("got %q", got)
	}
	if got := SafeErrorMessage(errors.New(strings.Repeat("x", 300))); got != strings.Repeat("x", 200)+"..." {
		t.Errorf("got %d characters", len(got))
	}
}

// TestParseCertificatesBounds: a bundle past 1 MiB or with more than MaxCertificates
// certificates is refused without parsing all of it.
func TestParseCertificatesBounds(t *testing.T) {
	_, one := selfSigned(t, "a")
	many := bytes.Repeat(one, MaxCertificates+1)
	if len(many) > MaxInputSize {
		t.Fatalf("test bundle of %d bytes is past the size bound", len(many))
	}
	certs, err := ParseCertificates(many)
	if err == nil || !strings.Contains(err.Error(), "more than 1000 certificates") || len(certs) != MaxCertificates {
		t.Fatalf("%d certificates: got %d, %v", MaxCertificates+1, len(certs), err)
	}
	if _, err := ParseCertificates(append(bytes.Repeat([]byte{'\n'}, MaxInputSize), one...)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a bundle past 1 MiB: %v", err)
	}
	if _, err := FirstCertificate(append(one, bytes.Repeat([]byte{'\n'}, MaxInputSize)...)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("FirstCertificate past 1 MiB: %v", err)
	}
}
