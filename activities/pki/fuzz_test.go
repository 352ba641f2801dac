package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"unicode/utf8"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// FuzzParseCSRPEM: no input makes the CSR parser panic; a CSR it accepts has a public
// key and a valid signature.
func FuzzParseCSRPEM(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, spec := range []cmapi.CertificateSpec{
		{CommonName: "a.example", DNSNames: []string{"a.example", "*.a.example"}},
		{LiteralSubject: "CN=x,O=y+OU=z", IPAddresses: []string{"192.0.2.1", "2001:db8::1"}, URIs: []string{"spiffe://x/y"}},
		{DNSNames: []string{"b.example"}, IsCA: true, EmailAddresses: []string{"a@b.example"}},
	} {
		csr, err := BuildCSR(spec, key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(csr)
	}
	f.Add([]byte("-----BEGIN NEW CERTIFICATE REQUEST-----\nMAA=\n-----END NEW CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSRPEM(data)
		if err != nil {
			return
		}
		if csr.PublicKey == nil || csr.CheckSignature() != nil {
			t.Fatal("an accepted CSR has no public key or a bad signature")
		}
	})
}

// FuzzParseLiteralSubject: no string makes the literalSubject parser panic or accept
// more than its bounds; what it accepts encodes to DER that parses back to as many
// attributes, and LiteralSubjectCommonName (which workflows decide with) agrees with it.
func FuzzParseLiteralSubject(f *testing.F) {
	for _, s := range []string{
		"CN=foo,O=bar", "CN=a+OU=b;C=US", `CN=Sm\C3\A4ll\, Inc.,DC=example,DC=com`, "1.2.3.4=#0403616263,CN= spaced \\ ",
		"OID.2.5.4.3=x", "E=a@b.example,SERIALNUMBER=123", "CN=" + strings.Repeat("x", 100), "=,", "CN=\\", "CN=#zz",
		strings.Repeat("CN=a,", 200) + "CN=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		seq, err := ParseLiteralSubject(s)
		if err != nil {
			if len(err.Error()) > 2*MaxLiteralSubjectLen/8+512 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if len(s) > MaxLiteralSubjectLen {
			t.Fatalf("accepted %d bytes", len(s))
		}
		n := 0
		for _, rdn := range seq {
			n += len(rdn)
		}
		if n > MaxLiteralSubjectAttributes {
			t.Fatalf("accepted %d attributes", n)
		}
		cn, ok := LiteralSubjectCommonName(s)
		der, err := MarshalLiteralSubject(s)
		if err != nil {
			return // a value the DER encoder refuses: reported when the CSR is built
		}
		var back pkix.RDNSequence
		if rest, err := asn1.Unmarshal(der, &back); err != nil || len(rest) != 0 {
			t.Fatalf("the DER of %q does not parse back: %v", s, err)
		}
		m := 0
		for _, rdn := range back {
			m += len(rdn)
		}
		if m != n {
			t.Fatalf("%d attributes parsed, %d encoded", n, m)
		}
		if !ok && !hasNonTextCN(seq) {
			t.Fatalf("LiteralSubjectCommonName(%q) failed on a subject that parses", s)
		}
		if ok && !utf8.ValidString(cn) {
			t.Fatalf("LiteralSubjectCommonName(%q) = %q, not UTF-8", s, cn)
		}
	})
}

func hasNonTextCN(seq pkix.RDNSequence) bool {
	for _, rdn := range seq {
		for _, atv := range rdn {
			if atv.Type.Equal(oidCommonName) {
				if _, ok := attributeText(atv.Value); !ok {
					return true
				}
			}
		}
	}
	return false
}
