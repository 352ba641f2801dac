package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/certflow/certflow/activities/keys"
	sharedpki "github.com/certflow/certflow/pki"
)

// CertificateFacts are the public facts about a certificate that go into a
// Certificate's status and its Secret's annotations.
type CertificateFacts struct {
	NotBefore       time.Time `json:"notBefore"`
	NotAfter        time.Time `json:"notAfter"`
	CommonName      string    `json:"commonName,omitempty"`
	DNSNames        []string  `json:"dnsNames,omitempty"`
	IPAddresses     []string  `json:"ipAddresses,omitempty"`
	URIs            []string  `json:"uris,omitempty"`
	EmailAddresses  []string  `json:"emailAddresses,omitempty"`
	IsCA            bool      `json:"isCA,omitempty"`
	PublicKeySHA256 string    `json:"publicKeySHA256"`
	// SerialHex is the serial number in lowercase hex, without leading zeros.
	SerialHex string `json:"serialHex"`
	// Subject and Issuer are the distinguished names in RFC 2253-like form
	// (as crypto/x509/pkix prints them).
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	// SelfSigned is true when the certificate is signed by its own key.
	SelfSigned bool `json:"selfSigned,omitempty"`
}

// ParseCertificatesPEM parses every CERTIFICATE block in data, in order.
// Other blocks are skipped. It fails when there is none.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	certs, err := sharedpki.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate %d: %w", len(certs)+1, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM %q block found", PEMTypeCertificate)
	}
	return certs, nil
}

// EncodeCertificatesPEM PEM-encodes certificates in order.
func EncodeCertificatesPEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: PEMTypeCertificate, Bytes: c.Raw})
	}
	return buf.Bytes()
}

// DescribeCertificate returns the facts about the first certificate in
// certPEM (the leaf of a tls.crt chain).
func DescribeCertificate(certPEM []byte) (CertificateFacts, error) {
	certs, err := ParseCertificatesPEM(certPEM)
	if err != nil {
		return CertificateFacts{}, err
	}
	return FactsOf(certs[0]), nil
}

// FactsOf describes a parsed certificate.
func FactsOf(c *x509.Certificate) CertificateFacts {
	f := CertificateFacts{
		NotBefore:       c.NotBefore.UTC(),
		NotAfter:        c.NotAfter.UTC(),
		CommonName:      c.Subject.CommonName,
		DNSNames:        c.DNSNames,
		EmailAddresses:  c.EmailAddresses,
		IsCA:            c.BasicConstraintsValid && c.IsCA,
		PublicKeySHA256: keys.PublicKeySHA256(c.PublicKey),
		Subject:         c.Subject.String(),
		Issuer:          c.Issuer.String(),
		SelfSigned:      isSelfSigned(c),
	}
	if c.SerialNumber != nil {
		f.SerialHex = c.SerialNumber.Text(16)
	}
	for _, ip := range c.IPAddresses {
		f.IPAddresses = append(f.IPAddresses, ip.String())
	}
	for _, u := range c.URIs {
		f.URIs = append(f.URIs, u.String())
	}
	return f
}
