package localstack

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// keyPair is a certificate with its key, both also kept PEM encoded.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// certSpec describes a certificate to generate.
type certSpec struct {
	cn     string
	org    []string
	dns    []string
	ips    []net.IP
	isCA   bool
	usages []x509.ExtKeyUsage
}

const certValidity = 5 * 365 * 24 * time.Hour

// loadOrCreate returns the pair stored as dir/name.{crt,key} if it is still valid for a
// week and (for leaves) signed by ca; otherwise it generates, stores and returns a new one.
func loadOrCreate(dir, name string, spec certSpec, ca *keyPair) (*keyPair, error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if kp, err := loadKeyPair(certPath, keyPath); err == nil && usable(kp, spec, ca) {
		return kp, nil
	}
	kp, err := newKeyPair(spec, ca)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, kp.keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certPath, kp.certPEM, 0o644); err != nil {
		return nil, err
	}
	return kp, nil
}

func usable(kp *keyPair, spec certSpec, ca *keyPair) bool {
	if time.Until(kp.cert.NotAfter) < 7*24*time.Hour || kp.cert.Subject.CommonName != spec.cn {
		return false
	}
	if ca == nil {
		return kp.cert.IsCA
	}
	return kp.cert.CheckSignatureFrom(ca.cert) == nil
}

func loadKeyPair(certPath, keyPath string) (*keyPair, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("bad PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("key is not a signer")
	}
	return &keyPair{cert: cert, key: signer, certPEM: certPEM, keyPEM: keyPEM}, nil
}

func newKeyPair(spec certSpec, ca *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.cn, Organization: spec.org},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.usages,
	}
	parent, signer := tmpl, crypto.Signer(key)
	if spec.isCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// ensureRSAKey writes an RSA private key (PKCS#8) and its public key (PKIX) to
// privPath/pubPath unless a parseable key is already there.
func ensureRSAKey(privPath, pubPath string) error {
	if b, err := os.ReadFile(privPath); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
				if rk, ok := k.(*rsa.PrivateKey); ok {
					return writePub(pubPath, &rk.PublicKey)
				}
			}
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writePub(pubPath, &key.PublicKey)
}

func writePub(path string, pub *rsa.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}

var loopbackIPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
