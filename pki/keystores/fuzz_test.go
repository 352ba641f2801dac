package keystores

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// fuzzStores are keystores certflow writes, as seeds: the fuzzer mutates real files.
var fuzzStores = sync.OnceValues(func() (map[string][]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: epoch, NotAfter: epoch.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	chain := []*x509.Certificate{cert}
	if out["jks"], err = JKS(key, chain, chain, "", "changeit", epoch); err != nil {
		return nil, err
	}
	if out["jks-trust"], err = JKSTruststore(chain, "changeit", epoch); err != nil {
		return nil, err
	}
	for _, p := range []cmapi.PKCS12Profile{cmapi.LegacyRC2PKCS12Profile, cmapi.LegacyDESPKCS12Profile, cmapi.Modern2023PKCS12Profile} {
		if out["p12-"+string(p)], err = PKCS12(key, chain, "changeit", p); err != nil {
			return nil, err
		}
		if out["p12-trust-"+string(p)], err = PKCS12Truststore(chain, "changeit", p); err != nil {
			return nil, err
		}
	}
	return out, nil
})

// recovered says whether err is a panic of a decoder that Recover caught: the checks
// before the decoder are meant to leave it nothing to panic on, so the fuzzer must
// report one.
func recovered(err error) bool {
	return err != nil && strings.Contains(err.Error(), "the parser failed with")
}

// FuzzDecodeJKS: no JKS store, however broken, makes DecodeJKS panic (caught or not) or
// hand back more than the bounds allow. Regressions: a key length of 2 GiB, a chain
// count of 4G, an encrypted key too short for keystore-go's decryption.
func FuzzDecodeJKS(f *testing.F) {
	stores, err := fuzzStores()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(stores["jks"], "changeit")
	f.Add(stores["jks-trust"], "changeit")
	for _, data := range hostileJKS(f) {
		f.Add(data, "changeit")
	}
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		c, err := DecodeJKS(data, "", password)
		if recovered(err) {
			t.Fatalf("the JKS decoder panicked: %v", err)
		}
		if err == nil && (len(c.Chain) > maxJKSChain || len(c.Trusted) > maxJKSEntries) {
			t.Fatalf("decoded %d chain and %d trusted certificates", len(c.Chain), len(c.Trusted))
		}
	})
}

// FuzzDecodePKCS12: no PKCS#12 file makes the decoders panic, and none is decoded with
// more key derivation iterations than the bound.
func FuzzDecodePKCS12(f *testing.F) {
	stores, err := fuzzStores()
	if err != nil {
		f.Fatal(err)
	}
	for name, data := range stores {
		if strings.HasPrefix(name, "p12") {
			f.Add(data, "changeit")
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		_, _, err := DecodePKCS12(data, password)
		if recovered(err) {
			t.Fatalf("the PKCS#12 decoder panicked: %v", err)
		}
		_, err = DecodePKCS12Truststore(data, password)
		if recovered(err) {
			t.Fatalf("the PKCS#12 truststore decoder panicked: %v", err)
		}
		_, _ = PKCS12ProfileOf(data)
	})
}
