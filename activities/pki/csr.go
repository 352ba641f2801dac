package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"strings"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	sharedpki "github.com/certflow/certflow/pki"
)

// PEM block types.
const (
	PEMTypeCertificateRequest = "CERTIFICATE REQUEST"
	PEMTypeCertificate        = sharedpki.PEMTypeCertificate
)

// SignatureAlgorithmFor returns the x509 signature algorithm for a key: the
// requested one when set (it must suit the key type), otherwise the default
// for the key, as upstream: RSA keys of 4096 bits or more SHA512WithRSA, of
// 3072 bits or more SHA384WithRSA, smaller ones SHA256WithRSA; ECDSA P-256,
// P-384, P-521 with SHA-256, SHA-384, SHA-512; Ed25519 PureEd25519.
func SignatureAlgorithmFor(requested cmapi.SignatureAlgorithm, pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	var keyType x509.PublicKeyAlgorithm
	var def x509.SignatureAlgorithm
	switch k := pub.(type) {
	case *rsa.PublicKey:
		keyType = x509.RSA
		switch bits := k.N.BitLen(); {
		case bits >= 4096:
			def = x509.SHA512WithRSA
		case bits >= 3072:
			def = x509.SHA384WithRSA
		default:
			def = x509.SHA256WithRSA
		}
	case *ecdsa.PublicKey:
		keyType = x509.ECDSA
		switch k.Curve.Params().BitSize {
		case 521:
			def = x509.ECDSAWithSHA512
		case 384:
			def = x509.ECDSAWithSHA384
		default:
			def = x509.ECDSAWithSHA256
		}
	case ed25519.PublicKey:
		keyType = x509.Ed25519
		def = x509.PureEd25519
	default:
		return x509.UnknownSignatureAlgorithm, specErrorf("unsupported public key type %T", pub)
	}
	if requested == "" {
		return def, nil
	}
	a, ok := signatureAlgorithms[requested]
	if !ok {
		return x509.UnknownSignatureAlgorithm, specErrorf("unsupported signatureAlgorithm %q", requested)
	}
	if a.key != keyType {
		return x509.UnknownSignatureAlgorithm, specErrorf("signatureAlgorithm %s cannot be used with a %s key", requested, keyType)
	}
	return a.alg, nil
}

// signatureAlgorithms are the spec's signature algorithms and the key type each needs.
var signatureAlgorithms = map[cmapi.SignatureAlgorithm]struct {
	alg x509.SignatureAlgorithm
	key x509.PublicKeyAlgorithm
}{
	cmapi.SHA256WithRSA:   {x509.SHA256WithRSA, x509.RSA},
	cmapi.SHA384WithRSA:   {x509.SHA384WithRSA, x509.RSA},
	cmapi.SHA512WithRSA:   {x509.SHA512WithRSA, x509.RSA},
	cmapi.ECDSAWithSHA256: {x509.ECDSAWithSHA256, x509.ECDSA},
	cmapi.ECDSAWithSHA384: {x509.ECDSAWithSHA384, x509.ECDSA},
	cmapi.ECDSAWithSHA512: {x509.ECDSAWithSHA512, x509.ECDSA},
	cmapi.PureEd25519:     {x509.PureEd25519, x509.Ed25519},
}

// ParseIPAddresses parses IP address strings (no zones). IPv4 addresses are
// returned in their 4-byte form.
func ParseIPAddresses(ips []string) ([]net.IP, error) {
	var out []net.IP
	for _, s := range ips {
		addr, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || addr.Zone() != "" {
			return nil, specErrorf("invalid IP address %q", s)
		}
		out = append(out, net.IP(addr.AsSlice()))
	}
	return out, nil
}

// SubjectForSpec returns the DER subject Name for a Certificate spec and the
// common name it holds: the literalSubject parsed as RFC 4514 when set,
// otherwise spec.subject plus spec.commonName.
func SubjectForSpec(spec cmapi.CertificateSpec) (der []byte, commonName string, err error) {
	if spec.LiteralSubject != "" {
		if spec.Subject != nil || spec.CommonName != "" {
			return nil, "", specErrorf("literalSubject cannot be set together with subject or commonName")
		}
		seq, err := ParseLiteralSubject(spec.LiteralSubject)
		if err != nil {
			return nil, "", err
		}
		der, err := asn1.Marshal(seq)
		if err != nil {
			return nil, "", specErrorf("literalSubject %s cannot be encoded: %v", quoteExcerpt(spec.LiteralSubject), err)
		}
		return der, CommonNameFromRDNSequence(seq), nil
	}
	der, err = asn1.Marshal(subjectName(spec.CommonName, spec.Subject).ToRDNSequence())
	if err != nil {
		return nil, "", specErrorf("subject cannot be encoded: %v", err)
	}
	return der, spec.CommonName, nil
}

// subjectName is the pkix.Name of a common name and an optional
// spec.subject.
func subjectName(commonName string, s *cmapi.X509Subject) pkix.Name {
	if s == nil {
		return pkix.Name{CommonName: commonName}
	}
	return pkix.Name{
		CommonName:         commonName,
		Country:            s.Countries,
		Organization:       s.Organizations,
		OrganizationalUnit: s.OrganizationalUnits,
		Locality:           s.Localities,
		Province:           s.Provinces,
		StreetAddress:      s.StreetAddresses,
		PostalCode:         s.PostalCodes,
		SerialNumber:       s.SerialNumber,
	}
}

// SANsForSpec collects the subject alternative names of a Certificate spec.
func SANsForSpec(spec cmapi.CertificateSpec) (GeneralNames, error) {
	ips, err := ParseIPAddresses(spec.IPAddresses)
	if err != nil {
		return GeneralNames{}, err
	}
	names := GeneralNames{
		DNSNames:       spec.DNSNames,
		EmailAddresses: spec.EmailAddresses,
		IPAddresses:    ips,
		URIs:           spec.URIs,
	}
	for _, on := range spec.OtherNames {
		names.OtherNames = append(names.OtherNames, OtherNameSAN{OID: on.OID, UTF8Value: on.UTF8Value})
	}
	return names, nil
}

// NameConstraintsForSpec converts spec.nameConstraints into an extension;
// ok is false when there are none. They are only valid for CA certificates.
func NameConstraintsForSpec(spec cmapi.CertificateSpec) (ext pkix.Extension, ok bool, err error) {
	nc := spec.NameConstraints
	if nc == nil {
		return pkix.Extension{}, false, nil
	}
	if !spec.IsCA {
		return pkix.Extension{}, false, specErrorf("nameConstraints can only be set when isCA is true")
	}
	var permitted, excluded NameConstraintSet
	if p := nc.Permitted; p != nil {
		ranges, err := ParseCIDRs(p.IPRanges)
		if err != nil {
			return pkix.Extension{}, false, err
		}
		permitted = NameConstraintSet{DNSDomains: p.DNSDomains, IPRanges: ranges, EmailAddresses: p.EmailAddresses, URIDomains: p.URIDomains}
	}
	if e := nc.Excluded; e != nil {
		ranges, err := ParseCIDRs(e.IPRanges)
		if err != nil {
			return pkix.Extension{}, false, err
		}
		excluded = NameConstraintSet{DNSDomains: e.DNSDomains, IPRanges: ranges, EmailAddresses: e.EmailAddresses, URIDomains: e.URIDomains}
	}
	return MarshalNameConstraints(permitted, excluded, nc.Critical)
}

// CSRTemplate builds the unsigned certificate request for a Certificate
// spec and the public key it will carry. See BuildCSR.
func CSRTemplate(spec cmapi.CertificateSpec, pub crypto.PublicKey) (*x509.CertificateRequest, error) {
	rawSubject, commonName, err := SubjectForSpec(spec)
	if err != nil {
		return nil, err
	}
	sans, err := SANsForSpec(spec)
	if err != nil {
		return nil, err
	}
	if commonName == "" && sans.Empty() {
		return nil, specErrorf("at least one of commonName (or a CN in literalSubject), dnsNames, uris, emailAddresses, ipAddresses or otherNames must be set")
	}
	sigAlg, err := SignatureAlgorithmFor(spec.SignatureAlgorithm, pub)
	if err != nil {
		return nil, err
	}

	var exts []pkix.Extension
	if !sans.Empty() {
		ext, err := MarshalSANs(sans, isSubjectEmpty(rawSubject))
		if err != nil {
			return nil, err
		}
		exts = append(exts, ext)
	}
	if spec.EncodeUsagesInRequest == nil || *spec.EncodeUsagesInRequest {
		ku, ekus, err := KeyUsages(spec.Usages, spec.IsCA, pub)
		if err != nil {
			return nil, err
		}
		if ku != 0 {
			ext, err := MarshalKeyUsage(ku)
			if err != nil {
				return nil, err
			}
			exts = append(exts, ext)
		}
		if len(ekus) > 0 {
			ext, err := MarshalExtKeyUsage(ekus)
			if err != nil {
				return nil, err
			}
			exts = append(exts, ext)
		}
		ext, err := MarshalBasicConstraints(spec.IsCA)
		if err != nil {
			return nil, err
		}
		exts = append(exts, ext)
	}
	if ext, ok, err := NameConstraintsForSpec(spec); err != nil {
		return nil, err
	} else if ok {
		exts = append(exts, ext)
	}

	return &x509.CertificateRequest{
		SignatureAlgorithm: sigAlg,
		RawSubject:         rawSubject,
		ExtraExtensions:    exts,
	}, nil
}

// BuildCSR makes a PEM-encoded PKCS#10 certificate request for a Certificate
// spec, signed with signer:
//
//   - subject from spec.subject and spec.commonName, or spec.literalSubject
//     (RFC 4514, exact RDN sequence);
//   - a subjectAltName extension with dnsNames, ipAddresses, uris,
//     emailAddresses and otherNames (UTF8String values), critical when the
//     subject is empty;
//   - unless spec.encodeUsagesInRequest is false: keyUsage, extKeyUsage and
//     basicConstraints (isCA) extensions;
//   - nameConstraints (only with isCA);
//   - signed with spec.signatureAlgorithm or the key's default.
//
// Bad specs give non-retryable "InvalidCertificateSpec" errors.
func BuildCSR(spec cmapi.CertificateSpec, signer crypto.Signer) ([]byte, error) {
	if signer == nil {
		return nil, specErrorf("no private key")
	}
	tmpl, err := CSRTemplate(spec, signer.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, signer)
	if err != nil {
		return nil, fmt.Errorf("creating certificate request: %w", err)
	}
	// The encoder writes what a literalSubject's #hex values hold as they are; a value no
	// parser reads (a BOOLEAN three bytes long) would make a CSR every signer refuses.
	if _, err := x509.ParseCertificateRequest(der); err != nil {
		return nil, specErrorf("the subject makes a certificate request that cannot be parsed: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMTypeCertificateRequest, Bytes: der}), nil
}

// ParseCSRPEM decodes and parses a PEM certificate request and checks its
// signature. Errors are non-retryable "InvalidCSR" errors.
func ParseCSRPEM(csrPEM []byte) (*x509.CertificateRequest, error) {
	if err := sharedpki.CheckSize("certificate request", csrPEM); err != nil {
		return nil, csrErrorf("%v", err)
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || (block.Type != PEMTypeCertificateRequest && block.Type != "NEW CERTIFICATE REQUEST") {
		return nil, csrErrorf("no PEM %q block found", PEMTypeCertificateRequest)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, csrErrorf("parsing certificate request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, csrErrorf("certificate request signature is invalid: %v", err)
	}
	return csr, nil
}
