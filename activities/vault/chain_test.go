package vault

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	sharedpki "github.com/certflow/certflow/pki"
)

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

// newTestCert makes a certificate named cn, signed by parent (nil: self-signed).
func newTestCert(t *testing.T, cn string, isCA bool, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func TestSplitChain(t *testing.T) {
	root := newTestCert(t, "root", true, nil)
	inter := newTestCert(t, "intermediate", true, root)
	leafOfInter := newTestCert(t, "leaf", false, inter)
	leafOfRoot := newTestCert(t, "leaf-root", false, root)
	other := newTestCert(t, "other root", true, nil)
	tests := []struct {
		name      string
		leaf      string
		caChain   []string
		issuingCA string
		wantChain []*testCert
		wantCA    *testCert
		wantErr   bool
	}{
		{name: "root mount: issuing_ca and ca_chain are the root", leaf: leafOfRoot.pem,
			caChain: []string{root.pem}, issuingCA: root.pem, wantChain: []*testCert{leafOfRoot}, wantCA: root},
		{name: "intermediate mount with the root in ca_chain", leaf: leafOfInter.pem,
			caChain: []string{inter.pem, root.pem}, issuingCA: inter.pem, wantChain: []*testCert{leafOfInter, inter}, wantCA: root},
		{name: "chain in any order, with an unrelated CA", leaf: leafOfInter.pem,
			caChain: []string{other.pem, root.pem, inter.pem}, issuingCA: inter.pem, wantChain: []*testCert{leafOfInter, inter}, wantCA: root},
		{name: "intermediate mount without the root: ca.crt is the intermediate, kept in the chain", leaf: leafOfInter.pem,
			issuingCA: inter.pem, wantChain: []*testCert{leafOfInter, inter}, wantCA: inter},
		{name: "no issuer of the leaf returned: no ca.crt", leaf: leafOfInter.pem,
			issuingCA: other.pem, wantChain: []*testCert{leafOfInter}},
		{name: "the chain appended to the certificate field", leaf: leafOfInter.pem + inter.pem,
			caChain: []string{root.pem}, wantChain: []*testCert{leafOfInter, inter}, wantCA: root},
		{name: "no certificate", leaf: "", issuingCA: root.pem, wantErr: true},
		{name: "a certificate that does not parse", leaf: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, ca, err := SplitChain(tt.leaf, tt.caChain, tt.issuingCA)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := sharedpki.ParseCertificates(chain)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.wantChain) {
				t.Fatalf("chain has %d certificates, want %d", len(got), len(tt.wantChain))
			}
			for i := range got {
				if !got[i].Equal(tt.wantChain[i].cert) {
					t.Errorf("chain[%d] is %s, want %s", i, got[i].Subject.CommonName, tt.wantChain[i].cert.Subject.CommonName)
				}
			}
			if tt.wantCA == nil {
				if len(ca) != 0 {
					t.Errorf("ca.crt %q, want none", ca)
				}
				return
			}
			if string(ca) != tt.wantCA.pem {
				t.Errorf("ca.crt is not %s", tt.wantCA.cert.Subject.CommonName)
			}
		})
	}
}
