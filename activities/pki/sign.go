package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"

	sharedpki "github.com/certflow/certflow/pki"
)

// SignSelfSignedTemplate self-signs tmpl with signer, whose public key must
// be tmpl.PublicKey. The signature algorithm is sigAlg when set, otherwise
// the default for the key (SignatureAlgorithmFor).
func SignSelfSignedTemplate(tmpl *x509.Certificate, signer crypto.Signer, sigAlg x509.SignatureAlgorithm) (*x509.Certificate, error) {
	if !sharedpki.PublicKeysEqual(signer.Public(), tmpl.PublicKey) {
		return nil, keyMismatch("the certificate request was not made with the referenced private key")
	}
	return signTemplate(tmpl, tmpl, signer, sigAlg)
}

// SignTemplateWithCA signs tmpl with the CA certificate and key. The
// signature algorithm is the default for the CA key (as upstream).
func SignTemplateWithCA(tmpl, caCert *x509.Certificate, caKey crypto.Signer) (*x509.Certificate, error) {
	if !sharedpki.PublicKeysEqual(caKey.Public(), caCert.PublicKey) {
		return nil, caErrorf("the CA private key does not match the CA certificate")
	}
	return signTemplate(tmpl, caCert, caKey, x509.UnknownSignatureAlgorithm)
}

func signTemplate(tmpl, parent *x509.Certificate, signer crypto.Signer, sigAlg x509.SignatureAlgorithm) (*x509.Certificate, error) {
	if sigAlg == x509.UnknownSignatureAlgorithm {
		var err error
		if sigAlg, err = SignatureAlgorithmFor("", signer.Public()); err != nil {
			return nil, err
		}
	}
	t := *tmpl
	t.SignatureAlgorithm = sigAlg
	der, err := x509.CreateCertificate(rand.Reader, &t, parent, tmpl.PublicKey, signer)
	if err != nil {
		return nil, csrErrorf("creating certificate: %v", err)
	}
	return x509.ParseCertificate(der)
}

// ChainFor orders the issuer chain of leaf from the candidate CA
// certificates (as held in a CA Secret's tls.crt, leaf-most first) and
// returns, as upstream: chain = leaf followed by its intermediates, without
// a self-signed root; ca = the top-most certificate found (the root, or the
// last intermediate when the root is not present).
func ChainFor(leaf *x509.Certificate, candidates []*x509.Certificate) (chain []*x509.Certificate, ca *x509.Certificate) {
	chain = []*x509.Certificate{leaf}
	cur := leaf
	used := make([]bool, len(candidates))
	for {
		if isSelfSigned(cur) {
			break
		}
		next := -1
		for i, c := range candidates {
			if !used[i] && bytes.Equal(cur.RawIssuer, c.RawSubject) && cur.CheckSignatureFrom(c) == nil {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		cur = candidates[next]
		chain = append(chain, cur)
	}
	ca = chain[len(chain)-1]
	if len(chain) > 1 && isSelfSigned(ca) {
		chain = chain[:len(chain)-1]
	}
	return chain, ca
}

// isSelfSigned reports whether c names itself as issuer and is signed by its
// own key (CheckSignatureFrom would also demand that c be a CA).
func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
