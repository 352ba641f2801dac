package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/certflow/certflow/pki/pkitest"
)

// FuzzParseCertificates: no PEM bundle makes the certificate parsers panic or return
// more than MaxCertificates, and FirstCertificate agrees with ParseCertificates on the
// leaf.
func FuzzParseCertificates(f *testing.F) {
	key := pkitest.Key(f)
	a := pkitest.Issue(f, &x509.Certificate{Subject: pkix.Name{CommonName: "a"}, DNSNames: []string{"a.example"}}, nil, key.Public(), key)
	b := pkitest.Issue(f, &x509.Certificate{Subject: pkix.Name{CommonName: "b"}, IsCA: true, BasicConstraintsValid: true}, nil, key.Public(), key)
	f.Add(pkitest.PEM(a, b))
	f.Add(append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42}}), pkitest.PEM(a)...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add(bytes.Repeat([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if len(certs) > MaxCertificates {
			t.Fatalf("%d certificates", len(certs))
		}
		first, ferr := FirstCertificate(data)
		if ferr == nil && len(certs) > 0 && !first.Equal(certs[0]) {
			t.Fatal("FirstCertificate and ParseCertificates disagree on the leaf")
		}
		if ferr == nil && len(certs) == 0 && err == nil {
			t.Fatal("FirstCertificate found a certificate that ParseCertificates did not")
		}
		if err != nil && len(err.Error()) > 1024 && !strings.Contains(err.Error(), "x509") {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	})
}
