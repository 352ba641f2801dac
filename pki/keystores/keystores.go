// Package keystores encodes (and decodes back) the extra outputs that a Certificate's
// Secret can carry besides tls.crt, tls.key and ca.crt: PKCS#12 and JKS keystores and
// truststores (spec.keystores) and the DER and combined PEM formats
// (spec.additionalOutputFormats).
//
// The package is pure: it does no I/O and holds no state. Its error messages describe
// what went wrong without quoting key bytes or passwords.
//
// Algorithm support, checked by the tests against the libraries used
// (software.sslmate.com/src/go-pkcs12 and github.com/pavlo-v-chernykh/keystore-go/v4):
// RSA, ECDSA and Ed25519 keys all encode and decode in every format. Both keystore
// formats store the key as PKCS#8, so Ed25519 keystores need a reader that knows
// Ed25519 PKCS#8 keys (Java 15 and later, OpenSSL 1.1.1 and later).
package keystores

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki"
)

// JKS aliases of the CA certificates: the first is "ca", the next "ca-1", "ca-2", ...
const jksCAAlias = "ca"

// jksCertType is the certificate type JKS records for X.509 certificates.
const jksCertType = "X509"

// ErrNoCertificate is returned when a keystore is asked for without a certificate.
var ErrNoCertificate = errors.New("no certificate to put in the keystore")

// DER returns the private key as PKCS#8 DER, what upstream writes to key.der.
func DER(key crypto.Signer) ([]byte, error) {
	key, err := normalizeKey(key)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding %T private key as PKCS#8: unsupported key", key)
	}
	return der, nil
}

// CombinedPEM returns the private key PEM followed by the certificate chain PEM, what
// upstream writes to tls-combined.pem. The key PEM is used as given (so it keeps the
// encoding spec.privateKey.encoding asked for); a newline separates the two when the key
// PEM does not end with one.
func CombinedPEM(keyPEM, chainPEM []byte) []byte {
	out := make([]byte, 0, len(keyPEM)+len(chainPEM)+1)
	out = append(out, keyPEM...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, chainPEM...)
}

// Chain joins the certificates of tls.crt (leaf first) and ca.crt into the chain stored
// with the key in a PKCS#12 keystore, leaving out certificates already in it (a
// self-signed certificate is its own CA).
func Chain(certs, cas []*x509.Certificate) []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(certs)+len(cas))
	for _, c := range append(append([]*x509.Certificate{}, certs...), cas...) {
		if c != nil && !containsCert(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// pkcs12Encoder maps a profile to go-pkcs12's encoder; empty means LegacyRC2, upstream's
// default.
func pkcs12Encoder(profile cmapi.PKCS12Profile) (*pkcs12.Encoder, error) {
	switch profile {
	case "", cmapi.LegacyRC2PKCS12Profile:
		return pkcs12.LegacyRC2, nil
	case cmapi.LegacyDESPKCS12Profile:
		return pkcs12.LegacyDES, nil
	case cmapi.Modern2023PKCS12Profile:
		return pkcs12.Modern2023, nil
	}
	return nil, fmt.Errorf("unknown PKCS#12 profile %q (want %s, %s or %s)", profile,
		cmapi.LegacyRC2PKCS12Profile, cmapi.LegacyDESPKCS12Profile, cmapi.Modern2023PKCS12Profile)
}

// PKCS12 encodes a PKCS#12 keystore (keystore.p12) holding the key and chain: chain[0]
// is the certificate of the key, the rest its issuers (see Chain). The password may be
// empty. profile "" means LegacyRC2.
func PKCS12(key crypto.Signer, chain []*x509.Certificate, password string, profile cmapi.PKCS12Profile) ([]byte, error) {
	enc, err := pkcs12Encoder(profile)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, ErrNoCertificate
	}
	key, err = normalizeKey(key)
	if err != nil {
		return nil, err
	}
	if !pki.PublicKeysEqual(key.Public(), chain[0].PublicKey) {
		return nil, errors.New("the private key does not match the certificate")
	}
	data, err := enc.Encode(key, chain[0], chain[1:], password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12 keystore: %s", pki.SafeErrorMessage(err))
	}
	return data, nil
}

// PKCS12Truststore encodes a PKCS#12 truststore (truststore.p12) trusting the CA
// certificates, marked as Java trust anchors.
func PKCS12Truststore(cas []*x509.Certificate, password string, profile cmapi.PKCS12Profile) ([]byte, error) {
	enc, err := pkcs12Encoder(profile)
	if err != nil {
		return nil, err
	}
	if len(cas) == 0 {
		return nil, ErrNoCertificate
	}
	data, err := enc.EncodeTrustStore(cas, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12 truststore: %s", pki.SafeErrorMessage(err))
	}
	return data, nil
}

// DecodePKCS12 reads a PKCS#12 keystore back: its key and chain (certificate of the
// key first). A wrong password is an error. The file is bounded first (size, key
// derivation iterations), and a panic of the decoder is an error.
func DecodePKCS12(data []byte, password string) (_ crypto.Signer, _ []*x509.Certificate, err error) {
	defer pki.Recover("decoding PKCS#12 keystore", &err)
	if err := checkPKCS12(data); err != nil {
		return nil, nil, fmt.Errorf("decoding PKCS#12 keystore: %w", err)
	}
	key, cert, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding PKCS#12 keystore: %s", pki.SafeErrorMessage(err))
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("decoding PKCS#12 keystore: unsupported key type %T", key)
	}
	return signer, append([]*x509.Certificate{cert}, cas...), nil
}

// DecodePKCS12Truststore reads the certificates of a PKCS#12 truststore.
func DecodePKCS12Truststore(data []byte, password string) (_ []*x509.Certificate, err error) {
	defer pki.Recover("decoding PKCS#12 truststore", &err)
	if err := checkPKCS12(data); err != nil {
		return nil, fmt.Errorf("decoding PKCS#12 truststore: %w", err)
	}
	certs, err := pkcs12.DecodeTrustStore(data, password)
	if err != nil {
		return nil, fmt.Errorf("decoding PKCS#12 truststore: %s", pki.SafeErrorMessage(err))
	}
	return certs, nil
}

// PKCS12ProfileOf tells which profile encoded a PKCS#12 file written by PKCS12 or
// PKCS12Truststore, from its MAC and certificate encryption algorithms. It needs no
// password. A file of another make gives an error.
func PKCS12ProfileOf(data []byte) (cmapi.PKCS12Profile, error) {
	if err := pki.CheckSize("PKCS#12 file", data); err != nil {
		return "", err
	}
	var pfx struct {
		Version  int
		AuthSafe struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"tag:0,explicit"`
		}
		MacData struct {
			Mac struct {
				Algorithm pkix.AlgorithmIdentifier
				Digest    []byte
			}
			MacSalt    []byte
			Iterations int `asn1:"optional,default:1"`
		}
	}
	if err := unmarshalAll(data, &pfx); err != nil {
		return "", fmt.Errorf("reading PKCS#12 structure: %w", err)
	}
	if !pfx.AuthSafe.ContentType.Equal(oidData) {
		return "", errors.New("reading PKCS#12 structure: authSafe is not of type data")
	}
	var authSafeBytes []byte
	if err := unmarshalAll(pfx.AuthSafe.Content.Bytes, &authSafeBytes); err != nil {
		return "", fmt.Errorf("reading PKCS#12 authSafe: %w", err)
	}
	var safes []struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
	}
	if err := unmarshalAll(authSafeBytes, &safes); err != nil {
		return "", fmt.Errorf("reading PKCS#12 safes: %w", err)
	}
	var certAlg asn1.ObjectIdentifier
	for _, s := range safes {
		if !s.ContentType.Equal(oidEncryptedData) {
			continue
		}
		var ed struct {
			Version              int
			EncryptedContentInfo struct {
				ContentType asn1.ObjectIdentifier
				Algorithm   pkix.AlgorithmIdentifier
				Content     asn1.RawValue `asn1:"tag:0,optional"`
			}
		}
		if err := unmarshalAll(s.Content.Bytes, &ed); err != nil {
			return "", fmt.Errorf("reading PKCS#12 encrypted safe: %w", err)
		}
		certAlg = ed.EncryptedContentInfo.Algorithm.Algorithm
		break
	}
	mac := pfx.MacData.Mac.Algorithm.Algorithm
	switch {
	case mac.Equal(oidSHA1) && certAlg.Equal(oidPBEWithSHAAnd40BitRC2CBC):
		return cmapi.LegacyRC2PKCS12Profile, nil
	case mac.Equal(oidSHA1) && certAlg.Equal(oidPBEWithSHAAnd3KeyTripleDESCBC):
		return cmapi.LegacyDESPKCS12Profile, nil
	case mac.Equal(oidSHA256) && certAlg.Equal(oidPBES2):
		return cmapi.Modern2023PKCS12Profile, nil
	}
	return "", fmt.Errorf("PKCS#12 file with MAC %v and certificate encryption %v matches no profile", mac, certAlg)
}

var (
	oidData                          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidSHA1                          = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256                        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidPBEWithSHAAnd40BitRC2CBC      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
	oidPBEWithSHAAnd3KeyTripleDESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBES2                         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
)

func unmarshalAll(data []byte, v any) error {
	rest, err := asn1.Unmarshal(data, v)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("trailing data")
	}
	return nil
}

// JKS encodes a JKS keystore (keystore.jks): a private key entry under alias (empty
// means "certificate") holding the key, encrypted with password, and chain (certificate
// of the key first); and, as upstream, one trusted certificate entry per CA certificate
// ("ca", "ca-1", ...), so the keystore also serves as a truststore. created is the entries'
// creation date (pass the certificate's notBefore to keep the file stable).
func JKS(key crypto.Signer, chain, cas []*x509.Certificate, alias, password string, created time.Time) ([]byte, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, ErrNoCertificate
	}
	if alias == "" {
		alias = cmapi.DefaultKeystoreAlias
	}
	key, err := normalizeKey(key)
	if err != nil {
		return nil, err
	}
	if !pki.PublicKeysEqual(key.Public(), chain[0].PublicKey) {
		return nil, errors.New("the private key does not match the certificate")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding %T private key as PKCS#8: unsupported key", key)
	}
	defer clear(der)
	ks := jks.New(jks.WithOrderedAliases())
	entry := jks.PrivateKeyEntry{CreationTime: created, PrivateKey: der}
	for _, c := range chain {
		entry.CertificateChain = append(entry.CertificateChain, jks.Certificate{Type: jksCertType, Content: c.Raw})
	}
	pw := []byte(password)
	defer clear(pw)
	if err := ks.SetPrivateKeyEntry(alias, entry, pw); err != nil {
		return nil, fmt.Errorf("encoding JKS keystore: %s", pki.SafeErrorMessage(err))
	}
	if err := addTrusted(ks, cas, alias, created); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, pw); err != nil {
		return nil, fmt.Errorf("encoding JKS keystore: %s", pki.SafeErrorMessage(err))
	}
	return buf.Bytes(), nil
}

// JKSTruststore encodes a JKS truststore (truststore.jks) with one trusted certificate
// entry per CA certificate ("ca", "ca-1", ...), integrity-protected with password.
func JKSTruststore(cas []*x509.Certificate, password string, created time.Time) ([]byte, error) {
	if len(cas) == 0 {
		return nil, ErrNoCertificate
	}
	ks := jks.New(jks.WithOrderedAliases())
	if err := addTrusted(ks, cas, "", created); err != nil {
		return nil, err
	}
	pw := []byte(password)
	defer clear(pw)
	var buf bytes.Buffer
	if err := ks.Store(&buf, pw); err != nil {
		return nil, fmt.Errorf("encoding JKS truststore: %s", pki.SafeErrorMessage(err))
	}
	return buf.Bytes(), nil
}

// addTrusted adds the CA certificates as trusted entries, keeping clear of keyAlias
// (JKS aliases are case-insensitive).
func addTrusted(ks jks.KeyStore, cas []*x509.Certificate, keyAlias string, created time.Time) error {
	for i, ca := range cas {
		alias := CAAlias(i)
		if strings.EqualFold(alias, keyAlias) {
			alias += "-trusted"
		}
		err := ks.SetTrustedCertificateEntry(alias, jks.TrustedCertificateEntry{
			CreationTime: created,
			Certificate:  jks.Certificate{Type: jksCertType, Content: ca.Raw},
		})
		if err != nil {
			return fmt.Errorf("adding CA certificate %d to JKS store: %s", i, pki.SafeErrorMessage(err))
		}
	}
	return nil
}

// CAAlias is the JKS alias of the i-th CA certificate: "ca", "ca-1", "ca-2", ...
func CAAlias(i int) string {
	if i == 0 {
		return jksCAAlias
	}
	return fmt.Sprintf("%s-%d", jksCAAlias, i)
}

// JKSContents is what a JKS keystore or truststore holds.
type JKSContents struct {
	// Key and Chain are the private key entry under the alias asked for (nil when absent).
	Key   crypto.Signer
	Chain []*x509.Certificate
	// Trusted are the trusted certificate entries, in alias order.
	Trusted []*x509.Certificate
}

// DecodeJKS reads a JKS keystore or truststore, checking its integrity with password,
// and decrypts the private key entry under alias (empty means "certificate") if there
// is one. The file's structure, length fields and digest are checked before
// keystore-go, which allocates from the length fields as it reads them, decodes it;
// a panic of the decoder is an error.
func DecodeJKS(data []byte, alias, password string) (_ JKSContents, err error) {
	defer pki.Recover("decoding JKS store", &err)
	if alias == "" {
		alias = cmapi.DefaultKeystoreAlias
	}
	pw := []byte(password)
	defer clear(pw)
	if err := checkJKS(data, pw); err != nil {
		return JKSContents{}, fmt.Errorf("decoding JKS store: %w", err)
	}
	ks := jks.New(jks.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), pw); err != nil {
		return JKSContents{}, fmt.Errorf("decoding JKS store: %s", pki.SafeErrorMessage(err))
	}
	var out JKSContents
	for _, a := range ks.Aliases() {
		if !ks.IsTrustedCertificateEntry(a) {
			continue
		}
		e, err := ks.GetTrustedCertificateEntry(a)
		if err != nil {
			return JKSContents{}, fmt.Errorf("decoding JKS store entry %q: %s", a, pki.SafeErrorMessage(err))
		}
		c, err := x509.ParseCertificate(e.Certificate.Content)
		if err != nil {
			return JKSContents{}, fmt.Errorf("decoding JKS store entry %q: %v", a, err)
		}
		out.Trusted = append(out.Trusted, c)
	}
	if !ks.IsPrivateKeyEntry(alias) {
		return out, nil
	}
	e, err := ks.GetPrivateKeyEntry(alias, pw)
	if err != nil {
		return JKSContents{}, fmt.Errorf("decoding JKS private key entry %q: %s", alias, pki.SafeErrorMessage(err))
	}
	defer clear(e.PrivateKey)
	k, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
	if err != nil {
		return JKSContents{}, fmt.Errorf("decoding JKS private key entry %q: not a PKCS#8 key", alias)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return JKSContents{}, fmt.Errorf("decoding JKS private key entry %q: unsupported key type %T", alias, k)
	}
	out.Key = signer
	for i, c := range e.CertificateChain {
		cert, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return JKSContents{}, fmt.Errorf("decoding certificate %d of JKS entry %q: %v", i, alias, err)
		}
		out.Chain = append(out.Chain, cert)
	}
	return out, nil
}

// normalizeKey accepts the key types certflow generates and parses, dereferencing an
// *ed25519.PrivateKey (the libraries want the value).
func normalizeKey(key crypto.Signer) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k == nil {
			return nil, errors.New("no private key")
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil, errors.New("no private key")
		}
		return k, nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("malformed Ed25519 private key")
		}
		return k, nil
	case *ed25519.PrivateKey:
		if k == nil || len(*k) != ed25519.PrivateKeySize {
			return nil, errors.New("malformed Ed25519 private key")
		}
		return *k, nil
	case nil:
		return nil, errors.New("no private key")
	}
	return nil, fmt.Errorf("unsupported private key type %T (want RSA, ECDSA or Ed25519)", key)
}
