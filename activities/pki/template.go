package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"slices"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// DefaultDuration is the certificate lifetime used when none is requested.
const DefaultDuration = cmapi.DefaultCertificateDuration // 2160h

// TemplateOption sets optional fields of CertificateTemplateFromCSR.
type TemplateOption func(*templateOptions)

type templateOptions struct {
	serial     *big.Int
	crlDPs     []string
	ocsp       []string
	issuingURL []string
}

// WithSerialNumber sets the serial number (see NewSerialNumber). Without it
// a random one is drawn from crypto/rand.
func WithSerialNumber(serial *big.Int) TemplateOption {
	return func(o *templateOptions) { o.serial = serial }
}

// WithCRLDistributionPoints sets the CRL distribution point URLs.
func WithCRLDistributionPoints(urls []string) TemplateOption {
	return func(o *templateOptions) { o.crlDPs = slices.Clone(urls) }
}

// WithOCSPServers sets the OCSP responder URLs (authority information access).
func WithOCSPServers(urls []string) TemplateOption {
	return func(o *templateOptions) { o.ocsp = slices.Clone(urls) }
}

// WithIssuingCertificateURLs sets the CA issuers URLs (authority
// information access).
func WithIssuingCertificateURLs(urls []string) TemplateOption {
	return func(o *templateOptions) { o.issuingURL = slices.Clone(urls) }
}

var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// NewSerialNumber draws a random, positive serial number below 2^128 from r.
func NewSerialNumber(r io.Reader) (*big.Int, error) {
	for {
		n, err := rand.Int(r, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// SubjectKeyID computes a subject key identifier for a public key: the
// leftmost 160 bits of the SHA-256 hash of the subjectPublicKey bits (RFC
// 7093, section 2, method 1).
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decoding public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// CertificateTemplateFromCSR turns a PEM CSR into a certificate template,
// ready for x509.CreateCertificate:
//
//   - subject copied raw (literal subjects stay exact), public key, and the
//     subjectAltName extension copied as requested (including otherNames;
//     critical when the subject is empty);
//   - NotBefore = now, NotAfter = now + duration (90 days when duration <= 0);
//   - key usages and extended key usages from usages (KeyUsages: empty means
//     digital signature + key encipherment, key encipherment only for RSA
//     keys; isCA adds cert sign), basic constraints valid with IsCA = isCA;
//   - name constraints requested in the CSR (CA certificates only);
//   - a subject key identifier derived from the public key;
//   - serial number, CRL distribution points and AIA URLs from opts.
//
// If the CSR itself encodes basic constraints, key usages or extended key
// usages, they must equal the requested isCA and usages (as upstream), or a
// non-retryable "InvalidCSR" error is returned. Other requested extensions
// are not copied.
func CertificateTemplateFromCSR(csrPEM []byte, duration time.Duration, isCA bool, usages []cmapi.KeyUsage, now time.Time, opts ...TemplateOption) (*x509.Certificate, error) {
	var o templateOptions
	for _, opt := range opts {
		opt(&o)
	}
	csr, err := ParseCSRPEM(csrPEM)
	if err != nil {
		return nil, err
	}
	if duration <= 0 {
		duration = DefaultDuration
	}
	ku, ekus, err := KeyUsages(usages, isCA, csr.PublicKey)
	if err != nil {
		return nil, err
	}
	serial := o.serial
	if serial == nil {
		if serial, err = NewSerialNumber(rand.Reader); err != nil {
			return nil, err
		}
	} else if serial.Sign() <= 0 {
		return nil, fmt.Errorf("serial number must be positive")
	}
	skid, err := SubjectKeyID(csr.PublicKey)
	if err != nil {
		return nil, csrErrorf("unsupported public key in certificate request: %v", err)
	}

	tmpl := &x509.Certificate{
		Version:               3,
		SerialNumber:          serial,
		PublicKeyAlgorithm:    csr.PublicKeyAlgorithm,
		PublicKey:             csr.PublicKey,
		Subject:               csr.Subject,
		RawSubject:            csr.RawSubject,
		NotBefore:             now,
		NotAfter:              now.Add(duration),
		KeyUsage:              ku,
		ExtKeyUsage:           ekus,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		DNSNames:              csr.DNSNames,
		IPAddresses:           csr.IPAddresses,
		EmailAddresses:        csr.EmailAddresses,
		URIs:                  csr.URIs,
		SubjectKeyId:          skid,
		CRLDistributionPoints: o.crlDPs,
		OCSPServer:            o.ocsp,
		IssuingCertificateURL: o.issuingURL,
	}

	subjectEmpty := isSubjectEmpty(csr.RawSubject)
	for _, ext := range csr.Extensions {
		switch {
		case ext.Id.Equal(OIDExtensionSubjectAltName):
			san := ext
			san.Critical = subjectEmpty
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, san)
		case ext.Id.Equal(OIDExtensionBasicConstraints):
			reqCA, _, err := UnmarshalBasicConstraints(ext.Value)
			if err != nil {
				return nil, csrErrorf("encoded CSR error: %v", err)
			}
			if reqCA != isCA {
				return nil, csrErrorf("encoded CSR error: IsCA %v does not match expected value %v", reqCA, isCA)
			}
		case ext.Id.Equal(OIDExtensionKeyUsage):
			reqKU, err := UnmarshalKeyUsage(ext.Value)
			if err != nil {
				return nil, csrErrorf("encoded CSR error: %v", err)
			}
			if reqKU != ku {
				return nil, csrErrorf("encoded CSR error: the KeyUsages %v do not match the expected KeyUsages %v", KeyUsageNames(reqKU), KeyUsageNames(ku))
			}
		case ext.Id.Equal(OIDExtensionExtendedKeyUsage):
			reqEKUs, unknown, err := UnmarshalExtKeyUsage(ext.Value)
			if err != nil {
				return nil, csrErrorf("encoded CSR error: %v", err)
			}
			if len(unknown) > 0 || !slices.Equal(reqEKUs, ekus) {
				return nil, csrErrorf("encoded CSR error: the ExtKeyUsages %v do not match the expected ExtKeyUsages %v", ExtKeyUsageNames(reqEKUs), ExtKeyUsageNames(ekus))
			}
		case ext.Id.Equal(OIDExtensionNameConstraints):
			if !isCA {
				return nil, csrErrorf("encoded CSR error: name constraints requested for a certificate that is not a CA")
			}
			permitted, excluded, err := UnmarshalNameConstraints(ext.Value)
			if err != nil {
				return nil, csrErrorf("encoded CSR error: %v", err)
			}
			setNameConstraints(tmpl, ext.Critical, permitted, excluded)
		}
	}
	return tmpl, nil
}

// setNameConstraints copies both sides of name constraints onto a
// certificate template.
func setNameConstraints(tmpl *x509.Certificate, critical bool, permitted, excluded NameConstraintSet) {
	tmpl.PermittedDNSDomainsCritical = critical
	tmpl.PermittedDNSDomains, tmpl.ExcludedDNSDomains = permitted.DNSDomains, excluded.DNSDomains
	tmpl.PermittedIPRanges, tmpl.ExcludedIPRanges = permitted.IPRanges, excluded.IPRanges
	tmpl.PermittedEmailAddresses, tmpl.ExcludedEmailAddresses = permitted.EmailAddresses, excluded.EmailAddresses
	tmpl.PermittedURIDomains, tmpl.ExcludedURIDomains = permitted.URIDomains, excluded.URIDomains
}

var keyUsageNames = []struct {
	ku   x509.KeyUsage
	name cmapi.KeyUsage
}{
	{x509.KeyUsageDigitalSignature, cmapi.UsageDigitalSignature},
	{x509.KeyUsageContentCommitment, cmapi.UsageContentCommitment},
	{x509.KeyUsageKeyEncipherment, cmapi.UsageKeyEncipherment},
	{x509.KeyUsageDataEncipherment, cmapi.UsageDataEncipherment},
	{x509.KeyUsageKeyAgreement, cmapi.UsageKeyAgreement},
	{x509.KeyUsageCertSign, cmapi.UsageCertSign},
	{x509.KeyUsageCRLSign, cmapi.UsageCRLSign},
	{x509.KeyUsageEncipherOnly, cmapi.UsageEncipherOnly},
	{x509.KeyUsageDecipherOnly, cmapi.UsageDecipherOnly},
}

// KeyUsageNames lists the API names of the bits set in ku.
func KeyUsageNames(ku x509.KeyUsage) []cmapi.KeyUsage {
	var out []cmapi.KeyUsage
	for _, n := range keyUsageNames {
		if ku&n.ku != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

var extKeyUsageNames = map[x509.ExtKeyUsage]cmapi.KeyUsage{
	x509.ExtKeyUsageAny:                        cmapi.UsageAny,
	x509.ExtKeyUsageServerAuth:                 cmapi.UsageServerAuth,
	x509.ExtKeyUsageClientAuth:                 cmapi.UsageClientAuth,
	x509.ExtKeyUsageCodeSigning:                cmapi.UsageCodeSigning,
	x509.ExtKeyUsageEmailProtection:            cmapi.UsageEmailProtection,
	x509.ExtKeyUsageIPSECEndSystem:             cmapi.UsageIPsecEndSystem,
	x509.ExtKeyUsageIPSECTunnel:                cmapi.UsageIPsecTunnel,
	x509.ExtKeyUsageIPSECUser:                  cmapi.UsageIPsecUser,
	x509.ExtKeyUsageTimeStamping:               cmapi.UsageTimestamping,
	x509.ExtKeyUsageOCSPSigning:                cmapi.UsageOCSPSigning,
	x509.ExtKeyUsageMicrosoftServerGatedCrypto: cmapi.UsageMicrosoftSGC,
	x509.ExtKeyUsageNetscapeServerGatedCrypto:  cmapi.UsageNetscapeSGC,
}

// ExtKeyUsageNames lists the API names of extended key usages (unnamed
// ones are skipped).
func ExtKeyUsageNames(ekus []x509.ExtKeyUsage) []cmapi.KeyUsage {
	var out []cmapi.KeyUsage
	for _, e := range ekus {
		if n, ok := extKeyUsageNames[e]; ok {
			out = append(out, n)
		}
	}
	return out
}
