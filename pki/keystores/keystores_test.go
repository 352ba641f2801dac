package keystores

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki"

	"github.com/certflow/certflow/pki/pkitest"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// chainFixture is a leaf issued by an intermediate issued by a root, plus a self-signed
// certificate, for one leaf key.
type chainFixture struct {
	key                    crypto.Signer
	leaf, inter, root      *x509.Certificate
	selfSigned             *x509.Certificate
	rootKey, interKey      crypto.Signer
	leafKeyPEM, leafCrtPEM []byte
}

func newKey(t *testing.T, alg string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "RSA":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ECDSA":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t *testing.T, serial int64, cn string, isCA bool, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             epoch,
		NotAfter:              epoch.Add(24 * time.Hour),
		IsCA:                  isCA,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		DNSNames:              []string{cn},
	}
	return pkitest.Issue(t, tmpl, parent, pub, signer)
}

func newFixture(t *testing.T, alg string) chainFixture {
	t.Helper()
	f := chainFixture{key: newKey(t, alg), rootKey: newKey(t, "ECDSA"), interKey: newKey(t, "ECDSA")}
	f.root = issue(t, 1, "root", true, f.rootKey.Public(), nil, f.rootKey)
	f.inter = issue(t, 2, "intermediate", true, f.interKey.Public(), f.root, f.rootKey)
	f.leaf = issue(t, 3, "leaf.example.com", false, f.key.Public(), f.inter, f.interKey)
	f.selfSigned = issue(t, 4, "self.example.com", true, f.key.Public(), nil, f.key)
	der, err := x509.MarshalPKCS8PrivateKey(f.key)
	if err != nil {
		t.Fatal(err)
	}
	f.leafKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, c := range []*x509.Certificate{f.leaf, f.inter} {
		f.leafCrtPEM = append(f.leafCrtPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return f
}

var algorithms = []string{"RSA", "ECDSA", "Ed25519"}

func names(cs []*x509.Certificate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Subject.CommonName)
	}
	return out
}

func TestDER(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			der, err := DER(f.key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				t.Fatalf("key.der is not PKCS#8: %v", err)
			}
			if !pki.PrivateKeysEqual(f.key, got) {
				t.Errorf("key.der decodes to another key")
			}
			again, _ := DER(f.key)
			if !bytes.Equal(der, again) {
				t.Errorf("DER is not deterministic")
			}
		})
	}
	if _, err := DER(nil); err == nil {
		t.Errorf("DER(nil) succeeded")
	}
	ek := newKey(t, "Ed25519").(ed25519.PrivateKey)
	if _, err := DER(&ek); err != nil {
		t.Errorf("DER(*ed25519.PrivateKey): %v", err)
	}
}

func TestCombinedPEM(t *testing.T) {
	f := newFixture(t, "ECDSA")
	for name, keyPEM := range map[string][]byte{
		"trailing newline":    f.leafKeyPEM,
		"no trailing newline": bytes.TrimRight(f.leafKeyPEM, "\n"),
	} {
		t.Run(name, func(t *testing.T) {
			out := CombinedPEM(keyPEM, f.leafCrtPEM)
			var types []string
			var blocks []*pem.Block
			for rest := out; ; {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					if len(bytes.TrimSpace(rest)) > 0 {
						t.Fatalf("trailing garbage after PEM blocks")
					}
					break
				}
				types = append(types, b.Type)
				blocks = append(blocks, b)
			}
			if strings.Join(types, ",") != "PRIVATE KEY,CERTIFICATE,CERTIFICATE" {
				t.Fatalf("blocks %v, want key then leaf and intermediate", types)
			}
			k, err := x509.ParsePKCS8PrivateKey(blocks[0].Bytes)
			if err != nil || !pki.PrivateKeysEqual(f.key, k) {
				t.Errorf("first block is not the key (%v)", err)
			}
			if !bytes.Equal(blocks[1].Bytes, f.leaf.Raw) || !bytes.Equal(blocks[2].Bytes, f.inter.Raw) {
				t.Errorf("certificates are not leaf, intermediate")
			}
			if !bytes.HasPrefix(out, keyPEM) || !bytes.HasSuffix(out, f.leafCrtPEM) {
				t.Errorf("combined PEM is not the key PEM followed by the chain PEM")
			}
		})
	}
}

func TestChain(t *testing.T) {
	f := newFixture(t, "ECDSA")
	if got := Chain([]*x509.Certificate{f.leaf, f.inter}, []*x509.Certificate{f.root}); !pki.CertificatesEqual(got, []*x509.Certificate{f.leaf, f.inter, f.root}) {
		t.Errorf("Chain = %v, want leaf, intermediate, root", names(got))
	}
	// A self-signed certificate is its own CA: once is enough.
	if got := Chain([]*x509.Certificate{f.selfSigned}, []*x509.Certificate{f.selfSigned}); !pki.CertificatesEqual(got, []*x509.Certificate{f.selfSigned}) {
		t.Errorf("Chain of a self-signed certificate = %v", names(got))
	}
	// The CA already at the end of tls.crt is not repeated.
	if got := Chain([]*x509.Certificate{f.leaf, f.inter, f.root}, []*x509.Certificate{f.root}); len(got) != 3 {
		t.Errorf("Chain repeated the root: %v", names(got))
	}
}

func TestPKCS12(t *testing.T) {
	profiles := []cmapi.PKCS12Profile{"", cmapi.LegacyRC2PKCS12Profile, cmapi.LegacyDESPKCS12Profile, cmapi.Modern2023PKCS12Profile}
	for _, alg := range algorithms {
		f := newFixture(t, alg)
		for _, profile := range profiles {
			for _, password := range []string{"s3cr3t-päss", ""} {
				name := alg + "/" + string(profile) + "/password=" + map[bool]string{true: "set", false: "empty"}[password != ""]
				t.Run(name, func(t *testing.T) {
					chain := Chain([]*x509.Certificate{f.leaf, f.inter}, []*x509.Certificate{f.root})
					data, err := PKCS12(f.key, chain, password, profile)
					if err != nil {
						t.Fatal(err)
					}
					key, got, err := DecodePKCS12(data, password)
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					if !pki.PrivateKeysEqual(f.key, key) {
						t.Errorf("keystore key differs")
					}
					if !pki.CertificatesEqual(got, chain) {
						t.Errorf("keystore chain %v, want %v", names(got), names(chain))
					}
					if _, _, err := DecodePKCS12(data, password+"x"); err == nil {
						t.Errorf("decoding with a wrong password succeeded")
					} else if password != "" && strings.Contains(err.Error(), password) {
						t.Errorf("error quotes the password: %v", err)
					}
					want := profile
					if want == "" {
						want = cmapi.LegacyRC2PKCS12Profile
					}
					if p, err := PKCS12ProfileOf(data); err != nil || p != want {
						t.Errorf("PKCS12ProfileOf = %q, %v; want %q", p, err, want)
					}
					again, err := PKCS12(f.key, chain, password, profile)
					if err != nil || bytes.Equal(again, data) {
						t.Errorf("second encoding: err %v, identical bytes %v (salts should be random)", err, bytes.Equal(again, data))
					}

					ts, err := PKCS12Truststore([]*x509.Certificate{f.root, f.inter}, password, profile)
					if err != nil {
						t.Fatal(err)
					}
					cas, err := DecodePKCS12Truststore(ts, password)
					if err != nil {
						t.Fatalf("decode truststore: %v", err)
					}
					if !pki.CertificatesEqual(cas, []*x509.Certificate{f.root, f.inter}) {
						t.Errorf("truststore holds %v, want root, intermediate", names(cas))
					}
					if _, err := DecodePKCS12Truststore(ts, password+"x"); err == nil {
						t.Errorf("decoding the truststore with a wrong password succeeded")
					}
					if p, err := PKCS12ProfileOf(ts); err != nil || p != want {
						t.Errorf("PKCS12ProfileOf(truststore) = %q, %v; want %q", p, err, want)
					}
				})
			}
		}
	}
}

func TestPKCS12SelfSigned(t *testing.T) {
	f := newFixture(t, "ECDSA")
	data, err := PKCS12(f.key, Chain([]*x509.Certificate{f.selfSigned}, []*x509.Certificate{f.selfSigned}), "pw", cmapi.Modern2023PKCS12Profile)
	if err != nil {
		t.Fatal(err)
	}
	_, chain, err := DecodePKCS12(data, "pw")
	if err != nil || !pki.CertificatesEqual(chain, []*x509.Certificate{f.selfSigned}) {
		t.Errorf("self-signed keystore chain %v (%v), want the certificate once", names(chain), err)
	}
}

func TestPKCS12Errors(t *testing.T) {
	f := newFixture(t, "ECDSA")
	other := newFixture(t, "ECDSA")
	if _, err := PKCS12(f.key, []*x509.Certificate{f.leaf}, "pw", "Modern2099"); err == nil || !strings.Contains(err.Error(), "Modern2099") {
		t.Errorf("unknown profile: %v", err)
	}
	if _, err := PKCS12(f.key, nil, "pw", ""); err == nil {
		t.Errorf("no certificate: no error")
	}
	if _, err := PKCS12(f.key, []*x509.Certificate{other.leaf}, "pw", ""); err == nil {
		t.Errorf("mismatched key and certificate: no error")
	}
	if _, err := PKCS12Truststore(nil, "pw", ""); err == nil {
		t.Errorf("empty truststore: no error")
	}
	if _, err := PKCS12ProfileOf([]byte("not a pkcs12 file")); err == nil {
		t.Errorf("PKCS12ProfileOf(garbage): no error")
	}
	if _, _, err := DecodePKCS12([]byte("garbage"), "pw"); err == nil {
		t.Errorf("DecodePKCS12(garbage): no error")
	}
}

func TestJKS(t *testing.T) {
	for _, alg := range algorithms {
		f := newFixture(t, alg)
		for _, alias := range []string{"", "my-server", "CA"} {
			t.Run(alg+"/alias="+alias, func(t *testing.T) {
				chain := []*x509.Certificate{f.leaf, f.inter}
				cas := []*x509.Certificate{f.root}
				data, err := JKS(f.key, chain, cas, alias, "changeit", epoch)
				if err != nil {
					t.Fatal(err)
				}
				got, err := DecodeJKS(data, alias, "changeit")
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if got.Key == nil || !pki.PrivateKeysEqual(f.key, got.Key) {
					t.Errorf("keystore key differs")
				}
				if !pki.CertificatesEqual(got.Chain, chain) {
					t.Errorf("keystore chain %v, want leaf, intermediate", names(got.Chain))
				}
				if !pki.CertificatesEqual(got.Trusted, cas) {
					t.Errorf("keystore trusted entries %v, want root", names(got.Trusted))
				}
				if _, err := DecodeJKS(data, alias, "wrong"); err == nil {
					t.Errorf("decoding with a wrong password succeeded")
				} else if strings.Contains(err.Error(), "changeit") {
					t.Errorf("error quotes the password: %v", err)
				}
				if other, err := DecodeJKS(data, "no-such-alias", "changeit"); err != nil || other.Key != nil {
					t.Errorf("another alias: key %v, err %v; want no key entry", other.Key != nil, err)
				}
			})
		}
	}
}

func TestJKSTruststore(t *testing.T) {
	f := newFixture(t, "RSA")
	cas := []*x509.Certificate{f.root, f.inter}
	data, err := JKSTruststore(cas, "changeit", epoch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeJKS(data, "", "changeit")
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != nil || !pki.CertificatesEqual(got.Trusted, cas) {
		t.Errorf("truststore: key %v, trusted %v; want no key, root and intermediate", got.Key != nil, names(got.Trusted))
	}
	if _, err := DecodeJKS(data, "", "wrong"); err == nil {
		t.Errorf("decoding with a wrong password succeeded")
	}
	// Fixed inputs and creation time give the same truststore: it holds no random salt.
	again, _ := JKSTruststore(cas, "changeit", epoch)
	if !bytes.Equal(again, data) {
		t.Errorf("JKS truststore is not deterministic")
	}
	if _, err := JKSTruststore(nil, "changeit", epoch); err == nil {
		t.Errorf("empty truststore: no error")
	}
}

func TestJKSErrors(t *testing.T) {
	f := newFixture(t, "ECDSA")
	other := newFixture(t, "ECDSA")
	if _, err := JKS(f.key, nil, nil, "", "pw", epoch); err == nil {
		t.Errorf("no certificate: no error")
	}
	if _, err := JKS(f.key, []*x509.Certificate{other.leaf}, nil, "", "pw", epoch); err == nil {
		t.Errorf("mismatched key and certificate: no error")
	}
	if _, err := DecodeJKS([]byte("garbage"), "", "pw"); err == nil {
		t.Errorf("DecodeJKS(garbage): no error")
	}
}

func TestCAAlias(t *testing.T) {
	if CAAlias(0) != "ca" || CAAlias(1) != "ca-1" || CAAlias(12) != "ca-12" {
		t.Errorf("CAAlias: %q %q %q", CAAlias(0), CAAlias(1), CAAlias(12))
	}
}
