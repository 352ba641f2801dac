package starter

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki/pkitest"
)

// testPKI is a root, an intermediate signed by it and a leaf signed by the
// intermediate, valid from t0 for a day.
type testPKI struct {
	root, inter, leaf *x509.Certificate
	leafKeyPEM        []byte
	otherKeyPEM       []byte
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	validity := func(tmpl *x509.Certificate) *x509.Certificate {
		tmpl.NotBefore, tmpl.NotAfter = t0, t0.Add(24*time.Hour)
		return tmpl
	}
	rootKey, interKey, leafKey := pkitest.Key(t), pkitest.Key(t), pkitest.Key(t)
	root := pkitest.Issue(t, validity(&x509.Certificate{Subject: pkix.Name{CommonName: "test root", Organization: []string{"Root Org"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, SerialNumber: big.NewInt(1)}), nil, rootKey.Public(), rootKey)
	inter := pkitest.Issue(t, validity(&x509.Certificate{Subject: pkix.Name{CommonName: "test intermediate", Country: []string{"FR"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, SerialNumber: big.NewInt(2)}), root, interKey.Public(), rootKey)
	u, _ := url.Parse("spiffe://example.org/web")
	leaf := pkitest.Issue(t, validity(&x509.Certificate{Subject: pkix.Name{CommonName: "web.example.com"},
		DNSNames: []string{"web.example.com", "www.example.com"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		URIs: []*url.URL{u}, EmailAddresses: []string{"ops@example.com"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		CRLDistributionPoints: []string{"http://crl.example.com/ca.crl"}, OCSPServer: []string{"http://ocsp.example.com"},
		IssuingCertificateURL: []string{"http://example.com/ca.crt"},
		SerialNumber:          big.NewInt(4242)}), inter, leafKey.Public(), interKey)
	leafPEM, err := keys.EncodePrivateKey(leafKey, cmapi.PKCS8)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, err := keys.EncodePrivateKey(pkitest.Key(t), cmapi.PKCS1)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{root: root, inter: inter, leaf: leaf, leafKeyPEM: leafPEM, otherKeyPEM: otherPEM}
}
