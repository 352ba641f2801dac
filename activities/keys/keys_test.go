package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki"
)

func assertErrType(t *testing.T, err error, wantType string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected %s error, got nil", wantType)
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("expected ApplicationError %s, got %T: %v", wantType, err, err)
	}
	if appErr.Type() != wantType {
		t.Fatalf("error type = %q, want %q (%v)", appErr.Type(), wantType, err)
	}
	if !appErr.NonRetryable() {
		t.Fatalf("error %v should be non-retryable", err)
	}
}

func TestNormalizeKeySpec(t *testing.T) {
	tests := []struct {
		name    string
		alg     cmapi.PrivateKeyAlgorithm
		size    int
		enc     cmapi.PrivateKeyEncoding
		want    KeySpec
		wantErr bool
	}{
		{name: "all defaults", want: KeySpec{cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS1}},
		{name: "rsa 4096 pkcs8", alg: "RSA", size: 4096, enc: "PKCS8", want: KeySpec{cmapi.RSAKeyAlgorithm, 4096, cmapi.PKCS8}},
		{name: "rsa min", alg: "RSA", size: 2048, want: KeySpec{cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS1}},
		{name: "rsa max", alg: "RSA", size: 8192, want: KeySpec{cmapi.RSAKeyAlgorithm, 8192, cmapi.PKCS1}},
		{name: "rsa odd size in range", alg: "RSA", size: 3072, want: KeySpec{cmapi.RSAKeyAlgorithm, 3072, cmapi.PKCS1}},
		{name: "rsa too small", alg: "RSA", size: 1024, wantErr: true},
		{name: "rsa too large", alg: "RSA", size: 8193, wantErr: true},
		{name: "rsa negative", alg: "RSA", size: -1, wantErr: true},
		{name: "ecdsa default", alg: "ECDSA", want: KeySpec{cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1}},
		{name: "ecdsa 384", alg: "ECDSA", size: 384, want: KeySpec{cmapi.ECDSAKeyAlgorithm, 384, cmapi.PKCS1}},
		{name: "ecdsa 521 pkcs8", alg: "ECDSA", size: 521, enc: "PKCS8", want: KeySpec{cmapi.ECDSAKeyAlgorithm, 521, cmapi.PKCS8}},
		{name: "ecdsa 512 invalid", alg: "ECDSA", size: 512, wantErr: true},
		{name: "ecdsa 2048 invalid", alg: "ECDSA", size: 2048, wantErr: true},
		{name: "ed25519 size ignored, always pkcs8", alg: "Ed25519", size: 4096, enc: "PKCS1", want: KeySpec{cmapi.Ed25519KeyAlgorithm, 0, cmapi.PKCS8}},
		{name: "case insensitive", alg: "ecdsa", size: 384, enc: "pkcs8", want: KeySpec{cmapi.ECDSAKeyAlgorithm, 384, cmapi.PKCS8}},
		{name: "case insensitive ed25519", alg: "ED25519", want: KeySpec{cmapi.Ed25519KeyAlgorithm, 0, cmapi.PKCS8}},
		{name: "unknown algorithm", alg: "DSA", wantErr: true},
		{name: "unknown encoding", alg: "RSA", enc: "PKCS12", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeKeySpec(tc.alg, tc.size, tc.enc)
			if tc.wantErr {
				assertErrType(t, err, ErrTypeInvalidPrivateKeySpec)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestGenerateEncodeParse(t *testing.T) {
	tests := []struct {
		alg         cmapi.PrivateKeyAlgorithm
		size        int
		enc         cmapi.PrivateKeyEncoding
		wantPEMType string
		wantEnc     cmapi.PrivateKeyEncoding
		wantSize    int
	}{
		{cmapi.RSAKeyAlgorithm, 0, cmapi.PKCS1, PEMTypeRSAPrivateKey, cmapi.PKCS1, 2048},
		{cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS8, PEMTypePKCS8PrivateKey, cmapi.PKCS8, 2048},
		{cmapi.RSAKeyAlgorithm, 3072, "", PEMTypeRSAPrivateKey, cmapi.PKCS1, 3072},
		{cmapi.ECDSAKeyAlgorithm, 0, cmapi.PKCS1, PEMTypeECPrivateKey, cmapi.PKCS1, 256},
		{cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS8, PEMTypePKCS8PrivateKey, cmapi.PKCS8, 256},
		{cmapi.ECDSAKeyAlgorithm, 384, cmapi.PKCS1, PEMTypeECPrivateKey, cmapi.PKCS1, 384},
		{cmapi.ECDSAKeyAlgorithm, 384, cmapi.PKCS8, PEMTypePKCS8PrivateKey, cmapi.PKCS8, 384},
		{cmapi.ECDSAKeyAlgorithm, 521, cmapi.PKCS1, PEMTypeECPrivateKey, cmapi.PKCS1, 521},
		{cmapi.ECDSAKeyAlgorithm, 521, cmapi.PKCS8, PEMTypePKCS8PrivateKey, cmapi.PKCS8, 521},
		{cmapi.Ed25519KeyAlgorithm, 0, cmapi.PKCS1, PEMTypePKCS8PrivateKey, cmapi.PKCS8, 0},
		{cmapi.Ed25519KeyAlgorithm, 0, cmapi.PKCS8, PEMTypePKCS8PrivateKey, cmapi.PKCS8, 0},
	}
	for _, tc := range tests {
		name := string(tc.alg) + "-" + string(tc.enc)
		t.Run(name, func(t *testing.T) {
			spec, err := NormalizeKeySpec(tc.alg, tc.size, tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := GenerateKey(spec)
			if err != nil {
				t.Fatal(err)
			}
			// EncodePrivateKey with the requested (not normalised)
			// encoding: Ed25519 must still come out as PKCS#8.
			pemBytes, err := EncodePrivateKey(signer, tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(pemBytes)
			if block == nil || len(rest) != 0 {
				t.Fatalf("bad PEM output")
			}
			if block.Type != tc.wantPEMType {
				t.Fatalf("PEM type %q, want %q", block.Type, tc.wantPEMType)
			}
			parsed, enc, err := parsePrivateKeyPEM(pemBytes)
			if err != nil {
				t.Fatal(err)
			}
			if enc != tc.wantEnc {
				t.Fatalf("parsed encoding %q, want %q", enc, tc.wantEnc)
			}
			if !pki.PublicKeysEqual(parsed.Public(), signer.Public()) {
				t.Fatal("parsed key differs from generated key")
			}
			alg, size, err := KeySpecOf(parsed)
			if err != nil || alg != tc.alg || size != tc.wantSize {
				t.Fatalf("KeySpecOf = %v %d %v, want %v %d", alg, size, err, tc.alg, tc.wantSize)
			}
			if !KeyMatchesSpec(parsed, tc.alg, tc.size) {
				t.Fatal("KeyMatchesSpec false for its own spec")
			}
			if PublicKeySHA256(parsed.Public()) != PublicKeySHA256(signer.Public()) || PublicKeySHA256(parsed.Public()) == "" {
				t.Fatal("public key hash mismatch")
			}
		})
	}
}

func TestGenerateKeyInvalid(t *testing.T) {
	_, err := GenerateKey(KeySpec{Algorithm: "RSA", Size: 512})
	assertErrType(t, err, ErrTypeInvalidPrivateKeySpec)
	_, err = GenerateKey(KeySpec{Algorithm: "X25519"})
	assertErrType(t, err, ErrTypeInvalidPrivateKeySpec)
}

func TestEncodePrivateKeyErrors(t *testing.T) {
	k := mustKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	_, err := EncodePrivateKey(k, "PEM")
	assertErrType(t, err, ErrTypeInvalidPrivateKeySpec)
	var edPtr *ed25519.PrivateKey
	_, err = EncodePrivateKey(edPtr, cmapi.PKCS8)
	assertErrType(t, err, ErrTypeInvalidPrivateKey)
}

func mustKey(t *testing.T, alg cmapi.PrivateKeyAlgorithm, size int) crypto.Signer {
	t.Helper()
	k, err := GenerateKey(KeySpec{Algorithm: alg, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyMatchesSpec(t *testing.T) {
	rsa2048 := mustKey(t, cmapi.RSAKeyAlgorithm, 2048)
	ec256 := mustKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	ec384 := mustKey(t, cmapi.ECDSAKeyAlgorithm, 384)
	ed := mustKey(t, cmapi.Ed25519KeyAlgorithm, 0)
	tests := []struct {
		name   string
		signer crypto.Signer
		alg    cmapi.PrivateKeyAlgorithm
		size   int
		want   bool
	}{
		{"rsa default", rsa2048, "", 0, true},
		{"rsa explicit", rsa2048, cmapi.RSAKeyAlgorithm, 2048, true},
		{"rsa wrong size", rsa2048, cmapi.RSAKeyAlgorithm, 4096, false},
		{"rsa vs ecdsa", rsa2048, cmapi.ECDSAKeyAlgorithm, 0, false},
		{"ec256 default size", ec256, cmapi.ECDSAKeyAlgorithm, 0, true},
		{"ec256 vs 384", ec256, cmapi.ECDSAKeyAlgorithm, 384, false},
		{"ec384", ec384, cmapi.ECDSAKeyAlgorithm, 384, true},
		{"ec384 vs default", ec384, cmapi.ECDSAKeyAlgorithm, 0, false},
		{"ec vs rsa default", ec256, "", 0, false},
		{"ed25519", ed, cmapi.Ed25519KeyAlgorithm, 0, true},
		{"ed25519 size ignored", ed, cmapi.Ed25519KeyAlgorithm, 256, true},
		{"ed25519 vs rsa", ed, cmapi.RSAKeyAlgorithm, 0, false},
		{"invalid spec matches nothing", rsa2048, cmapi.RSAKeyAlgorithm, 1024, false},
		{"unknown algorithm", rsa2048, "DSA", 0, false},
	}
	for _, tc := range tests {
		if got := KeyMatchesSpec(tc.signer, tc.alg, tc.size); got != tc.want {
			t.Errorf("%s: KeyMatchesSpec = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPublicKeySHA256(t *testing.T) {
	k := mustKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if got, want := PublicKeySHA256(k.Public()), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	if got := PublicKeySHA256(struct{}{}); got != "" {
		t.Fatalf("unsupported key gave %q", got)
	}
	other := mustKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	if PublicKeySHA256(k.Public()) == PublicKeySHA256(other.Public()) {
		t.Fatal("two keys with the same hash")
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	k := mustKey(t, cmapi.ECDSAKeyAlgorithm, 256)
	keyPEM, err := EncodePrivateKey(k, cmapi.PKCS8)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	keyB64 := base64.StdEncoding.EncodeToString(block.Bytes)

	// A certificate block before the key is skipped.
	certBlock := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not really a cert")})
	signer, err := ParsePrivateKeyPEM(append(certBlock, keyPEM...))
	if err != nil {
		t.Fatal(err)
	}
	if !pki.PublicKeysEqual(signer.Public(), k.Public()) {
		t.Fatal("wrong key parsed")
	}
	if _, ok := signer.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("got %T", signer)
	}

	corrupt := func(typ string) []byte {
		b := append([]byte(nil), block.Bytes...)
		b = b[:len(b)/2]
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})
	}
	bad := map[string][]byte{
		"empty":            nil,
		"not pem":          []byte("hello"),
		"only certificate": certBlock,
		"truncated pkcs8":  corrupt(PEMTypePKCS8PrivateKey),
		"truncated pkcs1":  corrupt(PEMTypeRSAPrivateKey),
		"truncated ec":     corrupt(PEMTypeECPrivateKey),
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePrivateKeyPEM(data)
			assertErrType(t, err, ErrTypeInvalidPrivateKey)
			if strings.Contains(err.Error(), keyB64[:16]) || strings.Contains(err.Error(), "BEGIN") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

func TestRSAPKCS8RoundTripType(t *testing.T) {
	k := mustKey(t, cmapi.RSAKeyAlgorithm, 2048)
	for _, enc := range []cmapi.PrivateKeyEncoding{cmapi.PKCS1, cmapi.PKCS8} {
		p, err := EncodePrivateKey(k, enc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParsePrivateKeyPEM(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*rsa.PrivateKey); !ok {
			t.Fatalf("%s: got %T", enc, s)
		}
	}
}
