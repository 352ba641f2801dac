package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/workflows"
)

// The user's selfsigned-issuer.yaml and CA certificate, applied unchanged, become Ready
// through k8swatch → Temporal → activities, and the Secret holds what the spec asks for.
func TestSeedSelfSignedIssuerAndCACertificate(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	applied := time.Now()
	mustKubectl(t, nil, "apply", "-f", filepath.Join(env.root, "examples", "selfsigned-issuer.yaml"), "-n", "cert-manager")
	waitIssuerReady(t, "cert-manager", "selfsigned-issuer")
	mustKubectl(t, nil, "apply", "-f", filepath.Join(env.root, "examples", "certificate-example-ca.yaml"), "-n", "cert-manager")
	cert := waitCertificateReady(t, "cert-manager", "ca-example-com")
	t.Logf("ca-example-com Ready %.2fs after the issuer was applied", time.Since(applied).Seconds())

	secret, leaf := readTLSSecret(t, "cert-manager", "ca-example-com-tls")
	if leaf.Subject.CommonName != "ca.example.com" || !equalStrings(leaf.DNSNames, []string{"ca.example.com"}) ||
		!equalStrings(leaf.Subject.Organization, []string{"Example Inc."}) {
		t.Errorf("subject/SANs = %v %v, want CN=ca.example.com O=Example Inc. DNS ca.example.com", leaf.Subject, leaf.DNSNames)
	}
	if !leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("isCA=%v keyUsage=%v, want a CA certificate with certSign", leaf.IsCA, leaf.KeyUsage)
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		t.Errorf("public key %T, want RSA 2048", leaf.PublicKey)
	}
	if block, _ := pem.Decode(secret.Data["tls.key"]); block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Errorf("tls.key is not PKCS#1 PEM as spec.privateKey.encoding asks")
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != 2160*time.Hour {
		t.Errorf("validity %s, want 2160h", got)
	}
	if !bytes.Equal(secret.Data["ca.crt"], secret.Data["tls.crt"]) {
		t.Errorf("a self-signed certificate's ca.crt should be the certificate itself")
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "ca.example.com"}); err != nil {
		t.Errorf("self-signed certificate does not verify against itself: %v", err)
	}
	wantAnn := map[string]string{
		"cert-manager.io/certificate-name": "ca-example-com", "cert-manager.io/issuer-name": "selfsigned-issuer",
		"cert-manager.io/issuer-kind": "Issuer", "cert-manager.io/issuer-group": "cert-manager.io",
		"cert-manager.io/common-name": "ca.example.com", "cert-manager.io/alt-names": "ca.example.com",
	}
	for k, v := range wantAnn {
		if secret.Annotations[k] != v {
			t.Errorf("Secret annotation %s = %q, want %q", k, secret.Annotations[k], v)
		}
	}
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s, want kubernetes.io/tls", secret.Type)
	}

	st := cert.Status
	if st.Revision == nil || *st.Revision != 1 {
		t.Errorf("status.revision = %v, want 1", st.Revision)
	}
	if st.NotAfter == nil || !st.NotAfter.Time.Equal(leaf.NotAfter) || st.NotBefore == nil || !st.NotBefore.Time.Equal(leaf.NotBefore) {
		t.Errorf("status notBefore/notAfter = %v/%v, want %v/%v", st.NotBefore, st.NotAfter, leaf.NotBefore, leaf.NotAfter)
	}
	if want := leaf.NotAfter.Add(-360 * time.Hour); st.RenewalTime == nil || !st.RenewalTime.Time.Equal(want) {
		t.Errorf("status.renewalTime = %v, want notAfter-360h = %v", st.RenewalTime, want)
	}

	// One CertificateRequest for the revision, approved by the internal approver.
	cr, err := env.CertFlow.CertmanagerV1().CertificateRequests("cert-manager").Get(context.Background(), "ca-example-com-1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("CertificateRequest of revision 1: %v", err)
	}
	conds := map[cmapi.CertificateRequestConditionType]cmapi.CertificateRequestCondition{}
	for _, c := range cr.Status.Conditions {
		conds[c.Type] = c
	}
	if a := conds[cmapi.CertificateRequestConditionApproved]; a.Status != cmmeta.ConditionTrue || a.Reason != "cert-manager.io" {
		t.Errorf("Approved condition %+v, want True by cert-manager.io", a)
	}
	if r := conds[cmapi.CertificateRequestConditionReady]; r.Status != cmmeta.ConditionTrue || r.Reason != "Issued" || !bytes.Equal(cr.Status.Certificate, secret.Data["tls.crt"]) {
		t.Errorf("request Ready %+v, or its certificate differs from the Secret's", r)
	}

	// The workflow answers the status query and sleeps until the renewal time.
	eventually(t, 10*time.Second, "the workflow sleeping until the renewal time", func() (bool, string) {
		v, err := env.Temporal.QueryWorkflow(context.Background(), workflows.CertificateWorkflowID("cert-manager", "ca-example-com"), "", workflows.QueryStatus)
		if err != nil {
			return false, err.Error()
		}
		var ws workflows.Status
		if err := v.Get(&ws); err != nil {
			return false, err.Error()
		}
		return ws.Phase == workflows.PhaseReady && ws.Until != nil && ws.Until.Equal(st.RenewalTime.Time), fmt.Sprintf("%+v", ws)
	})

	assertNoPrivateKeyInHistory(t, workflows.CertificateWorkflowID("cert-manager", "ca-example-com"), secret.Data["tls.key"])
}

// Each key algorithm and encoding ends up in the Secret as asked.
func TestKeyAlgorithmsAndEncodings(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "keys"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, []byte(testkit.SelfSignedIssuer("selfsigned")), "apply", "-n", ns, "-f", "-")
	cases := []struct {
		name, alg, enc, pemType string
		size                    int
		check                   func(any) bool
	}{
		{"ecdsa-p256-pkcs1", "ECDSA", "PKCS1", "EC PRIVATE KEY", 256, func(k any) bool { p, ok := k.(*ecdsa.PublicKey); return ok && p.Curve.Params().BitSize == 256 }},
		{"ecdsa-p384-pkcs8", "ECDSA", "PKCS8", "PRIVATE KEY", 384, func(k any) bool { p, ok := k.(*ecdsa.PublicKey); return ok && p.Curve.Params().BitSize == 384 }},
		{"ed25519-pkcs8", "Ed25519", "PKCS8", "PRIVATE KEY", 0, func(k any) bool { _, ok := k.(ed25519.PublicKey); return ok }},
		{"rsa-3072-pkcs8", "RSA", "PKCS8", "PRIVATE KEY", 3072, func(k any) bool { p, ok := k.(*rsa.PublicKey); return ok && p.N.BitLen() == 3072 }},
	}
	for _, c := range cases {
		size := ""
		if c.size > 0 {
			size = fmt.Sprintf(", size: %d", c.size)
		}
		mustKubectl(t, []byte(fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %[1]s}
spec:
  secretName: %[1]s-tls
  dnsNames: [%[1]s.example.com]
  ipAddresses: [127.0.0.1]
  uris: ["spiffe://example.com/%[1]s"]
  duration: 24h
  issuerRef: {name: selfsigned}
  privateKey: {algorithm: %[2]s, encoding: %[3]s%[4]s}
`, c.name, c.alg, c.enc, size)), "apply", "-n", ns, "-f", "-")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			waitCertificateReady(t, ns, c.name)
			secret, leaf := readTLSSecret(t, ns, c.name+"-tls")
			if !c.check(leaf.PublicKey) {
				t.Errorf("public key %T does not match %s %d", leaf.PublicKey, c.alg, c.size)
			}
			if block, _ := pem.Decode(secret.Data["tls.key"]); block == nil || block.Type != c.pemType {
				t.Errorf("tls.key PEM type is not %q", c.pemType)
			}
			if len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "127.0.0.1" || len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://example.com/"+c.name {
				t.Errorf("SANs: ips %v uris %v", leaf.IPAddresses, leaf.URIs)
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore); got != 24*time.Hour {
				t.Errorf("validity %s, want 24h", got)
			}
			if leaf.IsCA {
				t.Errorf("leaf certificate is a CA")
			}
			assertNoPrivateKeyInHistory(t, workflows.CertificateWorkflowID(ns, c.name), secret.Data["tls.key"])
		})
	}
}

// Deleting the target Secret makes the workflow issue again within seconds.
func TestSecretDeletedIsReissued(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "reissue"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"), testkit.Cert{Name: "web", CommonName: "web.example.com", DNSNames: []string{"web.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String()), "apply", "-n", ns, "-f", "-")
	waitCertificateReady(t, ns, "web")
	_, first := readTLSSecret(t, ns, "web-tls")
	deleted := time.Now()
	mustKubectl(t, nil, "delete", "secret", "web-tls", "-n", ns)
	eventually(t, 30*time.Second, "a re-issued Secret", func() (bool, string) {
		s, err := env.Kube.CoreV1().Secrets(ns).Get(context.Background(), "web-tls", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		c, err := testkit.ParseLeaf(s.Data["tls.crt"])
		return err == nil && c.SerialNumber.Cmp(first.SerialNumber) != 0, "same certificate"
	})
	t.Logf("Secret re-issued %.2fs after deletion", time.Since(deleted).Seconds())
	// The status follows the Secret within the same workflow task, a moment later.
	waitRevision(t, ns, "web", 2)
	waitCertificateReady(t, ns, "web")
}

// A Certificate whose issuer does not exist says so, and proceeds once it appears.
func TestMissingIssuerThenCreated(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "late-issuer"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, []byte(testkit.Cert{Name: "app", DNSNames: []string{"app.example.com"}, Issuer: "later"}.String()), "apply", "-n", ns, "-f", "-")
	eventually(t, 30*time.Second, "Ready=False naming the missing issuer", func() (bool, string) {
		c, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), "app", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		r := testkit.CertificateCondition(c, cmapi.CertificateConditionReady)
		return r != nil && r.Status == cmmeta.ConditionFalse && strings.Contains(r.Message, "later") && strings.Contains(r.Message, "not found"), fmt.Sprintf("%+v", r)
	})
	mustKubectl(t, []byte(`apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: later}
spec: {selfSigned: {}}
`), "apply", "-n", ns, "-f", "-")
	waitCertificateReady(t, ns, "app")
}

func waitIssuerReady(t *testing.T, ns, name string) {
	t.Helper()
	testkit.WaitIssuerReady(t, env.CertFlow, ns, name, 30*time.Second)
}

func waitClusterIssuerReady(t *testing.T, name string) {
	t.Helper()
	testkit.WaitIssuerReady(t, env.CertFlow, "", name, 30*time.Second)
}

// waitClusterIssuerCondition waits until the ClusterIssuer's Ready condition satisfies ok.
func waitClusterIssuerCondition(t *testing.T, name string, ok func(cmapi.IssuerCondition) bool) {
	t.Helper()
	testkit.WaitIssuerCondition(t, env.CertFlow, "", name, 30*time.Second, ok)
}

func waitCertificateReady(t *testing.T, ns, name string) *cmapi.Certificate {
	t.Helper()
	return testkit.WaitCertificateReady(t, env.CertFlow, ns, name, 60*time.Second)
}

func readTLSSecret(t *testing.T, ns, name string) (*corev1.Secret, *x509.Certificate) {
	t.Helper()
	return testkit.ReadTLSSecret(t, env.Kube, ns, name)
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// assertNoPrivateKeyInHistory checks, once the workflow sleeps, that no event of any of
// its runs holds the key (testkit.AssertNoKeyInHistory).
func assertNoPrivateKeyInHistory(t *testing.T, workflowID string, keyPEM []byte) {
	t.Helper()
	assertNoSecretInHistory(t, workflowID, nil, keyPEM)
}

// assertNoSecretInHistory waits for the workflow to sleep, then scans its history for
// the key and the other secrets.
func assertNoSecretInHistory(t *testing.T, workflowID string, secrets map[string][]byte, keyPEM []byte) {
	t.Helper()
	// The issuance runs in local activities inside one workflow task, whose events are
	// written when the task completes: wait until the workflow sleeps on a timer.
	ctx := context.Background()
	eventually(t, 15*time.Second, "the workflow asleep on a timer", func() (bool, string) {
		it := env.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		last := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return false, err.Error()
			}
			last = ev.EventType.String()
		}
		return last == enums.EVENT_TYPE_TIMER_STARTED.String(), "last event " + last
	})
	events := testkit.AssertNoSecretInHistory(t, env.Temporal, workflowID, secrets, keyPEM)
	// An issuance in one step and the sleep after it take 8 events.
	if events < 8 {
		t.Errorf("only %d history events of %s: the scan did not see the issuance", events, workflowID)
	}
}

// The user's first CA flow, exactly as in their notes: selfsigned Issuer → CA Certificate
// → CA ClusterIssuer reading that Secret from the cluster resource namespace → site
// Certificate in istio-system, whose chain verifies against the CA.
func TestSeedCAFlow(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	for _, step := range []struct{ file, ns string }{
		{"selfsigned-issuer.yaml", "cert-manager"},
		{"certificate-example-ca.yaml", "cert-manager"},
		{"clusterIssuer-ca-example.yaml", ""},
		{"certificate-site-example-com.yaml", "istio-system"},
	} {
		args := []string{"apply", "-f", filepath.Join(env.root, "examples", step.file)}
		if step.ns != "" {
			args = append(args, "-n", step.ns)
		}
		mustKubectl(t, nil, args...)
	}
	waitClusterIssuerReady(t, "ca-example-issuer")
	waitCertificateReady(t, "istio-system", "site-example-com")
	_, ca := readTLSSecret(t, "cert-manager", "ca-example-com-tls")
	secret, leaf := readTLSSecret(t, "istio-system", "site-example-com-tls")
	verifyChain(t, secret, leaf, ca, "site.example.com")
	if leaf.IsCA || leaf.Subject.CommonName != "site.example.com" {
		t.Errorf("site certificate: isCA=%v CN=%q", leaf.IsCA, leaf.Subject.CommonName)
	}
}

// The user's second CA flow: an openssl CA stored with `kubectl create secret tls`,
// ClusterIssuer ca-issuer, and certificate-bookinfo.yaml applied to istio-system.
func TestSeedOpenSSLCAFlow(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	dir := opensslCA(t, "/O=example Inc./CN=example.com")
	mustKubectl(t, nil, "create", "secret", "tls", "ca-key-pair", "--cert="+filepath.Join(dir, "ca.crt"), "--key="+filepath.Join(dir, "ca.key"), "--namespace=cert-manager")
	mustKubectl(t, nil, "apply", "-f", filepath.Join(env.root, "examples", "ca-issuer.yaml"))
	waitClusterIssuerReady(t, "ca-issuer")
	mustKubectl(t, nil, "apply", "-f", filepath.Join(env.root, "examples", "certificate-bookinfo.yaml"), "-n", "istio-system")
	waitCertificateReady(t, "istio-system", "bookinfo-certificate")
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := testkit.ParseLeaf(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	secret, leaf := readTLSSecret(t, "istio-system", "bookinfo-certs")
	verifyChain(t, secret, leaf, ca, "bookinfo.demo")
	if !equalStrings(leaf.DNSNames, []string{"bookinfo.com", "bookinfo.demo"}) || !equalStrings(leaf.Subject.Organization, []string{"example Inc."}) {
		t.Errorf("bookinfo certificate: DNS %v O %v", leaf.DNSNames, leaf.Subject.Organization)
	}
}

// opensslCA makes a self-signed CA with openssl, as the user's notes do, and returns
// the directory holding ca.crt and ca.key.
func opensslCA(t *testing.T, subject string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("openssl", "req", "-x509", "-sha256", "-nodes", "-days", "365", "-newkey", "rsa:2048",
		"-subj", subject, "-keyout", filepath.Join(dir, "ca.key"), "-out", filepath.Join(dir, "ca.crt")).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	return dir
}

// A CA ClusterIssuer whose Secret is missing is Ready=False saying which Secret.
func TestCAIssuerWithoutSecretIsNotReady(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	mustKubectl(t, []byte(`apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: ca-missing}
spec: {ca: {secretName: no-such-secret}}
`), "apply", "-f", "-")
	waitClusterIssuerCondition(t, "ca-missing", func(c cmapi.IssuerCondition) bool {
		return c.Status == cmmeta.ConditionFalse && c.Reason == "ErrGetKeyPair" && strings.Contains(c.Message, "cert-manager/no-such-secret")
	})
}

// A CA Secret made by hand (no certflow label, so the watcher does not see it) that is
// deleted: the first signing that fails for it makes the ClusterIssuer verify it again
// and go Ready=False, so the next Certificate waits for the issuer (IssuerNotReady)
// instead of failing into a backoff, and is issued once the Secret is back.
func TestHandMadeCASecretDeleted(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	dir := opensslCA(t, "/CN=gone.example")
	createSecret := func() {
		mustKubectl(t, nil, "create", "secret", "tls", "gone-ca-key-pair", "--cert="+filepath.Join(dir, "ca.crt"), "--key="+filepath.Join(dir, "ca.key"), "--namespace=cert-manager")
	}
	createSecret()
	mustKubectl(t, []byte(`apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: gone-ca}
spec: {ca: {secretName: gone-ca-key-pair}}
`), "apply", "-f", "-")
	waitClusterIssuerReady(t, "gone-ca")
	mustKubectl(t, nil, "delete", "secret", "gone-ca-key-pair", "--namespace=cert-manager")

	ns := "gone-ca"
	mustKubectl(t, nil, "create", "namespace", ns)
	certificate := func(name string) []byte {
		return []byte(fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %[1]s}
spec:
  secretName: %[1]s-tls
  dnsNames: [%[1]s.gone.example]
  issuerRef: {name: gone-ca, kind: ClusterIssuer}
`, name))
	}
	mustKubectl(t, certificate("first"), "apply", "-n", ns, "-f", "-")
	waitClusterIssuerCondition(t, "gone-ca", func(c cmapi.IssuerCondition) bool {
		return c.Status == cmmeta.ConditionFalse && strings.Contains(c.Message, "cert-manager/gone-ca-key-pair")
	})

	mustKubectl(t, certificate("second"), "apply", "-n", ns, "-f", "-")
	eventually(t, 30*time.Second, "second Certificate Ready=False IssuerNotReady", func() (bool, string) {
		c, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), "second", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		r := testkit.CertificateCondition(c, cmapi.CertificateConditionReady)
		return r != nil && r.Status == cmmeta.ConditionFalse && r.Reason == "IssuerNotReady" && c.Status.FailedIssuanceAttempts == nil, fmt.Sprintf("%+v, failures %v", r, c.Status.FailedIssuanceAttempts != nil)
	})
	createSecret()
	waitCertificateReady(t, ns, "second")
}

// verifyChain checks that leaf verifies against ca for dnsName and that ca.crt is the CA.
func verifyChain(t *testing.T, secret *corev1.Secret, leaf, ca *x509.Certificate, dnsName string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: dnsName}); err != nil {
		t.Errorf("certificate does not verify against the CA: %v", err)
	}
	caCrt, err := testkit.ParseLeaf(secret.Data["ca.crt"])
	if err != nil || !caCrt.Equal(ca) {
		t.Errorf("ca.crt is not the CA certificate (%v)", err)
	}
}

// A renew signal and a ManuallyTriggered condition (what cmctl renew writes) each issue
// exactly one new revision.
func TestManualRenewIssuesExactlyOnce(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "renew"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"), testkit.Cert{Name: "app", DNSNames: []string{"app.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String()), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "app", 1)

	id := workflows.CertificateWorkflowID(ns, "app")
	if err := env.Temporal.SignalWorkflow(context.Background(), id, "", workflows.SignalRenew, workflows.RenewSignal{}); err != nil {
		t.Fatal(err)
	}
	waitRevision(t, ns, "app", 2)

	// cmctl renew: Issuing=True, reason ManuallyTriggered, on the status.
	cert, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	cert.Status.Conditions = append(cert.Status.Conditions, cmapi.CertificateCondition{
		Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue, Reason: "ManuallyTriggered",
		Message: "Certificate re-issuance manually triggered", LastTransitionTime: &now,
	})
	if _, err := env.CertFlow.CertmanagerV1().Certificates(ns).UpdateStatus(context.Background(), cert, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRevision(t, ns, "app", 3)
}

// waitRevision waits for a Ready certificate at revision rev, then checks that it stays
// there (no issuance loop).
func waitRevision(t *testing.T, ns, name string, rev int) {
	t.Helper()
	testkit.WaitRevision(t, env.CertFlow, ns, name, rev, 60*time.Second)
	time.Sleep(2 * time.Second)
	c := waitCertificateReady(t, ns, name)
	if c.Status.Revision == nil || *c.Status.Revision != rev {
		t.Fatalf("revision moved on to %v after reaching %d: issuance loop", c.Status.Revision, rev)
	}
}

// A Secret edited by hand (a foreign certificate pasted in) is re-issued within seconds.
func TestSecretEditedIsReissued(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "edited"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"), testkit.Cert{Name: "a", DNSNames: []string{"a.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String(), testkit.Cert{Name: "b", DNSNames: []string{"b.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String()), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "a", 1)
	waitRevision(t, ns, "b", 1)
	other, _ := readTLSSecret(t, ns, "b-tls")
	patch := fmt.Sprintf(`{"data":{"tls.crt":%q}}`, base64.StdEncoding.EncodeToString(other.Data["tls.crt"]))
	edited := time.Now()
	mustKubectl(t, nil, "patch", "secret", "a-tls", "-n", ns, "--type=merge", "-p", patch)
	waitRevision(t, ns, "a", 2)
	_, leaf := readTLSSecret(t, ns, "a-tls")
	if !equalStrings(leaf.DNSNames, []string{"a.example.com"}) {
		t.Errorf("re-issued certificate names %v", leaf.DNSNames)
	}
	t.Logf("edited Secret re-issued within %.2fs", time.Since(edited).Seconds())
}

// A CA issuer's crlDistributionPoints, ocspServers and issuingCertificateURLs end up in
// the certificates it signs.
func TestCAIssuerExtensions(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "ca-ext"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: root}
spec:
  secretName: root-tls
  commonName: Root CA
  isCA: true
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned}
`, `apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca}
spec:
  ca:
    secretName: root-tls
    crlDistributionPoints: ["http://crl.example.com/ca.crl"]
    ocspServers: ["http://ocsp.example.com"]
    issuingCertificateURLs: ["http://example.com/ca.crt"]
`, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: leaf}
spec:
  secretName: leaf-tls
  dnsNames: [leaf.example.com]
  usages: [server auth, client auth]
  issuerRef: {name: ca}
`), "apply", "-n", ns, "-f", "-")
	waitCertificateReady(t, ns, "leaf")
	_, leaf := readTLSSecret(t, ns, "leaf-tls")
	if !equalStrings(leaf.CRLDistributionPoints, []string{"http://crl.example.com/ca.crl"}) ||
		!equalStrings(leaf.OCSPServer, []string{"http://ocsp.example.com"}) ||
		!equalStrings(leaf.IssuingCertificateURL, []string{"http://example.com/ca.crt"}) {
		t.Errorf("extensions: crl %v ocsp %v aia %v", leaf.CRLDistributionPoints, leaf.OCSPServer, leaf.IssuingCertificateURL)
	}
	if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
		t.Errorf("extKeyUsage %v, want server auth + client auth", leaf.ExtKeyUsage)
	}
	_, root := readTLSSecret(t, ns, "root-tls")
	s, _ := readTLSSecret(t, ns, "leaf-tls")
	verifyChain(t, s, leaf, root, "leaf.example.com")
}
