package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	sharedpki "github.com/certflow/certflow/pki"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// create certificaterequest --fetch-certificate against a CA issuer writes the key the
// Certificate's privateKey asks for and a certificate of that key, for the spec's names,
// signed by the CA; a v1alpha2 manifest is read too.
func TestCreateCertificateRequestFetch(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-create-fetch"
	apply(t, ns, testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "root", CommonName: "cli create root", IsCA: true, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String(),
		testkit.CAIssuer("ca", "root-tls"))
	testkit.WaitCertificateReady(t, sys.CertFlow, ns, "root", 90*time.Second)
	testkit.WaitIssuerReady(t, sys.CertFlow, ns, "ca", 90*time.Second)
	_, root := testkit.ReadTLSSecret(t, sys.Kube, ns, "root-tls")

	dir := t.TempDir()
	manifest := writeFile(t, dir, "app.yaml", `apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: app
  namespace: `+ns+`
  labels: {team: shop}
  annotations: {example.com/owner: ops}
spec:
  secretName: app-tls
  commonName: app.example.com
  dnsNames: [app.example.com, api.example.com]
  duration: 24h
  usages: [digital signature, server auth]
  privateKey: {algorithm: ECDSA, size: 384, encoding: PKCS8}
  issuerRef: {name: ca, kind: Issuer}
`)
	keyFile, certFile := filepath.Join(dir, "out.key"), filepath.Join(dir, "out.crt")
	r := mustRun(t, "create", "certificaterequest", "app-1", "--from-certificate-file", manifest,
		"--fetch-certificate", "--timeout", "2m", "--output-key-file", keyFile, "--output-certificate-file", certFile)
	wantAll(t, "create certificaterequest", r.stderr,
		"Private key written to file "+keyFile,
		"CertificateRequest app-1 has been created in namespace "+ns,
		"CertificateRequest app-1 in namespace "+ns+" has not been signed yet. Wait until it is signed...",
		"CertificateRequest app-1 in namespace "+ns+" has been signed",
		"Certificate written to file "+certFile)

	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", st, err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != keys.PEMTypePKCS8PrivateKey {
		t.Errorf("key file is not a PKCS#8 PEM key: %q", keyPEM)
	}
	signer, err := keys.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := signer.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P384() {
		t.Errorf("key is %T, want ECDSA P-384", signer)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := testkit.ParseLeaf(certPEM)
	if err != nil {
		t.Fatalf("certificate file: %v\n%s", err, certPEM)
	}
	if !sharedpki.PublicKeysEqual(leaf.PublicKey, signer.Public()) {
		t.Error("the certificate is not of the key written")
	}
	if !slices.Equal(leaf.DNSNames, []string{"app.example.com", "api.example.com"}) || leaf.Subject.CommonName != "app.example.com" {
		t.Errorf("certificate names: CN %q, DNS %v", leaf.Subject.CommonName, leaf.DNSNames)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got < 23*time.Hour || got > 25*time.Hour {
		t.Errorf("certificate lifetime %s, want the spec's 24h", got)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "api.example.com", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the certificate does not verify against the CA: %v", err)
	}
	cr := testkit.GetRequest(t, sys.CertFlow, ns, "app-1")
	if cr.Labels["team"] != "shop" || cr.Annotations["example.com/owner"] != "ops" || cr.Spec.IssuerRef.Name != "ca" || cr.Spec.Duration == nil || cr.Spec.Duration.Duration != 24*time.Hour {
		t.Errorf("CertificateRequest: labels %v, annotations %v, spec %+v", cr.Labels, cr.Annotations, cr.Spec)
	}

	// A v1alpha2 manifest (key fields of that version), no namespace in it: -n decides.
	old := writeFile(t, dir, "old.yaml", `apiVersion: cert-manager.io/v1alpha2
kind: Certificate
metadata: {name: legacy}
spec:
  secretName: legacy-tls
  dnsNames: [legacy.example.com]
  organization: [Legacy Org]
  keyAlgorithm: rsa
  keySize: 3072
  keyEncoding: pkcs1
  issuerRef: {name: ca}
`)
	oldKey := filepath.Join(dir, "legacy.key")
	r = mustRun(t, "create", "cr", "legacy-1", "-n", ns, "--from-certificate-file", old, "--output-key-file", oldKey)
	wantAll(t, "create cr (v1alpha2)", r.stderr, "CertificateRequest legacy-1 has been created in namespace "+ns)
	keyPEM, err = os.ReadFile(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != keys.PEMTypeRSAPrivateKey {
		t.Errorf("legacy key is not a PKCS#1 PEM key")
	}
	signer, err = keys.ParsePrivateKeyPEM(keyPEM)
	if k, ok := signer.(*rsa.PrivateKey); err != nil || !ok || k.N.BitLen() != 3072 {
		t.Errorf("legacy key is %T (%v), want RSA 3072", signer, err)
	}
	cr = testkit.GetRequest(t, sys.CertFlow, ns, "legacy-1")
	b, _ := pem.Decode(cr.Spec.Request)
	if b == nil {
		t.Fatalf("request of legacy-1 is not PEM")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(csr.Subject.Organization, []string{"Legacy Org"}) || !slices.Equal(csr.DNSNames, []string{"legacy.example.com"}) || !sharedpki.PublicKeysEqual(csr.PublicKey, signer.Public()) {
		t.Errorf("legacy CSR: O %v, DNS %v", csr.Subject.Organization, csr.DNSNames)
	}

	// A manifest of another namespace than an explicit -n is refused before anything is written.
	r = kubectlCertManager(t, nil, "create", "cr", "app-2", "-n", "default", "--from-certificate-file", manifest, "--output-key-file", filepath.Join(dir, "app-2.key"))
	if r.err == nil {
		t.Errorf("a namespace mismatch was accepted:\n%s", r)
	}
	wantAll(t, "namespace mismatch", r.stderr, `the namespace from the provided object "`+ns+`" does not match the namespace "default"`)
	if _, err := os.Stat(filepath.Join(dir, "app-2.key")); err == nil {
		t.Error("a key was written for a refused request")
	}
}

// A request its approver denies ends the wait at once with the denial's reason and
// message; one whose issuer does not exist ends at the timeout saying where it stands.
func TestCreateCertificateRequestDeniedOrStuck(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-create-deny"
	testkit.CreateNamespace(t, sys.Kube, ns)
	dir := t.TempDir()
	// An issuer of another group: nobody but a person approves its requests.
	external := writeFile(t, dir, "external.yaml", `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: ext, namespace: `+ns+`}
spec:
  secretName: ext-tls
  dnsNames: [ext.example.com]
  issuerRef: {name: vault, kind: VaultIssuer, group: issuers.example.com}
`)
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		done <- kubectlCertManager(t, nil, "create", "certificaterequest", "ext-1", "--from-certificate-file", external,
			"--fetch-certificate", "--timeout", "3m", "--output-key-file", filepath.Join(dir, "ext.key"), "--output-certificate-file", filepath.Join(dir, "ext.crt"))
	}()
	testkit.Eventually(t, time.Minute, "CertificateRequest ext-1 to exist", func() (bool, string) {
		_, err := sys.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(context.Background(), "ext-1", metav1.GetOptions{})
		return err == nil, "not yet"
	})
	mustRun(t, "deny", "ext-1", "-n", ns, "--reason", "SecurityTeam", "--message", "no certificates for ext")
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("create certificaterequest did not end after the denial")
	}
	if r.err == nil {
		t.Fatalf("a denied request exited 0:\n%s", r)
	}
	if took := time.Since(start); took > 2*time.Minute {
		t.Errorf("the denial ended the wait after %s, not at once", took)
	}
	t.Logf("denied:\n%s", r.stderr)
	wantAll(t, "denied request", r.stderr, "CertificateRequest "+ns+"/ext-1 was denied: SecurityTeam: no certificates for ext")
	if _, err := os.Stat(filepath.Join(dir, "ext.crt")); err == nil {
		t.Error("a certificate file was written for a denied request")
	}

	// A missing issuer: the request stays pending, the timeout ends the wait.
	lost := writeFile(t, dir, "lost.yaml", `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: lost}
spec:
  secretName: lost-tls
  dnsNames: [lost.example.com]
  issuerRef: {name: nowhere, kind: Issuer}
`)
	r = kubectlCertManager(t, nil, "create", "certificaterequest", "lost-1", "-n", ns, "--from-certificate-file", lost,
		"--fetch-certificate", "--timeout", "20s", "--output-key-file", filepath.Join(dir, "lost.key"))
	if r.err == nil {
		t.Fatalf("a request to a missing issuer exited 0:\n%s", r)
	}
	t.Logf("missing issuer:\n%s", r.stderr)
	wantAll(t, "missing issuer", r.stderr, "timed out after 20s", "CertificateRequest "+ns+"/lost-1 is", "Pending", "nowhere")
}
