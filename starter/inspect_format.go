package starter

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	certpki "github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/pki"
)

// secretInspection is what inspect secret shows of one Secret's data, parsed
// beforehand: String only formats it.
type secretInspection struct {
	Now time.Time
	// Chain is tls.crt, leaf first; CA is ca.crt's certificates.
	Chain, CA []*x509.Certificate
	// KeyErr is why tls.key could not be parsed (nil: Key holds it, or there is none).
	Key    crypto.PublicKey
	HasKey bool
	KeyErr error
	// SystemRoots are the roots of this computer (nil: unavailable, SystemRootsErr says why).
	SystemRoots    *x509.CertPool
	SystemRootsErr error
	// CRLStatus and OCSPStatus are the revocation checks' outcomes, in words.
	CRLStatus, OCSPStatus string
}

// errNoCertificateInSecret is inspect secret's error for a Secret without a certificate.
var errNoCertificateInSecret = errors.New("no PEM data found in secret")

// parseSecretForInspection parses a Secret's tls.crt, ca.crt and tls.key. A Secret
// without a certificate in tls.crt is an error, as is a tls.crt that does not parse.
func parseSecretForInspection(name string, data map[string][]byte) (*secretInspection, error) {
	crt := data[corev1.TLSCertKey]
	chain, err := pki.ParseCertificates(crt)
	if err != nil {
		return nil, fmt.Errorf("error when parsing 'tls.crt' of Secret %q: %s", name, pki.SafeErrorMessage(err))
	}
	if len(chain) == 0 {
		if len(crt) == 0 {
			return nil, fmt.Errorf("Secret %q has no certificate: its 'tls.crt' is missing or empty (%w)", name, errNoCertificateInSecret)
		}
		return nil, fmt.Errorf("Secret %q has no certificate: its 'tls.crt' holds no PEM CERTIFICATE block (%w)", name, errNoCertificateInSecret)
	}
	in := &secretInspection{Chain: chain}
	if ca := data[cmmeta.TLSCAKey]; len(ca) > 0 {
		in.CA, _ = pki.ParseCertificates(ca) // what parses of ca.crt; the checks say when it does not help
	}
	if k := data[corev1.TLSPrivateKeyKey]; len(k) > 0 {
		in.HasKey = true
		signer, err := parsePrivateKey(k)
		if err != nil {
			in.KeyErr = err
		} else {
			in.Key = signer.Public()
		}
	}
	return in, nil
}

func (in *secretInspection) String() string {
	leaf := in.Chain[0]
	var b strings.Builder
	w := &b
	var usages []string
	for _, u := range usageNames(leaf) {
		usages = append(usages, string(u))
	}
	var ips, uris []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	fmt.Fprintf(w, "Valid for:\n\tDNS Names: %s\n\tURIs: %s\n\tIP Addresses: %s\n\tEmail Addresses: %s\n\tUsages: %s\n\n",
		tabList(leaf.DNSNames), tabList(uris), tabList(ips), tabList(leaf.EmailAddresses), tabList(usages))

	fmt.Fprintf(w, "Validity period:\n\tNot Before: %s\n\tNot After: %s\n\n", leaf.NotBefore.UTC().Format(time.RFC1123), leaf.NotAfter.UTC().Format(time.RFC1123))

	writeName := func(title string, n pkix.Name) {
		fmt.Fprintf(w, "%s:\n\tCommon Name:\t%s\n\tOrganization:\t%s\n\tOrganizationalUnit:\t%s\n\tCountry:\t%s\n\n", title,
			orNone(n.CommonName), oneOrList(n.Organization), oneOrList(n.OrganizationalUnit), oneOrList(n.Country))
	}
	writeName("Issued By", leaf.Issuer)
	writeName("Issued For", leaf.Subject)

	fmt.Fprintf(w, "Certificate:\n\tSigning Algorithm:\t%s\n\tPublic Key Algorithm: \t%s\n\tSerial Number:\t%s\n\tFingerprints: \t%s\n\tIs a CA certificate: %t\n\tCRL:\t%s\n\tOCSP:\t%s\n\tCA Issuers (AIA):\t%s\n\n",
		leaf.SignatureAlgorithm, leaf.PublicKeyAlgorithm, leaf.SerialNumber, fingerprint(leaf), leaf.IsCA,
		oneOrList(leaf.CRLDistributionPoints), oneOrList(leaf.OCSPServer), oneOrList(leaf.IssuingCertificateURL))

	w.WriteString("Chain:\n")
	for i, c := range in.Chain {
		fmt.Fprintf(w, "\t%d: %s (issued by %s), not after %s\n", i, subjectText(c.Subject), subjectText(c.Issuer), c.NotAfter.UTC().Format(time.RFC3339))
	}
	for _, c := range in.CA {
		fmt.Fprintf(w, "\tca.crt: %s (issued by %s), not after %s\n", subjectText(c.Subject), subjectText(c.Issuer), c.NotAfter.UTC().Format(time.RFC3339))
	}
	w.WriteString("\n")

	fmt.Fprintf(w, "Debugging:\n\tTrusted by this computer:\t%s\n", in.trustedBySystem())
	if len(in.CA) > 0 {
		fmt.Fprintf(w, "\tTrusted with ca.crt:\t%s\n", in.trustedWithCA())
	}
	fmt.Fprintf(w, "\tChain in order:\t%s\n", in.chainInOrder())
	fmt.Fprintf(w, "\tValid now:\t%s\n", in.validNow())
	fmt.Fprintf(w, "\tPrivate key matches:\t%s\n", in.keyMatches())
	fmt.Fprintf(w, "\tCRL Status:\t%s\n\tOCSP Status:\t%s\n", in.CRLStatus, in.OCSPStatus)
	return b.String()
}

// intermediates is the pool of tls.crt's certificates after the leaf.
func (in *secretInspection) intermediates() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range in.Chain[1:] {
		p.AddCert(c)
	}
	return p
}

func (in *secretInspection) verify(roots *x509.CertPool) string {
	_, err := in.Chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: in.intermediates(), CurrentTime: in.Now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return "no: " + err.Error()
	}
	return "yes"
}

func (in *secretInspection) trustedBySystem() string {
	if in.SystemRoots == nil {
		if in.SystemRootsErr != nil {
			return "Error getting system CA store: " + in.SystemRootsErr.Error()
		}
		return "Error getting system CA store"
	}
	return in.verify(in.SystemRoots)
}

func (in *secretInspection) trustedWithCA() string {
	roots := x509.NewCertPool()
	for _, c := range in.CA {
		roots.AddCert(c)
	}
	return in.verify(roots)
}

// chainInOrder checks that each certificate of tls.crt is signed by the next one.
func (in *secretInspection) chainInOrder() string {
	for i := 0; i+1 < len(in.Chain); i++ {
		child, parent := in.Chain[i], in.Chain[i+1]
		if err := child.CheckSignatureFrom(parent); err != nil {
			return fmt.Sprintf("no: certificate %d (%s) is not signed by certificate %d (%s): %v", i, subjectText(child.Subject), i+1, subjectText(parent.Subject), err)
		}
	}
	if len(in.Chain) == 1 {
		return "yes (tls.crt holds the leaf only)"
	}
	return fmt.Sprintf("yes (%d certificates, each signed by the next)", len(in.Chain))
}

// validNow checks every certificate of tls.crt against the current time.
func (in *secretInspection) validNow() string {
	for i, c := range in.Chain {
		switch {
		case in.Now.Before(c.NotBefore):
			return fmt.Sprintf("no: certificate %d (%s) is not valid before %s", i, subjectText(c.Subject), c.NotBefore.UTC().Format(time.RFC3339))
		case in.Now.After(c.NotAfter):
			return fmt.Sprintf("no: certificate %d (%s) expired at %s", i, subjectText(c.Subject), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return "yes (expires " + relative(in.Chain[0].NotAfter, in.Now) + ")"
}

func (in *secretInspection) keyMatches() string {
	switch {
	case !in.HasKey:
		return "no private key in the Secret ('tls.key' is not set)"
	case in.KeyErr != nil:
		return "no: 'tls.key' does not parse: " + in.KeyErr.Error()
	case pki.PublicKeysEqual(in.Key, in.Chain[0].PublicKey):
		return "yes"
	}
	return "no: 'tls.key' is not the key of the certificate"
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// subjectText is a distinguished name as RFC 2253 text, or <empty>.
func subjectText(n pkix.Name) string {
	if s := n.String(); s != "" {
		return s
	}
	return "<empty>"
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// tabList formats a list as cmctl's inspect does: <none>, or one "- item" line each.
func tabList(l []string) string {
	if len(l) == 0 {
		return "<none>"
	}
	return "\n\t\t- " + strings.Join(l, "\n\t\t- ")
}

func oneOrList(l []string) string {
	if len(l) == 1 {
		return l[0]
	}
	return tabList(l)
}

// usageNames is the cert-manager names of a certificate's usages.
func usageNames(c *x509.Certificate) []cmapi.KeyUsage {
	return slices.Concat(certpki.KeyUsageNames(c.KeyUsage), certpki.ExtKeyUsageNames(c.ExtKeyUsage))
}
