package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

// fuzzList splits a fuzzed list on '|', dropping empty items, at most 8.
func fuzzList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, "|") {
		if v != "" && len(out) < 8 {
			out = append(out, v)
		}
	}
	return out
}

// desiredFor is the policy input a Certificate workflow builds from the spec
// (workflows.desiredOf): the common name is spec.commonName, or the CN of
// spec.literalSubject read by pki.LiteralSubjectCommonName.
func desiredFor(spec cmapi.CertificateSpec) policy.Desired {
	cn, anyCN := spec.CommonName, false
	if spec.LiteralSubject != "" {
		var ok bool
		cn, ok = pki.LiteralSubjectCommonName(spec.LiteralSubject)
		anyCN = !ok
	}
	return policy.Desired{
		CommonName: cn, AnyCommonName: anyCN, DNSNames: spec.DNSNames, IPAddresses: spec.IPAddresses,
		URIs: spec.URIs, EmailAddresses: spec.EmailAddresses, IsCA: spec.IsCA,
		KeyAlgorithm: string(cmapi.ECDSAKeyAlgorithm), KeySize: 256,
		IssuerName: spec.IssuerRef.Name, IssuerKind: spec.IssuerRef.Kind, IssuerGroup: spec.IssuerRef.Group,
	}
}

// FuzzSpecCSRTrigger: a Certificate spec within its validated shape, turned into the
// CSR certflow builds, signed by a CA as the CA issuer signs it, and stored in a Secret
// as the Secret writer stores it, is up to date for the trigger policy: a later
// evaluation (a watcher restart) never asks for a new certificate. Nothing on the way
// panics.
func FuzzSpecCSRTrigger(f *testing.F) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz CA"},
		NotBefore: start, NotAfter: start.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		f.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		f.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	keyPEM, err := keys.EncodePrivateKey(leafKey, cmapi.PKCS8)
	if err != nil {
		f.Fatal(err)
	}

	f.Add("web.example.com", "web.example.com|www.example.com", "", "", "", "", false)
	f.Add("", "*.example.com|example.com", "192.0.2.1|2001:db8::1", "spiffe://cluster.local/ns/a/sa/b", "ops@example.com", "", false)
	f.Add("", "", "", "", "", "CN=lit.example,O=Example+OU=Ops,C=US", true)
	f.Add("", "a.example", "::ffff:192.0.2.1", "", "", "O=no CN", false)
	f.Add("", "a.example", "", "", "", "CN=#0c03616263", false)
	f.Add("ünï.example", "xn--n-tfa.example", "", "", "Ünï@example.com", "", false)
	f.Fuzz(func(t *testing.T, commonName, dnsNames, ips, uris, emails, literalSubject string, isCA bool) {
		spec := cmapi.CertificateSpec{
			CommonName: commonName, DNSNames: fuzzList(dnsNames), IPAddresses: fuzzList(ips),
			URIs: fuzzList(uris), EmailAddresses: fuzzList(emails), LiteralSubject: literalSubject, IsCA: isCA,
			SecretName: "fuzz-tls",
			IssuerRef:  cmmeta.ObjectReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
		}
		// The CRD's validation: a name of some kind, literalSubject without commonName,
		// a commonName of at most 64 characters, text that is UTF-8 (JSON).
		if spec.CommonName == "" && spec.LiteralSubject == "" && len(spec.DNSNames)+len(spec.IPAddresses)+len(spec.URIs)+len(spec.EmailAddresses) == 0 {
			return
		}
		if spec.LiteralSubject != "" && spec.CommonName != "" || len(spec.CommonName) > 64 {
			return
		}
		for _, s := range []string{commonName, dnsNames, ips, uris, emails, literalSubject} {
			if !utf8.ValidString(s) {
				return
			}
		}

		csrPEM, err := pki.BuildCSR(spec, leafKey)
		if err != nil {
			return // a spec certflow refuses: reported on the Certificate, nothing issued
		}
		now := start.Add(time.Hour)
		tmpl, err := pki.CertificateTemplateFromCSR(csrPEM, 90*24*time.Hour, spec.IsCA, spec.Usages, now)
		if err != nil {
			t.Fatalf("a CSR certflow built is refused by its CA signer: %v", err)
		}
		cert, err := pki.SignTemplateWithCA(tmpl, caCert, caKey)
		if err != nil {
			return // names the x509 encoder refuses in a certificate (a CA rejects them too)
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
				cmapi.IssuerNameAnnotationKey: spec.IssuerRef.Name, cmapi.IssuerKindAnnotationKey: spec.IssuerRef.Kind,
				cmapi.IssuerGroupAnnotationKey: spec.IssuerRef.Group,
			}},
			Data: map[string][]byte{TLSCertKey: pki.EncodeCertificatesPEM(cert), TLSKeyKey: keyPEM},
		}
		tr := policy.Evaluate(now.Add(time.Minute), desiredFor(spec), inspect(s), false)
		if tr.Issue {
			t.Fatalf("the certificate issued for the spec is not up to date: %s: %s", tr.Reason, tr.Message)
		}
	})
}
