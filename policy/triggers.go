package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// Trigger reasons, as upstream cert-manager writes them on the Issuing condition.
const (
	ReasonDoesNotExist         = cmapi.ReasonDoesNotExist
	ReasonMissingData          = cmapi.ReasonMissingData
	ReasonInvalidKeyPair       = cmapi.ReasonInvalidKeyPair
	ReasonIncorrectIssuer      = cmapi.ReasonIncorrectIssuer
	ReasonIncorrectCertificate = cmapi.ReasonIncorrectCertificate
	ReasonRenewing             = cmapi.ReasonRenewing
	ReasonExpired              = cmapi.ReasonExpired
	ReasonManuallyTriggered    = cmapi.ReasonManuallyTriggered
	// ReasonRequestChanged: the spec no longer matches the request the current
	// certificate was issued with (upstream's CurrentCertificateRequestMismatchesSpec).
	ReasonRequestChanged = "RequestChanged"
)

// IssuedFacts are the public facts of the certificate stored in a Secret.
type IssuedFacts struct {
	NotBefore, NotAfter time.Time
	CommonName          string
	DNSNames            []string
	IPAddresses         []string
	URIs                []string
	EmailAddresses      []string
	IsCA                bool
	KeyAlgorithm        string // RSA, ECDSA or Ed25519
	KeySize             int    // RSA bits or ECDSA curve size; 0 for Ed25519
}

// SecretState is what an activity observed in the target Secret. It never holds key bytes.
type SecretState struct {
	Exists         bool
	HasCertificate bool
	HasPrivateKey  bool
	// CertificateError is set when tls.crt does not parse.
	CertificateError string
	// KeyMatchesCertificate is true when tls.key is the private key of tls.crt.
	KeyMatchesCertificate bool
	Certificate           IssuedFacts
	// Issuer annotations written with the certificate.
	IssuerName, IssuerKind, IssuerGroup string
	// Revision is the revision that wrote the Secret (certflow's annotation), 0 if unknown.
	Revision int
	// OutputsUpToDate is false when the keystores, additional output formats or
	// secretTemplate metadata differ from the spec: the Secret needs rewriting, not a
	// new certificate (upstream's SecretMismatch is handled without re-issuing).
	OutputsUpToDate bool
	// UsedBy names another Certificate that wrote the Secret and still names it as its
	// secretName: this Certificate must neither issue into it nor rewrite it.
	UsedBy string `json:",omitempty"`
}

// Desired is the part of a Certificate spec that an issued certificate must match.
type Desired struct {
	CommonName string
	// AnyCommonName: the common name is not checked against the certificate (a
	// literalSubject whose CN cannot be read as text; the request comparison covers it).
	AnyCommonName  bool
	DNSNames       []string
	IPAddresses    []string
	URIs           []string
	EmailAddresses []string
	IsCA           bool
	KeyAlgorithm   string
	KeySize        int
	IssuerName     string
	IssuerKind     string
	IssuerGroup    string
	// RenewalTime is when the current certificate is due for renewal (zero when unknown).
	RenewalTime time.Time
	// Request is what the spec asks of a request now; IssuedRequest what the request of
	// the current certificate asked (nil when unknown: never issued by this workflow).
	Request       RequestSpec
	IssuedRequest *RequestSpec
}

// Trigger says whether a Certificate needs a new issuance, and why.
type Trigger struct {
	Issue   bool
	Reason  string
	Message string
}

// Evaluate runs upstream's trigger policy chain in order; the first hit wins.
// manual is true when a renew was requested (signal, CLI or ManuallyTriggered condition).
func Evaluate(now time.Time, d Desired, s SecretState, manual bool) Trigger {
	switch {
	case !s.Exists:
		return issue(ReasonDoesNotExist, "Issuing certificate as Secret does not exist")
	case !s.HasCertificate:
		return issue(ReasonMissingData, "Issuing certificate as Secret does not contain a certificate")
	case !s.HasPrivateKey:
		return issue(ReasonMissingData, "Issuing certificate as Secret does not contain a private key")
	case s.CertificateError != "":
		return issue(ReasonInvalidKeyPair, "Issuing certificate as Secret contains an invalid certificate: "+s.CertificateError)
	case !s.KeyMatchesCertificate:
		return issue(ReasonInvalidKeyPair, "Issuing certificate as Secret contains a private key that does not match the certificate")
	case !issuerMatches(d, s):
		return issue(ReasonIncorrectIssuer, fmt.Sprintf("Issuing certificate as Secret was previously issued by %s", issuerString(s.IssuerKind, s.IssuerGroup, s.IssuerName)))
	}
	if diff := specMismatch(d, s.Certificate); diff != "" {
		return issue(ReasonIncorrectCertificate, "Issuing certificate as Secret was previously issued with a different spec: "+diff)
	}
	if d.IssuedRequest != nil {
		if fields := d.IssuedRequest.ChangedFields(d.Request); len(fields) > 0 {
			return issue(ReasonRequestChanged, RequestChangedMessage(fields))
		}
	}
	if manual {
		return issue(ReasonManuallyTriggered, "Certificate re-issuance manually triggered")
	}
	if !now.Before(s.Certificate.NotAfter) {
		return issue(ReasonExpired, fmt.Sprintf("Certificate expired on %s", s.Certificate.NotAfter.UTC().Format(time.RFC1123)))
	}
	if !d.RenewalTime.IsZero() && !now.Before(d.RenewalTime) {
		return issue(ReasonRenewing, fmt.Sprintf("Renewing certificate as renewal was scheduled at %s", d.RenewalTime.UTC().Format(time.RFC3339)))
	}
	return Trigger{}
}

func issue(reason, msg string) Trigger { return Trigger{Issue: true, Reason: reason, Message: msg} }

// issuerMatches compares the Secret's issuer annotations with the spec's issuerRef,
// treating empty kind as Issuer and empty group as cert-manager.io, as upstream does.
func issuerMatches(d Desired, s SecretState) bool {
	if s.IssuerName == "" && s.IssuerKind == "" && s.IssuerGroup == "" {
		return true // Secret written by another tool: judged by its content only
	}
	return s.IssuerName == d.IssuerName &&
		defaulted(s.IssuerKind, "Issuer") == defaulted(d.IssuerKind, "Issuer") &&
		defaulted(s.IssuerGroup, "cert-manager.io") == defaulted(d.IssuerGroup, "cert-manager.io")
}

func issuerString(kind, group, name string) string {
	return fmt.Sprintf("%s.%s/%s", defaulted(kind, "Issuer"), defaulted(group, "cert-manager.io"), name)
}

func defaulted(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// specMismatch names the first field where the issued certificate differs from the spec.
func specMismatch(d Desired, c IssuedFacts) string {
	switch {
	case !d.AnyCommonName && d.CommonName != c.CommonName:
		return fmt.Sprintf("commonName %q, want %q", c.CommonName, d.CommonName)
	case !sameSet(d.DNSNames, c.DNSNames):
		return fmt.Sprintf("dnsNames %v, want %v", c.DNSNames, d.DNSNames)
	case !sameSet(canonicalIPs(d.IPAddresses), canonicalIPs(c.IPAddresses)):
		return fmt.Sprintf("ipAddresses %v, want %v", c.IPAddresses, d.IPAddresses)
	case !sameSet(d.URIs, c.URIs):
		return fmt.Sprintf("uris %v, want %v", c.URIs, d.URIs)
	case !sameSet(d.EmailAddresses, c.EmailAddresses):
		return fmt.Sprintf("emailAddresses %v, want %v", c.EmailAddresses, d.EmailAddresses)
	case d.IsCA != c.IsCA:
		return fmt.Sprintf("isCA %t, want %t", c.IsCA, d.IsCA)
	case d.KeyAlgorithm != "" && !strings.EqualFold(d.KeyAlgorithm, c.KeyAlgorithm):
		return fmt.Sprintf("private key algorithm %s, want %s", c.KeyAlgorithm, d.KeyAlgorithm)
	case d.KeySize != 0 && d.KeySize != c.KeySize:
		return fmt.Sprintf("private key size %d, want %d", c.KeySize, d.KeySize)
	}
	return ""
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// canonicalIPs writes addresses in one form so "::1" and "0:0::1" compare equal.
// netip.ParseAddr is pure; workflowcheck flags it only for how IPv6 zones are interned.
//
//workflowcheck:ignore
func canonicalIPs(ips []string) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			ip = a.Unmap().String()
		}
		out = append(out, ip)
	}
	return out
}
