package pki

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	sharedpki "github.com/certflow/certflow/pki"
)

// Every key algorithm and encoding: the key goes through its PEM encoding
// (as it would through a Secret), makes a CSR, and self-signs a certificate
// that crypto/x509 verifies.
func TestKeyAlgorithmsAndEncodingsEndToEnd(t *testing.T) {
	tests := []struct {
		alg        cmapi.PrivateKeyAlgorithm
		size       int
		wantSigAlg x509.SignatureAlgorithm
		wantKeyEnc bool
	}{
		{cmapi.RSAKeyAlgorithm, 2048, x509.SHA256WithRSA, true},
		{cmapi.RSAKeyAlgorithm, 3072, x509.SHA384WithRSA, true},
		{cmapi.ECDSAKeyAlgorithm, 256, x509.ECDSAWithSHA256, false},
		{cmapi.ECDSAKeyAlgorithm, 384, x509.ECDSAWithSHA384, false},
		{cmapi.ECDSAKeyAlgorithm, 521, x509.ECDSAWithSHA512, false},
		{cmapi.Ed25519KeyAlgorithm, 0, x509.PureEd25519, false},
	}
	for _, tc := range tests {
		for _, enc := range []cmapi.PrivateKeyEncoding{cmapi.PKCS1, cmapi.PKCS8} {
			t.Run(fmt.Sprintf("%s-%d-%s", tc.alg, tc.size, enc), func(t *testing.T) {
				key := testKey(t, tc.alg, tc.size)
				keyPEM, err := keys.EncodePrivateKey(key, enc)
				if err != nil {
					t.Fatal(err)
				}
				signer, err := keys.ParsePrivateKeyPEM(keyPEM)
				if err != nil {
					t.Fatal(err)
				}
				spec := cmapi.CertificateSpec{CommonName: "example.com", DNSNames: []string{"example.com"}}
				csrPEM, csr := mustCSR(t, spec, signer)
				if !sharedpki.PublicKeysEqual(csr.PublicKey, key.Public()) {
					t.Fatal("CSR carries another public key")
				}
				if csr.SignatureAlgorithm != tc.wantSigAlg {
					t.Fatalf("CSR signature algorithm %v, want %v", csr.SignatureAlgorithm, tc.wantSigAlg)
				}
				cert := mustSelfSign(t, csrPEM, signer, false, nil)
				verifySelfSigned(t, cert)
				if cert.SignatureAlgorithm != tc.wantSigAlg {
					t.Fatalf("certificate signature algorithm %v, want %v", cert.SignatureAlgorithm, tc.wantSigAlg)
				}
				wantKU := x509.KeyUsageDigitalSignature
				if tc.wantKeyEnc {
					wantKU |= x509.KeyUsageKeyEncipherment
				}
				if cert.KeyUsage != wantKU {
					t.Fatalf("key usage %v, want %v", KeyUsageNames(cert.KeyUsage), KeyUsageNames(wantKU))
				}
				if cert.Subject.CommonName != "example.com" || !slices.Equal(cert.DNSNames, []string{"example.com"}) {
					t.Fatalf("names lost: %v %v", cert.Subject, cert.DNSNames)
				}
			})
		}
	}
}

func TestSignatureAlgorithmFor(t *testing.T) {
	rsa2048 := testKey(t, cmapi.RSAKeyAlgorithm, 2048).Public()
	rsa4096 := testKey(t, cmapi.RSAKeyAlgorithm, 4096).Public()
	ec256 := testKey(t, cmapi.ECDSAKeyAlgorithm, 256).Public()
	ec521 := testKey(t, cmapi.ECDSAKeyAlgorithm, 521).Public()
	ed := testKey(t, cmapi.Ed25519KeyAlgorithm, 0).Public()
	tests := []struct {
		name      string
		requested cmapi.SignatureAlgorithm
		pub       any
		want      x509.SignatureAlgorithm
		wantErr   bool
	}{
		{"rsa2048 default", "", rsa2048, x509.SHA256WithRSA, false},
		{"rsa4096 default", "", rsa4096, x509.SHA512WithRSA, false},
		{"rsa explicit 384", cmapi.SHA384WithRSA, rsa2048, x509.SHA384WithRSA, false},
		{"rsa explicit 512", cmapi.SHA512WithRSA, rsa2048, x509.SHA512WithRSA, false},
		{"rsa explicit 256 on 4096", cmapi.SHA256WithRSA, rsa4096, x509.SHA256WithRSA, false},
		{"ecdsa 256 default", "", ec256, x509.ECDSAWithSHA256, false},
		{"ecdsa 521 default", "", ec521, x509.ECDSAWithSHA512, false},
		{"ecdsa explicit 384 on P-256", cmapi.ECDSAWithSHA384, ec256, x509.ECDSAWithSHA384, false},
		{"ed25519 default", "", ed, x509.PureEd25519, false},
		{"ed25519 explicit", cmapi.PureEd25519, ed, x509.PureEd25519, false},
		{"rsa alg on ecdsa key", cmapi.SHA256WithRSA, ec256, 0, true},
		{"ecdsa alg on rsa key", cmapi.ECDSAWithSHA256, rsa2048, 0, true},
		{"ed25519 alg on rsa key", cmapi.PureEd25519, rsa2048, 0, true},
		{"unknown alg", "MD5WithRSA", rsa2048, 0, true},
		{"unknown key type", "", struct{}{}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SignatureAlgorithmFor(tc.requested, tc.pub)
			if tc.wantErr {
				assertErrType(t, err, ErrTypeInvalidCertificateSpec)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	// The requested algorithm is what the CSR and the self-signed
	// certificate are signed with.
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	csrPEM, csr := mustCSR(t, cmapi.CertificateSpec{CommonName: "x", SignatureAlgorithm: cmapi.ECDSAWithSHA512}, key)
	if csr.SignatureAlgorithm != x509.ECDSAWithSHA512 {
		t.Fatalf("CSR signed with %v", csr.SignatureAlgorithm)
	}
	if cert := mustSelfSign(t, csrPEM, key, false, nil); cert.SignatureAlgorithm != x509.ECDSAWithSHA512 {
		t.Fatalf("certificate signed with %v", cert.SignatureAlgorithm)
	}
	_, err := BuildCSR(cmapi.CertificateSpec{CommonName: "x", SignatureAlgorithm: cmapi.SHA256WithRSA}, key)
	assertErrType(t, err, ErrTypeInvalidCertificateSpec)
}

func TestSubject(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	spec := cmapi.CertificateSpec{
		CommonName: "my cn",
		Subject: &cmapi.X509Subject{
			Organizations:       []string{"Org A", "Org B"},
			Countries:           []string{"GB"},
			OrganizationalUnits: []string{"Unit"},
			Localities:          []string{"London"},
			Provinces:           []string{"England"},
			StreetAddresses:     []string{"1 Street"},
			PostalCodes:         []string{"N1 1AA"},
			SerialNumber:        "12345",
		},
	}
	csrPEM, csr := mustCSR(t, spec, key)
	cert := mustSelfSign(t, csrPEM, key, false, nil)
	for _, name := range []pkix.Name{csr.Subject, cert.Subject} {
		if name.CommonName != "my cn" ||
			!slices.Equal(name.Organization, []string{"Org A", "Org B"}) ||
			!slices.Equal(name.Country, []string{"GB"}) ||
			!slices.Equal(name.OrganizationalUnit, []string{"Unit"}) ||
			!slices.Equal(name.Locality, []string{"London"}) ||
			!slices.Equal(name.Province, []string{"England"}) ||
			!slices.Equal(name.StreetAddress, []string{"1 Street"}) ||
			!slices.Equal(name.PostalCode, []string{"N1 1AA"}) ||
			name.SerialNumber != "12345" {
			t.Fatalf("subject not carried: %+v", name)
		}
	}
	if !bytes.Equal(cert.RawSubject, csr.RawSubject) {
		t.Fatal("certificate subject differs from the CSR subject")
	}
	// No SANs: no subjectAltName extension.
	if _, ok := findExt(csr.Extensions, OIDExtensionSubjectAltName); ok {
		t.Fatal("unexpected SAN extension")
	}
}

type atv struct{ oid, value string }

func rdnsOf(t *testing.T, der []byte) [][]atv {
	t.Helper()
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 {
		t.Fatalf("bad subject DER: %v", err)
	}
	var out [][]atv
	for _, rdn := range seq {
		var r []atv
		for _, a := range rdn {
			r = append(r, atv{a.Type.String(), a.Value.(string)})
		}
		out = append(out, r)
	}
	return out
}

func TestParseLiteralSubject(t *testing.T) {
	const (
		cn  = "2.5.4.3"
		o   = "2.5.4.10"
		ou  = "2.5.4.11"
		c   = "2.5.4.6"
		uid = "0.9.2342.19200300.100.1.1"
		dc  = "0.9.2342.19200300.100.1.25"
	)
	tests := []struct {
		in   string
		want [][]atv // in DER order
	}{
		{"CN=foo", [][]atv{{{cn, "foo"}}}},
		{"CN=foo,O=bar,C=US", [][]atv{{{c, "US"}}, {{o, "bar"}}, {{cn, "foo"}}}},
		{"O=bar,CN=foo", [][]atv{{{cn, "foo"}}, {{o, "bar"}}}},
		{"cn=foo,o=bar", [][]atv{{{o, "bar"}}, {{cn, "foo"}}}},
		{"CN=a+UID=b,O=c", [][]atv{{{o, "c"}}, {{cn, "a"}, {uid, "b"}}}},
		{"CN=a\\,b", [][]atv{{{cn, "a,b"}}}},
		{"CN=a\\+b\\;c\\\\d\\\"e", [][]atv{{{cn, "a+b;c\\d\"e"}}}},
		{"CN=caf\\C3\\A9", [][]atv{{{cn, "café"}}}},
		{"CN=café", [][]atv{{{cn, "café"}}}},
		{"CN = foo , O= bar ", [][]atv{{{o, "bar"}}, {{cn, "foo"}}}},
		{"CN=\\ lead and trail\\ ", [][]atv{{{cn, " lead and trail "}}}},
		{"CN=\\#notHex", [][]atv{{{cn, "#notHex"}}}},
		{"CN=a=b", [][]atv{{{cn, "a=b"}}}},
		{"2.5.4.3=by oid", [][]atv{{{cn, "by oid"}}}},
		{"OID.2.5.4.11=legacy", [][]atv{{{ou, "legacy"}}}},
		{"CN=x;O=y", [][]atv{{{o, "y"}}, {{cn, "x"}}}},
		{"CN=empty,OU=", [][]atv{{{ou, ""}}, {{cn, "empty"}}}},
		{"1.2.3.4=#0c03616263", [][]atv{{{"1.2.3.4", "abc"}}}},
		{"DC=example,DC=com", [][]atv{{{dc, "com"}}, {{dc, "example"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			der, err := MarshalLiteralSubject(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := rdnsOf(t, der); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	// String types: C is PrintableString, DC IA5String, non-ASCII UTF8String.
	der, err := MarshalLiteralSubject("C=US,DC=example,CN=café,O=plain")
	if err != nil {
		t.Fatal(err)
	}
	var seq []asn1.RawValue
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(outer.FullBytes, &seq); err != nil {
		t.Fatal(err)
	}
	wantTags := []int{asn1.TagPrintableString, asn1.TagUTF8String, asn1.TagIA5String, asn1.TagPrintableString} // O, CN, DC, C (reversed)
	for i, set := range seq {
		var attrs []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.UnmarshalWithParams(set.FullBytes, &attrs, "set"); err != nil {
			t.Fatal(err)
		}
		if attrs[0].Value.Tag != wantTags[i] {
			t.Errorf("RDN %d (%v): tag %d, want %d", i, attrs[0].Type, attrs[0].Value.Tag, wantTags[i])
		}
	}

	for _, bad := range []string{"", "   ", "CN", "=foo", "XX=foo", "CN=foo,,O=bar", "CN=foo,", "1.2.3.4=#zz", "1.2.3.4=#0c", "CN=foo\\", "CN=\\ff", "C=not printable é", "99.1=x"} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, err := MarshalLiteralSubject(bad)
			assertErrType(t, err, ErrTypeInvalidCertificateSpec)
		})
	}
}

func TestLiteralSubjectInCertificate(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	literal := "CN=service,OU=a+OU=b,O=Example\\, Inc.,C=GB"
	spec := cmapi.CertificateSpec{LiteralSubject: literal}
	csrPEM, csr := mustCSR(t, spec, key)
	want, err := MarshalLiteralSubject(literal)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(csr.RawSubject, want) {
		t.Fatal("CSR subject is not the literal subject")
	}
	cert := mustSelfSign(t, csrPEM, key, false, nil)
	if !bytes.Equal(cert.RawSubject, want) || !bytes.Equal(cert.RawIssuer, want) {
		t.Fatal("certificate subject/issuer is not the literal subject")
	}
	if cert.Subject.CommonName != "service" {
		t.Fatalf("CN %q", cert.Subject.CommonName)
	}
	if got := cert.Subject.String(); got != literal {
		t.Fatalf("round trip through crypto/x509: %q, want %q", got, literal)
	}
	// A literal subject without a CN still needs a SAN.
	_, err = BuildCSR(cmapi.CertificateSpec{LiteralSubject: "O=only"}, key)
	assertErrType(t, err, ErrTypeInvalidCertificateSpec)
	if _, err := BuildCSR(cmapi.CertificateSpec{LiteralSubject: "O=only", DNSNames: []string{"a.example"}}, key); err != nil {
		t.Fatal(err)
	}
	// Not together with subject or commonName.
	_, err = BuildCSR(cmapi.CertificateSpec{LiteralSubject: "CN=a", CommonName: "a"}, key)
	assertErrType(t, err, ErrTypeInvalidCertificateSpec)
	_, err = BuildCSR(cmapi.CertificateSpec{LiteralSubject: "CN=a", Subject: &cmapi.X509Subject{}}, key)
	assertErrType(t, err, ErrTypeInvalidCertificateSpec)
}

func TestSANsAndOtherNames(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	spec := cmapi.CertificateSpec{
		DNSNames:       []string{"a.example.com", "*.b.example.com"},
		IPAddresses:    []string{"10.0.0.1", "2001:db8::1"},
		URIs:           []string{"spiffe://cluster.local/ns/default/sa/app"},
		EmailAddresses: []string{"admin@example.com"},
		OtherNames: []cmapi.OtherName{
			{OID: "1.3.6.1.4.1.311.20.2.3", UTF8Value: "user@corp.example"},
			{OID: "1.2.3.4.5", UTF8Value: "ünïcode value"},
		},
	}
	csrPEM, csr := mustCSR(t, spec, key)
	if !slices.Equal(csr.DNSNames, spec.DNSNames) || !slices.Equal(csr.EmailAddresses, spec.EmailAddresses) ||
		len(csr.URIs) != 1 || csr.URIs[0].String() != spec.URIs[0] || len(csr.IPAddresses) != 2 ||
		!csr.IPAddresses[0].Equal(net.ParseIP("10.0.0.1")) || !csr.IPAddresses[1].Equal(net.ParseIP("2001:db8::1")) {
		t.Fatalf("SANs not parsed back by crypto/x509: %v %v %v %v", csr.DNSNames, csr.EmailAddresses, csr.URIs, csr.IPAddresses)
	}
	wantOther := []OtherNameSAN{{"1.3.6.1.4.1.311.20.2.3", "user@corp.example"}, {"1.2.3.4.5", "ünïcode value"}}
	ext, ok := findExt(csr.Extensions, OIDExtensionSubjectAltName)
	if !ok {
		t.Fatal("no SAN extension in CSR")
	}
	if !ext.Critical {
		t.Fatal("SAN extension must be critical when the subject is empty")
	}
	names, err := UnmarshalSANs(ext.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names.OtherNames, wantOther) {
		t.Fatalf("otherNames %v, want %v", names.OtherNames, wantOther)
	}
	if !slices.Equal(names.DNSNames, spec.DNSNames) || !slices.Equal(names.URIs, spec.URIs) || len(names.IPAddresses) != 2 || len(names.IPAddresses[0]) != 4 {
		t.Fatalf("round trip: %+v", names)
	}

	cert := mustSelfSign(t, csrPEM, key, false, nil)
	certExt, ok := findExt(cert.Extensions, OIDExtensionSubjectAltName)
	if !ok || !certExt.Critical {
		t.Fatal("certificate SAN extension missing or not critical")
	}
	certNames, err := UnmarshalSANs(certExt.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(certNames.OtherNames, wantOther) {
		t.Fatalf("certificate otherNames %v", certNames.OtherNames)
	}
	if !slices.Equal(cert.DNSNames, spec.DNSNames) || len(cert.URIs) != 1 || len(cert.IPAddresses) != 2 {
		t.Fatal("certificate SANs lost")
	}
	if cert.Subject.String() != "" || len(cert.RawSubject) != 2 {
		t.Fatalf("subject should be empty, got %q", cert.Subject)
	}

	// With a subject, the SAN extension is not critical.
	_, csr2 := mustCSR(t, cmapi.CertificateSpec{CommonName: "x", DNSNames: []string{"x"}}, key)
	if ext, _ := findExt(csr2.Extensions, OIDExtensionSubjectAltName); ext.Critical {
		t.Fatal("SAN extension critical despite a subject")
	}
	// otherNames alone are enough.
	if _, err := BuildCSR(cmapi.CertificateSpec{OtherNames: spec.OtherNames[:1]}, key); err != nil {
		t.Fatal(err)
	}
}

func TestBuildCSRInvalidSpecs(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	tests := map[string]cmapi.CertificateSpec{
		"no names":                 {},
		"bad ip":                   {IPAddresses: []string{"10.0.0.300"}},
		"ip with zone":             {IPAddresses: []string{"fe80::1%eth0"}},
		"bad uri":                  {URIs: []string{"http://[::1"}},
		"non-ascii dns":            {DNSNames: []string{"café.example"}},
		"empty dns":                {DNSNames: []string{""}},
		"bad email":                {EmailAddresses: []string{"é@example.com"}},
		"bad otherName oid":        {OtherNames: []cmapi.OtherName{{OID: "not-an-oid", UTF8Value: "x"}}},
		"otherName oid 1 part":     {OtherNames: []cmapi.OtherName{{OID: "1", UTF8Value: "x"}}},
		"unknown usage":            {CommonName: "x", Usages: []cmapi.KeyUsage{"fly"}},
		"bad literalSubject":       {LiteralSubject: "nonsense"},
		"nameConstraints not CA":   {CommonName: "x", NameConstraints: &cmapi.NameConstraints{Permitted: &cmapi.NameConstraintItem{DNSDomains: []string{"a"}}}},
		"nameConstraints bad cidr": {CommonName: "x", IsCA: true, NameConstraints: &cmapi.NameConstraints{Excluded: &cmapi.NameConstraintItem{IPRanges: []string{"10.0.0.0/33"}}}},
		"bad signatureAlgorithm":   {CommonName: "x", SignatureAlgorithm: cmapi.PureEd25519},
	}
	for name, spec := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := BuildCSR(spec, key)
			assertErrType(t, err, ErrTypeInvalidCertificateSpec)
		})
	}
	_, err := BuildCSR(cmapi.CertificateSpec{CommonName: "x"}, nil)
	assertErrType(t, err, ErrTypeInvalidCertificateSpec)
}

func TestUsagesEncodedInRequest(t *testing.T) {
	rsaKey := testKey(t, cmapi.RSAKeyAlgorithm, 2048)
	ecKey := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	tests := []struct {
		name     string
		key      crypto.Signer
		encode   *bool
		isCA     bool
		usages   []cmapi.KeyUsage
		wantKU   x509.KeyUsage
		wantEKU  []x509.ExtKeyUsage
		wantNone bool
	}{
		{name: "rsa defaults", key: rsaKey, wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{name: "ecdsa defaults drop key encipherment", key: ecKey, wantKU: x509.KeyUsageDigitalSignature},
		{name: "explicit true", key: ecKey, encode: boolPtr(true), wantKU: x509.KeyUsageDigitalSignature},
		{name: "disabled", key: ecKey, encode: boolPtr(false), wantNone: true},
		{name: "ca", key: ecKey, isCA: true, wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign},
		{
			name: "explicit usages", key: ecKey,
			usages:  []cmapi.KeyUsage{"digital signature", "key encipherment", "server auth", "client auth"},
			wantKU:  x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
		{
			name: "only ext usages", key: rsaKey,
			usages:  []cmapi.KeyUsage{"server auth"},
			wantKU:  0,
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := cmapi.CertificateSpec{CommonName: "x", IsCA: tc.isCA, Usages: tc.usages, EncodeUsagesInRequest: tc.encode}
			_, csr := mustCSR(t, spec, tc.key)
			kuExt, hasKU := findExt(csr.Extensions, OIDExtensionKeyUsage)
			ekuExt, hasEKU := findExt(csr.Extensions, OIDExtensionExtendedKeyUsage)
			bcExt, hasBC := findExt(csr.Extensions, OIDExtensionBasicConstraints)
			if tc.wantNone {
				if hasKU || hasEKU || hasBC {
					t.Fatal("usages encoded although encodeUsagesInRequest is false")
				}
				return
			}
			if !hasBC || !bcExt.Critical {
				t.Fatal("basicConstraints missing or not critical")
			}
			isCA, _, err := UnmarshalBasicConstraints(bcExt.Value)
			if err != nil || isCA != tc.isCA {
				t.Fatalf("basicConstraints isCA=%v err=%v", isCA, err)
			}
			if tc.wantKU == 0 {
				if hasKU {
					t.Fatal("unexpected keyUsage extension")
				}
			} else {
				if !hasKU || !kuExt.Critical {
					t.Fatal("keyUsage missing or not critical")
				}
				ku, err := UnmarshalKeyUsage(kuExt.Value)
				if err != nil || ku != tc.wantKU {
					t.Fatalf("keyUsage %v, want %v", KeyUsageNames(ku), KeyUsageNames(tc.wantKU))
				}
			}
			if len(tc.wantEKU) == 0 {
				if hasEKU {
					t.Fatal("unexpected extKeyUsage extension")
				}
			} else {
				ekus, unknown, err := UnmarshalExtKeyUsage(ekuExt.Value)
				if err != nil || len(unknown) > 0 || !slices.Equal(ekus, tc.wantEKU) {
					t.Fatalf("extKeyUsage %v %v %v", ekus, unknown, err)
				}
			}
		})
	}
}

func TestKeyUsages(t *testing.T) {
	rsaPub := testKey(t, cmapi.RSAKeyAlgorithm, 2048).Public()
	ecPub := testKey(t, cmapi.ECDSAKeyAlgorithm, 256).Public()
	edPub := testKey(t, cmapi.Ed25519KeyAlgorithm, 0).Public()
	all := []cmapi.KeyUsage{
		"signing", "digital signature", "content commitment", "key encipherment", "key agreement",
		"data encipherment", "cert sign", "crl sign", "encipher only", "decipher only",
		"any", "server auth", "client auth", "code signing", "email protection", "s/mime",
		"ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
		"microsoft sgc", "netscape sgc",
	}
	tests := []struct {
		name    string
		usages  []cmapi.KeyUsage
		isCA    bool
		pub     any
		wantKU  x509.KeyUsage
		wantEKU []x509.ExtKeyUsage
		wantErr bool
	}{
		{name: "default rsa", pub: rsaPub, wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{name: "default ecdsa", pub: ecPub, wantKU: x509.KeyUsageDigitalSignature},
		{name: "default ed25519", pub: edPub, wantKU: x509.KeyUsageDigitalSignature},
		{name: "default unknown key", pub: nil, wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{name: "default ca", pub: ecPub, isCA: true, wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign},
		{name: "explicit key encipherment kept for ecdsa", pub: ecPub, usages: []cmapi.KeyUsage{"key encipherment"}, wantKU: x509.KeyUsageKeyEncipherment},
		{name: "signing is digital signature", pub: ecPub, usages: []cmapi.KeyUsage{"signing"}, wantKU: x509.KeyUsageDigitalSignature},
		{name: "case insensitive", pub: ecPub, usages: []cmapi.KeyUsage{"Server Auth", " DIGITAL SIGNATURE "}, wantKU: x509.KeyUsageDigitalSignature, wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{name: "s/mime and email protection dedupe", pub: ecPub, usages: []cmapi.KeyUsage{"email protection", "s/mime"}, wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}},
		{
			name: "all", pub: rsaPub, usages: all,
			wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment |
				x509.KeyUsageKeyAgreement | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign | x509.KeyUsageCRLSign |
				x509.KeyUsageEncipherOnly | x509.KeyUsageDecipherOnly,
			wantEKU: []x509.ExtKeyUsage{
				x509.ExtKeyUsageAny, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageCodeSigning,
				x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageIPSECEndSystem, x509.ExtKeyUsageIPSECTunnel,
				x509.ExtKeyUsageIPSECUser, x509.ExtKeyUsageTimeStamping, x509.ExtKeyUsageOCSPSigning,
				x509.ExtKeyUsageMicrosoftServerGatedCrypto, x509.ExtKeyUsageNetscapeServerGatedCrypto,
			},
		},
		{name: "unknown", pub: ecPub, usages: []cmapi.KeyUsage{"server auth", "teleport"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ku, ekus, err := KeyUsages(tc.usages, tc.isCA, tc.pub)
			if tc.wantErr {
				assertErrType(t, err, ErrTypeInvalidCertificateSpec)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ku != tc.wantKU || !slices.Equal(ekus, tc.wantEKU) {
				t.Fatalf("got %v %v, want %v %v", KeyUsageNames(ku), ekus, KeyUsageNames(tc.wantKU), tc.wantEKU)
			}
			// Round trip through the extension encodings.
			if ku != 0 {
				ext, err := MarshalKeyUsage(ku)
				if err != nil {
					t.Fatal(err)
				}
				back, err := UnmarshalKeyUsage(ext.Value)
				if err != nil || back != ku {
					t.Fatalf("keyUsage round trip %v -> %v", ku, back)
				}
			}
			if len(ekus) > 0 {
				ext, err := MarshalExtKeyUsage(ekus)
				if err != nil {
					t.Fatal(err)
				}
				back, unknown, err := UnmarshalExtKeyUsage(ext.Value)
				if err != nil || len(unknown) > 0 || !slices.Equal(back, ekus) {
					t.Fatalf("extKeyUsage round trip %v -> %v", ekus, back)
				}
			}
		})
	}
}

// The key usage bit encoding must agree with crypto/x509's own.
func TestKeyUsageEncodingMatchesCryptoX509(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	for ku := x509.KeyUsage(1); ku < 1<<9; ku++ {
		tmpl := &x509.Certificate{SerialNumber: bigOne, KeyUsage: ku, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
		der, err := x509.CreateCertificate(randReader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		goExt, _ := findExt(cert.Extensions, OIDExtensionKeyUsage)
		ours, _ := MarshalKeyUsage(ku)
		if !bytes.Equal(goExt.Value, ours.Value) {
			t.Fatalf("ku %b: ours %x, crypto/x509 %x", ku, ours.Value, goExt.Value)
		}
	}
}

func TestIsCACertificate(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 384)
	spec := cmapi.CertificateSpec{CommonName: "My Root CA", IsCA: true}
	csrPEM, _ := mustCSR(t, spec, key)
	cert := mustSelfSign(t, csrPEM, key, true, nil)
	verifySelfSigned(t, cert)
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.MaxPathLen != -1 {
		t.Fatalf("basic constraints: valid=%v ca=%v maxPathLen=%d", cert.BasicConstraintsValid, cert.IsCA, cert.MaxPathLen)
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatal("CA without cert sign")
	}
	if len(cert.SubjectKeyId) != 20 {
		t.Fatalf("subject key id %x", cert.SubjectKeyId)
	}
	// A leaf is not a CA but has valid basic constraints.
	leafPEM, _ := mustCSR(t, cmapi.CertificateSpec{CommonName: "leaf"}, key)
	leaf := mustSelfSign(t, leafPEM, key, false, nil)
	if !leaf.BasicConstraintsValid || leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Fatal("leaf marked as CA")
	}
}

func TestNameConstraints(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	spec := cmapi.CertificateSpec{
		CommonName: "Constrained CA",
		IsCA:       true,
		NameConstraints: &cmapi.NameConstraints{
			Critical: true,
			Permitted: &cmapi.NameConstraintItem{
				DNSDomains:     []string{"example.com", ".internal"},
				IPRanges:       []string{"10.0.0.0/8", "2001:db8::/32"},
				EmailAddresses: []string{"example.com"},
				URIDomains:     []string{".example.com"},
			},
			Excluded: &cmapi.NameConstraintItem{
				DNSDomains: []string{"bad.example.com"},
				IPRanges:   []string{"10.1.2.3/32"},
			},
		},
	}
	csrPEM, csr := mustCSR(t, spec, key)
	ext, ok := findExt(csr.Extensions, OIDExtensionNameConstraints)
	if !ok || !ext.Critical {
		t.Fatal("name constraints missing from CSR or not critical")
	}
	cert := mustSelfSign(t, csrPEM, key, true, nil)
	verifySelfSigned(t, cert)
	if !cert.PermittedDNSDomainsCritical ||
		!slices.Equal(cert.PermittedDNSDomains, []string{"example.com", ".internal"}) ||
		!slices.Equal(cert.ExcludedDNSDomains, []string{"bad.example.com"}) ||
		!slices.Equal(cert.PermittedEmailAddresses, []string{"example.com"}) ||
		!slices.Equal(cert.PermittedURIDomains, []string{".example.com"}) {
		t.Fatalf("constraints: %v %v %v %v", cert.PermittedDNSDomains, cert.ExcludedDNSDomains, cert.PermittedEmailAddresses, cert.PermittedURIDomains)
	}
	var ranges []string
	for _, r := range cert.PermittedIPRanges {
		ranges = append(ranges, r.String())
	}
	if !slices.Equal(ranges, []string{"10.0.0.0/8", "2001:db8::/32"}) {
		t.Fatalf("permitted IP ranges %v", ranges)
	}
	if len(cert.ExcludedIPRanges) != 1 || cert.ExcludedIPRanges[0].String() != "10.1.2.3/32" {
		t.Fatalf("excluded IP ranges %v", cert.ExcludedIPRanges)
	}

	// Empty constraint lists give no extension.
	_, csr2 := mustCSR(t, cmapi.CertificateSpec{CommonName: "x", IsCA: true, NameConstraints: &cmapi.NameConstraints{}}, key)
	if _, ok := findExt(csr2.Extensions, OIDExtensionNameConstraints); ok {
		t.Fatal("empty name constraints encoded")
	}
	// A CSR with name constraints cannot become a leaf.
	_, err := CertificateTemplateFromCSR(csrPEM, 0, false, nil, testNow)
	assertErrType(t, err, ErrTypeInvalidCSR)
}

func TestCertificateTemplateFromCSR(t *testing.T) {
	key := testKey(t, cmapi.RSAKeyAlgorithm, 2048)
	csrPEM, _ := mustCSR(t, cmapi.CertificateSpec{CommonName: "x", DNSNames: []string{"x"}}, key)
	serial := bigInt(0xabcdef)
	tmpl, err := CertificateTemplateFromCSR(csrPEM, 0, false, nil, testNow,
		WithSerialNumber(serial),
		WithCRLDistributionPoints([]string{"http://crl.example/ca.crl"}),
		WithOCSPServers([]string{"http://ocsp.example"}),
		WithIssuingCertificateURLs([]string{"http://ca.example/ca.crt"}))
	if err != nil {
		t.Fatal(err)
	}
	if !tmpl.NotBefore.Equal(testNow) || !tmpl.NotAfter.Equal(testNow.Add(2160*time.Hour)) {
		t.Fatalf("validity %v - %v", tmpl.NotBefore, tmpl.NotAfter)
	}
	if tmpl.SerialNumber.Cmp(serial) != 0 {
		t.Fatal("serial not used")
	}
	cert, err := SignSelfSignedTemplate(tmpl, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cert.SerialNumber.Cmp(serial) != 0 ||
		!slices.Equal(cert.CRLDistributionPoints, []string{"http://crl.example/ca.crl"}) ||
		!slices.Equal(cert.OCSPServer, []string{"http://ocsp.example"}) ||
		!slices.Equal(cert.IssuingCertificateURL, []string{"http://ca.example/ca.crt"}) {
		t.Fatalf("optional fields missing: %v %v %v", cert.CRLDistributionPoints, cert.OCSPServer, cert.IssuingCertificateURL)
	}
	want, _ := SubjectKeyID(key.Public())
	if !bytes.Equal(cert.SubjectKeyId, want) {
		t.Fatal("subject key id")
	}
	// Deterministic apart from the signature.
	tmpl2, _ := CertificateTemplateFromCSR(csrPEM, 0, false, nil, testNow, WithSerialNumber(serial))
	tmpl3, _ := CertificateTemplateFromCSR(csrPEM, 0, false, nil, testNow, WithSerialNumber(serial))
	if !reflect.DeepEqual(tmpl2, tmpl3) {
		t.Fatal("template is not deterministic")
	}
	// Explicit duration.
	tmpl4, _ := CertificateTemplateFromCSR(csrPEM, 3*time.Hour, false, nil, testNow)
	if !tmpl4.NotAfter.Equal(testNow.Add(3 * time.Hour)) {
		t.Fatal("duration ignored")
	}
	if tmpl4.SerialNumber.Sign() <= 0 || tmpl4.SerialNumber.BitLen() > 128 {
		t.Fatalf("random serial %v", tmpl4.SerialNumber)
	}
	if _, err := CertificateTemplateFromCSR(csrPEM, 0, false, nil, testNow, WithSerialNumber(bigInt(0))); err == nil {
		t.Fatal("zero serial accepted")
	}
}

func TestCertificateTemplateFromCSRMismatches(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	serverAuth := []cmapi.KeyUsage{"digital signature", "server auth"}
	csrCA, _ := mustCSR(t, cmapi.CertificateSpec{CommonName: "x", IsCA: true}, key)
	csrLeaf, _ := mustCSR(t, cmapi.CertificateSpec{CommonName: "x"}, key)
	csrServer, _ := mustCSR(t, cmapi.CertificateSpec{CommonName: "x", Usages: serverAuth}, key)
	csrNoUsages, _ := mustCSR(t, cmapi.CertificateSpec{CommonName: "x", IsCA: true, Usages: serverAuth, EncodeUsagesInRequest: boolPtr(false)}, key)
	tests := []struct {
		name    string
		csr     []byte
		isCA    bool
		usages  []cmapi.KeyUsage
		wantErr string
	}{
		{"ca matches", csrCA, true, nil, ""},
		{"leaf matches", csrLeaf, false, nil, ""},
		{"usages match", csrServer, false, serverAuth, ""},
		{"usages match in another spelling", csrServer, false, []cmapi.KeyUsage{"Digital Signature", "Server Auth"}, ""},
		{"ca requested as leaf", csrCA, false, nil, ErrTypeInvalidCSR},
		{"leaf requested as ca", csrLeaf, true, nil, ErrTypeInvalidCSR},
		{"ku mismatch", csrLeaf, false, []cmapi.KeyUsage{"digital signature", "key encipherment"}, ErrTypeInvalidCSR},
		{"eku mismatch", csrServer, false, []cmapi.KeyUsage{"digital signature", "client auth"}, ErrTypeInvalidCSR},
		{"eku missing", csrServer, false, []cmapi.KeyUsage{"digital signature"}, ErrTypeInvalidCSR},
		{"nothing encoded: anything goes", csrNoUsages, false, []cmapi.KeyUsage{"client auth"}, ""},
		{"unknown usage in request", csrLeaf, false, []cmapi.KeyUsage{"bogus"}, ErrTypeInvalidCertificateSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := CertificateTemplateFromCSR(tc.csr, 0, tc.isCA, tc.usages, testNow)
			if tc.wantErr != "" {
				assertErrType(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ku, ekus, _ := KeyUsages(tc.usages, tc.isCA, key.Public())
			if tmpl.IsCA != tc.isCA || tmpl.KeyUsage != ku || !slices.Equal(tmpl.ExtKeyUsage, ekus) {
				t.Fatalf("template ca=%v ku=%v eku=%v", tmpl.IsCA, tmpl.KeyUsage, tmpl.ExtKeyUsage)
			}
		})
	}
}

func TestParseCSRPEMErrors(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	csrPEM, _ := mustCSR(t, cmapi.CertificateSpec{CommonName: "x"}, key)
	block, _ := pem.Decode(csrPEM)
	tampered := slices.Clone(block.Bytes)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	truncated := block.Bytes[:len(block.Bytes)/2]
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not pem":   []byte("hello"),
		"wrong pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}),
		"truncated": pem.EncodeToMemory(&pem.Block{Type: PEMTypeCertificateRequest, Bytes: truncated}),
		"tampered":  pem.EncodeToMemory(&pem.Block{Type: PEMTypeCertificateRequest, Bytes: tampered}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseCSRPEM(data)
			assertErrType(t, err, ErrTypeInvalidCSR)
			_, err = CertificateTemplateFromCSR(data, 0, false, nil, testNow)
			assertErrType(t, err, ErrTypeInvalidCSR)
		})
	}
}

func TestSelfSignKeyMismatch(t *testing.T) {
	k1 := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	k2 := testKey(t, cmapi.Ed25519KeyAlgorithm, 0)
	csrPEM, _ := mustCSR(t, cmapi.CertificateSpec{CommonName: "x"}, k1)
	tmpl, err := CertificateTemplateFromCSR(csrPEM, 0, false, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, err = SignSelfSignedTemplate(tmpl, k2, 0)
	assertErrType(t, err, ErrTypeKeyMismatch)
	if _, ok := k2.(ed25519.PrivateKey); !ok {
		t.Fatal("test key type")
	}
}

func TestParseOID(t *testing.T) {
	good := map[string]asn1.ObjectIdentifier{
		"1.2":                    {1, 2},
		"2.5.4.3":                {2, 5, 4, 3},
		"1.3.6.1.4.1.311.20.2.3": {1, 3, 6, 1, 4, 1, 311, 20, 2, 3},
		"2.999.1":                {2, 999, 1},
	}
	for s, want := range good {
		got, err := ParseOID(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseOID(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "1", "3.1", "1.40", "1..2", "1.2.", "a.b", "1.-2", "01.2"} {
		if _, err := ParseOID(s); err == nil {
			t.Errorf("ParseOID(%q) accepted", s)
		}
	}
}

func TestDescribeCertificate(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	spec := cmapi.CertificateSpec{
		CommonName:     "desc.example",
		DNSNames:       []string{"desc.example", "www.desc.example"},
		IPAddresses:    []string{"192.0.2.1", "2001:db8::2"},
		URIs:           []string{"spiffe://x/y"},
		EmailAddresses: []string{"a@desc.example"},
		IsCA:           true,
	}
	csrPEM, _ := mustCSR(t, spec, key)
	cert := mustSelfSign(t, csrPEM, key, true, nil, WithSerialNumber(bigInt(0x0102ff)))
	certPEM := EncodeCertificatesPEM(cert)
	facts, err := DescribeCertificate(append(certPEM, EncodeCertificatesPEM(cert)...))
	if err != nil {
		t.Fatal(err)
	}
	want := CertificateFacts{
		NotBefore:       testNow,
		NotAfter:        testNow.Add(2160 * time.Hour),
		CommonName:      "desc.example",
		DNSNames:        []string{"desc.example", "www.desc.example"},
		IPAddresses:     []string{"192.0.2.1", "2001:db8::2"},
		URIs:            []string{"spiffe://x/y"},
		EmailAddresses:  []string{"a@desc.example"},
		IsCA:            true,
		PublicKeySHA256: keys.PublicKeySHA256(key.Public()),
		SerialHex:       "102ff",
		Subject:         "CN=desc.example",
		Issuer:          "CN=desc.example",
		SelfSigned:      true,
	}
	if !reflect.DeepEqual(facts, want) {
		t.Fatalf("got  %+v\nwant %+v", facts, want)
	}
	for _, bad := range [][]byte{nil, []byte("junk"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})} {
		if _, err := DescribeCertificate(bad); err == nil {
			t.Errorf("DescribeCertificate(%q) accepted", bad)
		}
	}
}

// TestParseLiteralSubjectBounds: a literalSubject past its bounds is refused with a
// short message (it goes into the Certificate's status), and LiteralSubjectCommonName,
// which workflows decide with, still answers as before.
func TestParseLiteralSubjectBounds(t *testing.T) {
	many := strings.Repeat("O=o,", MaxLiteralSubjectAttributes) + "CN=last"
	long := "CN=" + strings.Repeat("x", MaxLiteralSubjectLen)
	for name, s := range map[string]string{"attributes": many, "length": long} {
		_, err := ParseLiteralSubject(s)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if len(err.Error()) > 512 {
			t.Errorf("%s: error of %d bytes", name, len(err.Error()))
		}
		if _, err := BuildCSR(cmapi.CertificateSpec{LiteralSubject: s}, testKey(t, cmapi.ECDSAKeyAlgorithm, 256)); err == nil {
			t.Errorf("%s: a CSR was built", name)
		}
	}
	if cn, ok := LiteralSubjectCommonName(many); !ok || cn != "last" {
		t.Errorf("LiteralSubjectCommonName of %d attributes = %q, %v; want the answer it always gave", MaxLiteralSubjectAttributes+1, cn, ok)
	}
}

// TestBuildCSRRefusesNonCanonicalURIs: a CA re-encodes a URI as crypto/x509 writes it
// (" " becomes "%20", "HTTP:" "http:"), so a spec URI in another form would never
// match its certificate and be re-issued at every check (found by FuzzSpecCSRTrigger).
func TestBuildCSRRefusesNonCanonicalURIs(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	for _, u := range []string{" ", "HTTP://example.com/x", "spiffe://a/b c"} {
		_, err := BuildCSR(cmapi.CertificateSpec{URIs: []string{u}}, key)
		if err == nil || !strings.Contains(err.Error(), "canonical form") {
			t.Errorf("URI %q: %v, want a canonical-form error", u, err)
		}
	}
	if _, err := BuildCSR(cmapi.CertificateSpec{URIs: []string{"spiffe://cluster.local/ns/a/sa/b", "https://example.com/a%20b?q=1"}}, key); err != nil {
		t.Errorf("canonical URIs refused: %v", err)
	}
}

// TestBuildCSRRefusesURIHostsX509Refuses: crypto/x509 (a Go CA parsing the CSR) refuses
// a URI whose host has an empty label or a byte outside printable ASCII, so the spec is
// refused with the reason instead of a CSR the signer refuses for good (found by
// FuzzSpecCSRTrigger: "a00000://cluster.").
func TestBuildCSRRefusesURIHostsX509Refuses(t *testing.T) {
	key := testKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	for _, u := range []string{"spiffe://cluster./ns", "spiffe://a..b/x", "https://.example.com/"} {
		_, err := BuildCSR(cmapi.CertificateSpec{URIs: []string{u}}, key)
		if err == nil || !strings.Contains(err.Error(), "host") {
			t.Errorf("URI %q: %v, want an error naming its host", u, err)
		}
	}
	csrPEM, err := BuildCSR(cmapi.CertificateSpec{URIs: []string{"spiffe://cluster.local/ns/a", "https://127.0.0.1:8443/x", "urn:example:a"}}, key)
	if err != nil {
		t.Fatalf("good URIs refused: %v", err)
	}
	if _, err := ParseCSRPEM(csrPEM); err != nil {
		t.Errorf("the CSR of good URIs does not parse: %v", err)
	}
}
