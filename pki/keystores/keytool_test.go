package keystores

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki"
)

// Java is who reads keystores. keytool (from the JDK on the development machines)
// converts each keystore to the other format, which decrypts the private key; decoding
// the result gives back the same key and certificate.
func TestKeytoolReadsKeystores(t *testing.T) {
	keytool, err := exec.LookPath("keytool")
	if err != nil {
		t.Skip("keytool is not installed: no JDK on this machine")
	}
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := exec.Command(keytool, append(args, "-noprompt")...).CombinedOutput()
		if err != nil {
			t.Fatalf("keytool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	write := func(t *testing.T, name string, data []byte) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const pw, outPW = "changeit", "converted"
	for _, alg := range algorithms {
		f := newFixture(t, alg)
		chain := []*x509.Certificate{f.leaf, f.inter}
		cas := []*x509.Certificate{f.root}
		t.Run(alg+"/JKS", func(t *testing.T) {
			data, err := JKS(f.key, chain, cas, "web", pw, epoch)
			if err != nil {
				t.Fatal(err)
			}
			in := write(t, "keystore.jks", data)
			list := run(t, "-list", "-keystore", in, "-storetype", "JKS", "-storepass", pw)
			if !strings.Contains(list, "PrivateKeyEntry") || !strings.Contains(list, "trustedCertEntry") {
				t.Errorf("keytool -list:\n%s", list)
			}
			out := filepath.Join(t.TempDir(), "out.p12")
			run(t, "-importkeystore", "-srckeystore", in, "-srcstoretype", "JKS", "-srcstorepass", pw, "-srcalias", "web", "-srckeypass", pw,
				"-destkeystore", out, "-deststoretype", "PKCS12", "-deststorepass", outPW)
			converted, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			key, got, err := DecodePKCS12(converted, outPW)
			if err != nil {
				t.Fatal(err)
			}
			if !pki.PrivateKeysEqual(f.key, key) || !pki.CertificatesEqual(got, chain) {
				t.Errorf("Java read another key or chain from keystore.jks: chain %v", names(got))
			}
		})
		profiles := []cmapi.PKCS12Profile{cmapi.Modern2023PKCS12Profile}
		if alg == "RSA" {
			profiles = append(profiles, cmapi.LegacyRC2PKCS12Profile, cmapi.LegacyDESPKCS12Profile)
		}
		for _, profile := range profiles {
			t.Run(alg+"/PKCS12/"+string(profile), func(t *testing.T) {
				full := Chain(chain, cas)
				data, err := PKCS12(f.key, full, pw, profile)
				if err != nil {
					t.Fatal(err)
				}
				in := write(t, "keystore.p12", data)
				out := filepath.Join(t.TempDir(), "out.jks")
				run(t, "-importkeystore", "-srckeystore", in, "-srcstoretype", "PKCS12", "-srcstorepass", pw,
					"-destkeystore", out, "-deststoretype", "JKS", "-deststorepass", outPW, "-destkeypass", outPW)
				converted, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				// keytool names an entry without a friendly name "1".
				c, err := DecodeJKS(converted, "1", outPW)
				if err != nil {
					t.Fatal(err)
				}
				if c.Key == nil || !pki.PrivateKeysEqual(f.key, c.Key) || !pki.CertificatesEqual(c.Chain, full) {
					t.Errorf("Java read another key or chain from keystore.p12: key %v chain %v", c.Key != nil, names(c.Chain))
				}

				ts, err := PKCS12Truststore(cas, pw, profile)
				if err != nil {
					t.Fatal(err)
				}
				list := run(t, "-list", "-keystore", write(t, "truststore.p12", ts), "-storetype", "PKCS12", "-storepass", pw)
				if !strings.Contains(list, "trustedCertEntry") {
					t.Errorf("Java sees no trusted certificate in truststore.p12:\n%s", list)
				}
			})
		}
	}
	t.Run("JKS truststore", func(t *testing.T) {
		f := newFixture(t, "ECDSA")
		data, err := JKSTruststore([]*x509.Certificate{f.root, f.inter}, pw, epoch)
		if err != nil {
			t.Fatal(err)
		}
		list := run(t, "-list", "-keystore", write(t, "truststore.jks", data), "-storetype", "JKS", "-storepass", pw)
		if strings.Count(list, "trustedCertEntry") != 2 {
			t.Errorf("Java does not see two trusted certificates in truststore.jks:\n%s", list)
		}
	})
}
