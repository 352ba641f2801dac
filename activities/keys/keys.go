// Package keys generates, stores and loads private keys for certflow.
//
// The activities in this package write private keys into Kubernetes Secrets
// and hand workflows a KeyRef: a reference (namespace, Secret name, data key)
// plus public facts about the key. Private key bytes never leave an activity,
// never enter a workflow history and never appear in an error message.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki"
)

// PEM block types.
const (
	PEMTypeRSAPrivateKey   = "RSA PRIVATE KEY" // PKCS#1
	PEMTypeECPrivateKey    = "EC PRIVATE KEY"  // SEC 1, called PKCS1 by the API
	PEMTypePKCS8PrivateKey = "PRIVATE KEY"     // PKCS#8
)

// Key size limits and defaults, as upstream.
const (
	DefaultRSAKeySize   = 2048
	MinRSAKeySize       = 2048
	MaxRSAKeySize       = 8192
	DefaultECDSAKeySize = 256
)

// KeySpec is a normalised, validated private key specification.
type KeySpec struct {
	Algorithm cmapi.PrivateKeyAlgorithm
	// Size is the RSA modulus length or the ECDSA curve size in bits; it is
	// 0 for Ed25519, whose size is fixed.
	Size     int
	Encoding cmapi.PrivateKeyEncoding
}

// NormalizeKeySpec applies upstream's defaults (RSA, 2048 bits for RSA, P-256
// for ECDSA, PKCS1) and validates the result. Algorithm and encoding names
// are matched case-insensitively and returned in their canonical spelling.
// Ed25519 keys ignore the size, as upstream, and are always PKCS#8 encoded, so
// the returned encoding is PKCS8 for them. Invalid specs give a
// non-retryable "InvalidPrivateKeySpec" application error.
func NormalizeKeySpec(algorithm cmapi.PrivateKeyAlgorithm, size int, encoding cmapi.PrivateKeyEncoding) (KeySpec, error) {
	alg, err := canonicalAlgorithm(algorithm)
	if err != nil {
		return KeySpec{}, err
	}
	enc, err := canonicalEncoding(encoding)
	if err != nil {
		return KeySpec{}, err
	}
	switch alg {
	case cmapi.RSAKeyAlgorithm:
		if size == 0 {
			size = DefaultRSAKeySize
		}
		if size < MinRSAKeySize || size > MaxRSAKeySize {
			return KeySpec{}, invalidSpec(fmt.Sprintf("RSA key size must be between %d and %d bits, got %d", MinRSAKeySize, MaxRSAKeySize, size))
		}
	case cmapi.ECDSAKeyAlgorithm:
		if size == 0 {
			size = DefaultECDSAKeySize
		}
		if _, err := curveForSize(size); err != nil {
			return KeySpec{}, err
		}
	case cmapi.Ed25519KeyAlgorithm:
		size = 0
		enc = cmapi.PKCS8
	}
	return KeySpec{Algorithm: alg, Size: size, Encoding: enc}, nil
}

func canonicalAlgorithm(a cmapi.PrivateKeyAlgorithm) (cmapi.PrivateKeyAlgorithm, error) {
	switch {
	case a == "":
		return cmapi.RSAKeyAlgorithm, nil
	case strings.EqualFold(string(a), string(cmapi.RSAKeyAlgorithm)):
		return cmapi.RSAKeyAlgorithm, nil
	case strings.EqualFold(string(a), string(cmapi.ECDSAKeyAlgorithm)):
		return cmapi.ECDSAKeyAlgorithm, nil
	case strings.EqualFold(string(a), string(cmapi.Ed25519KeyAlgorithm)):
		return cmapi.Ed25519KeyAlgorithm, nil
	}
	return "", invalidSpec(fmt.Sprintf("unsupported private key algorithm %q (want RSA, ECDSA or Ed25519)", string(a)))
}

func canonicalEncoding(e cmapi.PrivateKeyEncoding) (cmapi.PrivateKeyEncoding, error) {
	switch {
	case e == "":
		return cmapi.PKCS1, nil
	case strings.EqualFold(string(e), string(cmapi.PKCS1)):
		return cmapi.PKCS1, nil
	case strings.EqualFold(string(e), string(cmapi.PKCS8)):
		return cmapi.PKCS8, nil
	}
	return "", invalidSpec(fmt.Sprintf("unsupported private key encoding %q (want PKCS1 or PKCS8)", string(e)))
}

func curveForSize(size int) (elliptic.Curve, error) {
	switch size {
	case 256:
		return elliptic.P256(), nil
	case 384:
		return elliptic.P384(), nil
	case 521:
		return elliptic.P521(), nil
	}
	return nil, invalidSpec(fmt.Sprintf("ECDSA key size must be 256, 384 or 521, got %d", size))
}

// GenerateKey generates a new private key for a normalised spec (see
// NormalizeKeySpec; an unnormalised spec is normalised first).
func GenerateKey(spec KeySpec) (crypto.Signer, error) {
	spec, err := NormalizeKeySpec(spec.Algorithm, spec.Size, spec.Encoding)
	if err != nil {
		return nil, err
	}
	switch spec.Algorithm {
	case cmapi.RSAKeyAlgorithm:
		k, err := rsa.GenerateKey(rand.Reader, spec.Size)
		if err != nil {
			return nil, fmt.Errorf("generating %d-bit RSA key: %w", spec.Size, err)
		}
		return k, nil
	case cmapi.ECDSAKeyAlgorithm:
		curve, err := curveForSize(spec.Size)
		if err != nil {
			return nil, err
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating ECDSA P-%d key: %w", spec.Size, err)
		}
		return k, nil
	default: // Ed25519
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating Ed25519 key: %w", err)
		}
		return k, nil
	}
}

// EncodePrivateKey PEM-encodes a private key. PKCS1 gives an "RSA PRIVATE
// KEY" block for RSA and an "EC PRIVATE KEY" (SEC 1) block for ECDSA, as
// upstream; Ed25519 keys are always encoded as PKCS#8 ("PRIVATE KEY"). An
// empty encoding means PKCS1.
func EncodePrivateKey(signer crypto.Signer, encoding cmapi.PrivateKeyEncoding) ([]byte, error) {
	enc, err := canonicalEncoding(encoding)
	if err != nil {
		return nil, err
	}
	var block *pem.Block
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		if enc == cmapi.PKCS1 {
			block = &pem.Block{Type: PEMTypeRSAPrivateKey, Bytes: x509.MarshalPKCS1PrivateKey(k)}
		}
	case *ecdsa.PrivateKey:
		if enc == cmapi.PKCS1 {
			der, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				return nil, invalidKey("encoding ECDSA private key: unsupported curve")
			}
			block = &pem.Block{Type: PEMTypeECPrivateKey, Bytes: der}
		}
	case ed25519.PrivateKey:
		// always PKCS#8
	case *ed25519.PrivateKey:
		if k == nil {
			return nil, invalidKey("nil Ed25519 private key")
		}
		signer = *k
	default:
		return nil, invalidKey(fmt.Sprintf("unsupported private key type %T", signer))
	}
	if block == nil {
		der, err := x509.MarshalPKCS8PrivateKey(signer)
		if err != nil {
			return nil, invalidKey(fmt.Sprintf("encoding %T private key as PKCS#8 failed", signer))
		}
		block = &pem.Block{Type: PEMTypePKCS8PrivateKey, Bytes: der}
	}
	return pem.EncodeToMemory(block), nil
}

// ParsePrivateKeyPEM parses the first PEM block holding a private key in
// data: PKCS#1 RSA, SEC 1 EC or PKCS#8 (RSA, ECDSA, Ed25519). Error messages
// never include key material.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	signer, _, err := parsePrivateKeyPEM(data)
	return signer, err
}

// parsePrivateKeyPEM is ParsePrivateKeyPEM that also reports the encoding
// found (PKCS1 for "RSA PRIVATE KEY" and "EC PRIVATE KEY" blocks).
func parsePrivateKeyPEM(data []byte) (crypto.Signer, cmapi.PrivateKeyEncoding, error) {
	if err := pki.CheckSize("PEM private key", data); err != nil {
		return nil, "", invalidKey(err.Error())
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, "", invalidKey("no PEM-encoded private key found")
		}
		switch block.Type {
		case PEMTypeRSAPrivateKey:
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, "", invalidKey("parsing PKCS#1 RSA private key: " + pki.SafeErrorMessage(err))
			}
			return k, cmapi.PKCS1, nil
		case PEMTypeECPrivateKey:
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, "", invalidKey("parsing EC private key: " + pki.SafeErrorMessage(err))
			}
			return k, cmapi.PKCS1, nil
		case PEMTypePKCS8PrivateKey:
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, "", invalidKey("parsing PKCS#8 private key: " + pki.SafeErrorMessage(err))
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				return k, cmapi.PKCS8, nil
			case *ecdsa.PrivateKey:
				return k, cmapi.PKCS8, nil
			case ed25519.PrivateKey:
				return k, cmapi.PKCS8, nil
			default:
				return nil, "", invalidKey(fmt.Sprintf("unsupported PKCS#8 private key type %T", k))
			}
		}
		// Skip other blocks (certificates, parameters) and keep looking.
	}
}

// KeySpecOf describes an existing private key: its algorithm and size (RSA
// modulus bits, ECDSA curve bits, 0 for Ed25519).
func KeySpecOf(signer crypto.Signer) (cmapi.PrivateKeyAlgorithm, int, error) {
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		return cmapi.RSAKeyAlgorithm, k.N.BitLen(), nil
	case *ecdsa.PrivateKey:
		return cmapi.ECDSAKeyAlgorithm, k.Curve.Params().BitSize, nil
	case ed25519.PrivateKey, *ed25519.PrivateKey:
		return cmapi.Ed25519KeyAlgorithm, 0, nil
	}
	return "", 0, invalidKey(fmt.Sprintf("unsupported private key type %T", signer))
}

// KeyMatchesSpec reports whether signer is a key of the given algorithm and
// size, with upstream's defaults applied (empty algorithm = RSA, size 0 =
// 2048 for RSA and 256 for ECDSA; the size is ignored for Ed25519). An
// invalid spec matches nothing.
func KeyMatchesSpec(signer crypto.Signer, algorithm cmapi.PrivateKeyAlgorithm, size int) bool {
	spec, err := NormalizeKeySpec(algorithm, size, "")
	if err != nil {
		return false
	}
	alg, gotSize, err := KeySpecOf(signer)
	if err != nil {
		return false
	}
	return alg == spec.Algorithm && gotSize == spec.Size
}

// PublicKeySHA256 returns the lowercase hex SHA-256 of the PKIX (DER
// SubjectPublicKeyInfo) encoding of pub, or "" if pub cannot be encoded.
func PublicKeySHA256(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
