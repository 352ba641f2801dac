package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// FuzzParsePrivateKeyPEM: no PEM input makes the key parser panic, its errors never
// quote the input, and a key it accepts encodes back to the same key.
func FuzzParsePrivateKeyPEM(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a seed, not a key in use
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	for _, b := range []*pem.Block{
		{Type: PEMTypeECPrivateKey, Bytes: ecDER},
		{Type: PEMTypeRSAPrivateKey, Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)},
	} {
		f.Add(pem.EncodeToMemory(b))
	}
	for _, k := range []any{ec, rsaKey, ed} {
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		f.Add(pem.EncodeToMemory(&pem.Block{Type: PEMTypePKCS8PrivateKey, Bytes: der}))
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKeyPEM(data)
		if err != nil {
			if len(data) >= 16 && strings.Contains(err.Error(), string(data[:16])) {
				t.Fatalf("error %q quotes the input", err)
			}
			return
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatalf("an accepted %T key does not encode: %v", k, err)
		}
		back, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatalf("an accepted %T key does not parse back: %v", k, err)
		}
		if e, ok := k.(interface{ Equal(crypto.PrivateKey) bool }); ok && !e.Equal(back) {
			t.Fatalf("an accepted %T key changes in a round trip", k)
		}
	})
}
