package e2e

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // the JKS digest
	"encoding/asn1"
	"encoding/binary"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/pki/keystores"
)

// hostileJKS is a JKS store with a valid digest for password holding a private key
// entry under alias whose encrypted key is too short for keystore-go's decryption,
// which panicked on it (a negative slice length).
func hostileJKS(t *testing.T, alias, password string) []byte {
	t.Helper()
	type algo struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	key, err := asn1.Marshal(struct {
		Algo       algo
		PrivateKey []byte
	}{algo{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 42, 2, 17, 1, 1}, asn1.RawValue{Tag: 5}}, make([]byte, 8)})
	if err != nil {
		t.Fatal(err)
	}
	b := binary.BigEndian.AppendUint32(nil, 0xfeedfeed)
	b = binary.BigEndian.AppendUint32(b, 2)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 1) // private key entry
	b = binary.BigEndian.AppendUint16(b, uint16(len(alias)))
	b = append(b, alias...)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint32(b, 0) // no certificates
	h := sha1.New()                         //nolint:gosec // the JKS digest
	for _, c := range []byte(password) {
		h.Write([]byte{0, c})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(b)
	return h.Sum(b)
}

// A tenant writes a hostile keystore.jks into the Secret of a Certificate: a store
// with a valid digest whose key entry made keystore-go panic. The worker checks the
// keystore, finds it broken and writes a good one back, without re-issuing.
func TestOutputsHostileKeystoreRewritten(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "outputs-hostile"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, nil, "create", "secret", "generic", "keystore-pw", "-n", ns, "--from-literal=password="+outputsPassword)
	mustKubectl(t, []byte(testkit.SelfSignedIssuer("selfsigned")), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, outputsCertificate("app", "app.example.com", `  keystores:
    jks:
      create: true
      alias: app
      passwordSecretRef: {name: keystore-pw, key: password}
`), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "app", 1)
	eventually(t, 30*time.Second, "keystore.jks", func() (bool, string) {
		s, _ := readTLSSecret(t, ns, "app-tls")
		return len(s.Data["keystore.jks"]) > 0, "no keystore.jks"
	})

	ctx := context.Background()
	s, _ := readTLSSecret(t, ns, "app-tls")
	hostile := hostileJKS(t, "app", outputsPassword)
	s.Data["keystore.jks"] = hostile
	if _, err := env.Kube.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "a good keystore.jks written back", func() (bool, string) {
		s, _ := readTLSSecret(t, ns, "app-tls")
		if bytes.Equal(s.Data["keystore.jks"], hostile) {
			return false, "keystore.jks is still the hostile one"
		}
		c, err := keystores.DecodeJKS(s.Data["keystore.jks"], "app", outputsPassword)
		if err != nil {
			return false, err.Error()
		}
		return c.Key != nil && len(c.Chain) > 0, "no key entry"
	})
	waitRevision(t, ns, "app", 1)
}
