package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// keyCache avoids regenerating slow RSA keys in every test.
var keyCache = map[string]crypto.Signer{}

func testKey(t *testing.T, alg cmapi.PrivateKeyAlgorithm, size int) crypto.Signer {
	t.Helper()
	id := string(alg) + "/" + big.NewInt(int64(size)).String()
	if k, ok := keyCache[id]; ok {
		return k
	}
	k, err := keys.GenerateKey(keys.KeySpec{Algorithm: alg, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	keyCache[id] = k
	return k
}

func assertErrType(t *testing.T, err error, wantType string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected a %s error, got nil", wantType)
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("expected ApplicationError %s, got %T: %v", wantType, err, err)
	}
	if appErr.Type() != wantType {
		t.Fatalf("error type %q, want %q: %v", appErr.Type(), wantType, err)
	}
	if !appErr.NonRetryable() {
		t.Fatalf("error should be non-retryable: %v", err)
	}
}

func mustCSR(t *testing.T, spec cmapi.CertificateSpec, signer crypto.Signer) ([]byte, *x509.CertificateRequest) {
	t.Helper()
	csrPEM, err := BuildCSR(spec, signer)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSRPEM(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	return csrPEM, csr
}

func mustSelfSign(t *testing.T, csrPEM []byte, signer crypto.Signer, isCA bool, usages []cmapi.KeyUsage, opts ...TemplateOption) *x509.Certificate {
	t.Helper()
	tmpl, err := CertificateTemplateFromCSR(csrPEM, 0, isCA, usages, testNow, opts...)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := ParseCSRPEM(csrPEM)
	cert, err := SignSelfSignedTemplate(tmpl, signer, csr.SignatureAlgorithm)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func findExt(exts []pkix.Extension, oid asn1.ObjectIdentifier) (pkix.Extension, bool) {
	for _, e := range exts {
		if e.Id.Equal(oid) {
			return e, true
		}
	}
	return pkix.Extension{}, false
}

func verifySelfSigned(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: testNow.Add(time.Hour),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		t.Fatalf("self-signed certificate does not verify: %v", err)
	}
}

func boolPtr(b bool) *bool { return &b }

var bigOne = big.NewInt(1)

var randReader = rand.Reader

func bigInt(n int64) *big.Int { return big.NewInt(n) }
