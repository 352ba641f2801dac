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
	// ExactNames compares the common name and the names of the certificate byte for
	// byte with the spec, also when the request of the certificate is known: what
	// certflow did before it accepted real CAs' certificates (workflows keep it for
	// the runs an older certflow recorded).
	ExactNames bool
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
	if d.IssuedRequest != nil && !d.ExactNames {
		// The request of the current certificate is known: a spec that changed since
		// says so first, in the request's words.
		if fields := d.IssuedRequest.ChangedFields(d.Request); len(fields) > 0 {
			return issue(ReasonRequestChanged, RequestChangedMessage(fields))
		}
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
//
// A CA does not copy the request into the certificate byte for byte: Let's Encrypt's
// classic profile puts the first name into the common name when the request has none,
// its tlsserver and shortlived profiles leave the common name out, and names come back
// lower-cased. As upstream (CurrentCertificateRequestMismatchesSpec), when the request
// of the current certificate is known, the request comparison decides about the
// subject, the names and isCA; the certificate must still carry every name the spec
// asks for (namesMissing: a CA may add names or leave the common name out), so that a
// certificate and key written over the Secret by someone else are noticed although
// they match each other. When the request is unknown, the certificate's names are
// compared loosely (namesMismatch).
func specMismatch(d Desired, c IssuedFacts) string {
	if d.ExactNames {
		return exactSpecMismatch(d, c)
	}
	if d.IssuedRequest != nil {
		if diff := namesMissing(d, c); diff != "" {
			return diff
		}
		return keyMismatch(d, c)
	}
	if diff := namesMismatch(d, c); diff != "" {
		return diff
	}
	if d.IsCA != c.IsCA {
		return fmt.Sprintf("isCA %t, want %t", c.IsCA, d.IsCA)
	}
	return keyMismatch(d, c)
}

// namesMissing names the spec's DNS names, addresses, URIs and emails that the
// certificate does not carry (a DNS name may stand in its common name), case-insensitively.
func namesMissing(d Desired, c IssuedFacts) string {
	got := withName(dnsNameSet(c.DNSNames), strings.ToLower(c.CommonName))
	var missing []string
	for _, n := range dnsNameSet(d.DNSNames) {
		if !slices.Contains(got, n) {
			missing = append(missing, n)
		}
	}
	gotIPs := canonicalIPs(c.IPAddresses)
	for _, ip := range canonicalIPs(d.IPAddresses) {
		if !slices.Contains(gotIPs, ip) {
			missing = append(missing, ip)
		}
	}
	for _, u := range d.URIs {
		if !slices.Contains(c.URIs, u) {
			missing = append(missing, u)
		}
	}
	for _, e := range d.EmailAddresses {
		if !slices.Contains(c.EmailAddresses, e) {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("the certificate lacks %v (it has dnsNames %v, ipAddresses %v)", missing, c.DNSNames, c.IPAddresses)
}

// exactSpecMismatch is specMismatch with Desired.ExactNames.
func exactSpecMismatch(d Desired, c IssuedFacts) string {
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
	}
	return keyMismatch(d, c)
}

// keyMismatch compares the certificate's public key with spec.privateKey.
func keyMismatch(d Desired, c IssuedFacts) string {
	switch {
	case d.KeyAlgorithm != "" && !strings.EqualFold(d.KeyAlgorithm, c.KeyAlgorithm):
		return fmt.Sprintf("private key algorithm %s, want %s", c.KeyAlgorithm, d.KeyAlgorithm)
	case d.KeySize != 0 && d.KeySize != c.KeySize:
		return fmt.Sprintf("private key size %d, want %d", c.KeySize, d.KeySize)
	}
	return ""
}

// namesMismatch compares the names of a certificate whose request is unknown with the
// spec, as upstream's FuzzyX509AltNamesMatchSpec does, and with DNS names compared
// case-insensitively: the common name and the DNS names of each side form one set, so
// a common name promoted from the first DNS name (spec.commonName empty) or left out
// (spec.commonName among spec.dnsNames) is no mismatch, while a common name that is
// neither a name of the spec nor the spec's, or a DNS name missing or added, is. A
// common name the spec cannot say as text (AnyCommonName) is left to the request.
func namesMismatch(d Desired, c IssuedFacts) string {
	want, got := dnsNameSet(d.DNSNames), dnsNameSet(c.DNSNames)
	wantCN, gotCN := strings.ToLower(d.CommonName), strings.ToLower(c.CommonName)
	if d.AnyCommonName {
		wantCN, gotCN = "", ""
	}
	// A common name that is one of the IP addresses (promoted from them when a request
	// has no DNS name) is judged with the addresses.
	if slices.Contains(canonicalIPs(d.IPAddresses), canonicalIP(wantCN)) {
		wantCN = ""
	}
	if slices.Contains(canonicalIPs(c.IPAddresses), canonicalIP(gotCN)) {
		gotCN = ""
	}
	wantAll, gotAll := withName(want, wantCN), withName(got, gotCN)
	if !slices.Equal(wantAll, gotAll) {
		if (wantCN != "" && !slices.Contains(gotAll, wantCN)) || (gotCN != "" && !slices.Contains(wantAll, gotCN)) {
			return fmt.Sprintf("commonName %q, want %q", c.CommonName, d.CommonName)
		}
		return fmt.Sprintf("dnsNames %v, want %v", c.DNSNames, d.DNSNames)
	}
	switch {
	case !sameSet(canonicalIPs(d.IPAddresses), canonicalIPs(c.IPAddresses)):
		return fmt.Sprintf("ipAddresses %v, want %v", c.IPAddresses, d.IPAddresses)
	case !sameSet(d.URIs, c.URIs):
		return fmt.Sprintf("uris %v, want %v", c.URIs, d.URIs)
	case !sameSet(d.EmailAddresses, c.EmailAddresses):
		return fmt.Sprintf("emailAddresses %v, want %v", c.EmailAddresses, d.EmailAddresses)
	}
	return ""
}

// dnsNameSet is a set of DNS names, lower-cased, sorted, without duplicates: DNS names
// are case-insensitive, and CAs lower-case them.
func dnsNameSet(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.ToLower(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// withName is the sorted set with name added ("" adds nothing).
func withName(set []string, name string) []string {
	if name == "" || slices.Contains(set, name) {
		return set
	}
	out := append(slices.Clone(set), name)
	slices.Sort(out)
	return out
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
		out = append(out, canonicalIP(ip))
	}
	return out
}

// canonicalIP is canonicalIPs for one address, read as the CSR builder reads it
// (pki.ParseIPAddresses trims spaces); anything else is returned as it is.
//
//workflowcheck:ignore
func canonicalIP(ip string) string {
	if a, err := netip.ParseAddr(strings.TrimSpace(ip)); err == nil {
		return a.Unmap().String()
	}
	return ip
}
