package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// A v1alpha2 manifest (an Issuer and a Certificate with that version's key and subject
// fields) converts to v1 that kubectl applies and that then issues as it says.
func TestConvertV1alpha2Applies(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-convert"
	dir := t.TempDir()
	old := writeFile(t, dir, "old.yaml", `apiVersion: cert-manager.io/v1alpha2
kind: Issuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1alpha2
kind: Certificate
metadata: {name: legacy}
spec:
  secretName: legacy-tls
  commonName: legacy.example.com
  dnsNames: [legacy.example.com]
  emailSANs: [ops@example.com]
  organization: [Legacy Org]
  keyAlgorithm: ecdsa
  keySize: 384
  keyEncoding: pkcs8
  issuerRef: {name: selfsigned}
`)
	r := mustRun(t, "convert", "-f", old)
	wantAll(t, "convert", r.stdout, "kind: List", "apiVersion: cert-manager.io/v1\n", "kind: Issuer", "kind: Certificate",
		"algorithm: ECDSA", "encoding: PKCS8", "size: 384", "organizations:\n", "- Legacy Org", "emailAddresses:")
	for _, gone := range []string{"v1alpha2", "keyAlgorithm", "keySize", "keyEncoding", "emailSANs", "organization:"} {
		if strings.Contains(r.stdout, gone) {
			t.Errorf("converted YAML still has %q:\n%s", gone, r.stdout)
		}
	}
	apply(t, ns, r.stdout)
	testkit.WaitCertificateReady(t, sys.CertFlow, ns, "legacy", 90*time.Second)
	s, leaf := testkit.ReadTLSSecret(t, sys.Kube, ns, "legacy-tls")
	if !slices.Equal(leaf.Subject.Organization, []string{"Legacy Org"}) || !slices.Equal(leaf.EmailAddresses, []string{"ops@example.com"}) || !slices.Equal(leaf.DNSNames, []string{"legacy.example.com"}) {
		t.Errorf("certificate: O %v, emails %v, DNS %v", leaf.Subject.Organization, leaf.EmailAddresses, leaf.DNSNames)
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
		t.Errorf("certificate key is %T, want ECDSA P-384", leaf.PublicKey)
	}
	if b, _ := pem.Decode(s.Data["tls.key"]); b == nil || b.Type != keys.PEMTypePKCS8PrivateKey {
		t.Errorf("tls.key is not PKCS#8")
	}

	// JSON output of one object, and clear errors for what is not cert-manager's.
	r = mustRun(t, "convert", "-o", "json", "-f", writeFile(t, dir, "order.yaml", "apiVersion: acme.cert-manager.io/v1alpha3\nkind: Order\nmetadata: {name: o}\nspec: {csr: UkVR, issuerRef: {name: le}}\n"))
	wantAll(t, "convert -o json", r.stdout, `"apiVersion": "acme.cert-manager.io/v1"`, `"kind": "Order"`, `"request": "UkVR"`)
	r = kubectlCertManager(t, nil, "convert", "-f", writeFile(t, dir, "secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"))
	if r.err == nil {
		t.Errorf("convert of a Secret exited 0:\n%s", r)
	}
	wantAll(t, "convert of a Secret", r.stderr, "Secret v1 s: not a cert-manager resource")
	r = kubectlCertManager(t, nil, "convert", "-f", writeFile(t, dir, "alpha1.yaml", "apiVersion: cert-manager.io/v1alpha1\nkind: Certificate\nmetadata: {name: c}\n"))
	wantAll(t, "convert of v1alpha1", r.stderr, `unknown version "v1alpha1" of cert-manager.io`)
}
