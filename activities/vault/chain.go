package vault

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	sharedpki "github.com/certflow/certflow/pki"
)

// SplitChain orders what Vault's sign endpoints return (the leaf in certificate, its
// issuers in ca_chain and issuing_ca, in any order, duplicates allowed) as upstream
// stores it: the chain from the leaf up, without a self-signed root, and ca.crt the
// topmost certificate found (the root when Vault returned it; none when no issuer of
// the leaf is among them). Pure.
func SplitChain(leafPEM string, caChain []string, issuingCA string) (chainPEM, caPEM []byte, err error) {
	leaves, err := sharedpki.ParseCertificates([]byte(leafPEM))
	if err != nil {
		return nil, nil, fmt.Errorf("vault returned a certificate that does not parse: %s", sharedpki.SafeErrorMessage(err))
	}
	if len(leaves) == 0 {
		return nil, nil, errors.New("vault returned no certificate")
	}
	pool := leaves[1:] // a "certificate" field with its chain appended
	for _, p := range append(append([]string{}, caChain...), issuingCA) {
		cs, err := sharedpki.ParseCertificates([]byte(p))
		if err != nil {
			return nil, nil, fmt.Errorf("vault returned a CA certificate that does not parse: %s", sharedpki.SafeErrorMessage(err))
		}
		pool = append(pool, cs...)
		if len(pool) > sharedpki.MaxCertificates {
			return nil, nil, fmt.Errorf("vault returned more than %d CA certificates", sharedpki.MaxCertificates)
		}
	}
	chain := []*x509.Certificate{leaves[0]}
	for cur := leaves[0]; !selfSigned(cur); {
		next := issuerOf(cur, pool, chain)
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	if len(chain) == 1 { // no issuer of the leaf among what Vault returned
		return pem.EncodeToMemory(&pem.Block{Type: sharedpki.PEMTypeCertificate, Bytes: leaves[0].Raw}), nil, nil
	}
	top := chain[len(chain)-1]
	body := chain
	if selfSigned(top) {
		body = chain[:len(chain)-1]
	}
	var out bytes.Buffer
	for _, c := range body {
		_ = pem.Encode(&out, &pem.Block{Type: sharedpki.PEMTypeCertificate, Bytes: c.Raw})
	}
	return out.Bytes(), pem.EncodeToMemory(&pem.Block{Type: sharedpki.PEMTypeCertificate, Bytes: top.Raw}), nil
}

// issuerOf is the certificate of pool that signed c and is not in the chain yet.
func issuerOf(c *x509.Certificate, pool, chain []*x509.Certificate) *x509.Certificate {
	for _, p := range pool {
		if inChain(p, chain) || !bytes.Equal(c.RawIssuer, p.RawSubject) {
			continue
		}
		if c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

func inChain(p *x509.Certificate, chain []*x509.Certificate) bool {
	for _, c := range chain {
		if c.Equal(p) {
			return true
		}
	}
	return false
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}
