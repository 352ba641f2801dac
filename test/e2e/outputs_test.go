package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/workflows"
)

const outputsPassword = "e2e-keystore-pass"

// outputsCertificate renders a Certificate from the selfsigned Issuer with the extra
// outputs given as YAML lines under spec (already indented by two spaces).
func outputsCertificate(name, dnsName, extra string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %[1]s}
spec:
  secretName: %[1]s-tls
  dnsNames: [%[2]s]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned}
%[3]s`, name, dnsName, extra))
}

const allOutputsSpec = `  secretTemplate:
    labels: {team: web}
  additionalOutputFormats: [{type: DER}, {type: CombinedPEM}]
  keystores:
    pkcs12:
      create: true
      profile: Modern2023
      passwordSecretRef: {name: keystore-pw, key: password}
    jks:
      create: true
      alias: app
      passwordSecretRef: {name: keystore-pw, key: password}
`

// A Certificate asking for every extra output becomes Ready, and each extra key of its
// Secret decodes with the password to the key and certificate in tls.key and tls.crt.
// Re-issued after the spec drops some outputs, the Secret loses exactly those keys.
func TestOutputsKeystoresAndFormats(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "outputs"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, nil, "create", "secret", "generic", "keystore-pw", "-n", ns, "--from-literal=password="+outputsPassword)
	mustKubectl(t, []byte(testkit.SelfSignedIssuer("selfsigned")), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, outputsCertificate("app", "app.example.com", allOutputsSpec), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "app", 1)

	secret, leaf := readTLSSecret(t, ns, "app-tls")
	key := secretKey(t, secret)
	checkDER(t, secret, key)
	checkCombinedPEM(t, secret)
	checkPKCS12(t, secret, key, leaf)
	checkJKS(t, secret, key, leaf, "app")
	if secret.Labels["team"] != "web" {
		t.Errorf("secretTemplate label missing: %v", secret.Labels)
	}
	if _, _, _, err := pkcs12.DecodeChain(secret.Data["keystore.p12"], "wrong"); err == nil {
		t.Errorf("keystore.p12 opens with a wrong password")
	}
	assertNoPrivateKeyInHistory(t, workflows.CertificateWorkflowID(ns, "app"), secret.Data["tls.key"])

	// Drop key.der and the JKS keystore and change the DNS name: the new issuance's
	// apply no longer lists those keys, so the API server removes them.
	mustKubectl(t, outputsCertificate("app", "app2.example.com", `  secretTemplate:
    labels: {team: web}
  additionalOutputFormats: [{type: CombinedPEM}]
  keystores:
    pkcs12:
      create: true
      profile: Modern2023
      passwordSecretRef: {name: keystore-pw, key: password}
`), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "app", 2)
	secret, leaf = readTLSSecret(t, ns, "app-tls")
	if !equalStrings(leaf.DNSNames, []string{"app2.example.com"}) {
		t.Fatalf("re-issued certificate names %v", leaf.DNSNames)
	}
	for _, k := range []string{"key.der", "keystore.jks", "truststore.jks"} {
		if _, ok := secret.Data[k]; ok {
			t.Errorf("%s still in the Secret after the spec dropped it", k)
		}
	}
	key = secretKey(t, secret)
	checkCombinedPEM(t, secret)
	checkPKCS12(t, secret, key, leaf)
}

// An inline keystore password (spec.keystores.pkcs12.password) protects the keystore
// but never reaches Temporal's history: the watcher signals the spec without it and the
// activities read it from the Certificate. A changed password re-encrypts the keystore
// without a new certificate.
func TestOutputsInlinePasswordStaysOutOfHistory(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "outputs-inline"
	const first, second = "inline-p12-pass-7f3a", "inline-p12-pass-9c1d"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, []byte(testkit.SelfSignedIssuer("selfsigned")), "apply", "-n", ns, "-f", "-")
	inline := func(pw string) string {
		return "  keystores:\n    pkcs12: {create: true, profile: Modern2023, password: " + pw + "}\n"
	}
	mustKubectl(t, outputsCertificate("app", "app.example.com", inline(first)), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "app", 1)
	secret, leaf := readTLSSecret(t, ns, "app-tls")
	key := secretKey(t, secret)
	if k, cert, _, err := pkcs12.DecodeChain(secret.Data["keystore.p12"], first); err != nil || !sameKey(key, k) || !cert.Equal(leaf) {
		t.Fatalf("keystore.p12 with the inline password: %v", err)
	}
	wf := workflows.CertificateWorkflowID(ns, "app")
	assertNoSecretInHistory(t, wf, map[string][]byte{"the inline password": []byte(first)}, secret.Data["tls.key"])

	mustKubectl(t, outputsCertificate("app", "app.example.com", inline(second)), "apply", "-n", ns, "-f", "-")
	eventually(t, 30*time.Second, "keystore.p12 re-encrypted with the new inline password", func() (bool, string) {
		s, _ := readTLSSecret(t, ns, "app-tls")
		_, _, _, err := pkcs12.DecodeChain(s.Data["keystore.p12"], second)
		return err == nil, fmt.Sprint(err)
	})
	if s, l := readTLSSecret(t, ns, "app-tls"); !l.Equal(leaf) || !bytes.Equal(s.Data["tls.key"], secret.Data["tls.key"]) {
		t.Error("a new inline password re-issued the certificate; only the keystore should change")
	}
	assertNoSecretInHistory(t, wf, map[string][]byte{"the first inline password": []byte(first), "the second inline password": []byte(second)}, secret.Data["tls.key"])
}

// A keystore whose password Secret does not exist fails the issuance with a message
// naming the Secret and the key, and writes no Secret.
func TestOutputsMissingPasswordSecret(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "outputs-nopw"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, []byte(testkit.SelfSignedIssuer("selfsigned")), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, outputsCertificate("app", "app.example.com", `  keystores:
    jks:
      create: true
      passwordSecretRef: {name: no-such-secret, key: pw}
`), "apply", "-n", ns, "-f", "-")
	eventually(t, 30*time.Second, "a failed issuance naming the password Secret", func() (bool, string) {
		out, err := kubectl(t, nil, "get", "certificate", "app", "-n", ns, "-o", "jsonpath={.status.conditions[*].message}")
		return err == nil && strings.Contains(out, ns+"/no-such-secret") && strings.Contains(out, `"pw"`), out
	})
	if out, err := kubectl(t, nil, "get", "secret", "app-tls", "-n", ns); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("the Secret was written despite the failure: %v %s", err, out)
	}
}

// Adding outputs and secretTemplate metadata to a Ready Certificate rewrites its Secret
// from the key pair already there, without a new revision; removing them removes them.
//
// This needs the CertificateWorkflow to call RefreshSecretOutputs when InspectSecret
// reports !OutputsUpToDate (and to pass SecretTemplate to InspectSecret).
func TestOutputsRefreshWithoutReissue(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "outputs-refresh"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, nil, "create", "secret", "generic", "keystore-pw", "-n", ns, "--from-literal=password="+outputsPassword)
	mustKubectl(t, []byte(testkit.SelfSignedIssuer("selfsigned")), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, outputsCertificate("app", "app.example.com", ""), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "app", 1)
	before, _ := readTLSSecret(t, ns, "app-tls")

	mustKubectl(t, outputsCertificate("app", "app.example.com", allOutputsSpec), "apply", "-n", ns, "-f", "-")
	eventually(t, 30*time.Second, "the Secret to gain the outputs", func() (bool, string) {
		s, _ := readTLSSecret(t, ns, "app-tls")
		var missing []string
		for _, k := range []string{"key.der", "tls-combined.pem", "keystore.p12", "truststore.p12", "keystore.jks", "truststore.jks"} {
			if len(s.Data[k]) == 0 {
				missing = append(missing, k)
			}
		}
		if s.Labels["team"] != "web" {
			missing = append(missing, "label team")
		}
		return len(missing) == 0, fmt.Sprintf("missing %v", missing)
	})
	waitRevision(t, ns, "app", 1)
	secret, leaf := readTLSSecret(t, ns, "app-tls")
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if !bytes.Equal(before.Data[k], secret.Data[k]) {
			t.Errorf("%s changed: the refresh must reuse the key pair", k)
		}
	}
	key := secretKey(t, secret)
	checkDER(t, secret, key)
	checkCombinedPEM(t, secret)
	checkPKCS12(t, secret, key, leaf)
	checkJKS(t, secret, key, leaf, "app")

	mustKubectl(t, outputsCertificate("app", "app.example.com", ""), "apply", "-n", ns, "-f", "-")
	eventually(t, 30*time.Second, "the outputs to disappear", func() (bool, string) {
		s, _ := readTLSSecret(t, ns, "app-tls")
		var left []string
		for _, k := range []string{"key.der", "tls-combined.pem", "keystore.p12", "truststore.p12", "keystore.jks", "truststore.jks"} {
			if _, ok := s.Data[k]; ok {
				left = append(left, k)
			}
		}
		if _, ok := s.Labels["team"]; ok {
			left = append(left, "label team")
		}
		return len(left) == 0, fmt.Sprintf("still there: %v", left)
	})
	waitRevision(t, ns, "app", 1)
	after, _ := readTLSSecret(t, ns, "app-tls")
	if !bytes.Equal(before.Data["tls.crt"], after.Data["tls.crt"]) {
		t.Errorf("tls.crt changed")
	}
}

// RefreshSecretOutputs and InspectSecret against the real API server: outputs added to
// and removed from an issued Secret by server-side apply, tls.crt/tls.key/ca.crt left as
// they are, and no re-issuance caused by certflow's own writes.
func TestOutputsRefreshActivity(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	ns := "outputs-activity"
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, nil, "create", "secret", "generic", "keystore-pw", "-n", ns, "--from-literal=password="+outputsPassword)
	mustKubectl(t, []byte(testkit.SelfSignedIssuer("selfsigned")), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, outputsCertificate("app", "app.example.com", ""), "apply", "-n", ns, "-f", "-")
	waitRevision(t, ns, "app", 1)
	before, _ := readTLSSecret(t, ns, "app-tls")

	alias := "app"
	ref := cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "keystore-pw"}, Key: "password"}
	keystoreSpec := &cmapi.CertificateKeystores{
		PKCS12: &cmapi.PKCS12Keystore{Create: true, Profile: cmapi.Modern2023PKCS12Profile, PasswordSecretRef: ref},
		JKS:    &cmapi.JKSKeystore{Create: true, Alias: &alias, PasswordSecretRef: ref},
	}
	formats := []cmapi.CertificateAdditionalOutputFormat{{Type: cmapi.CertificateOutputFormatDER}, {Type: cmapi.CertificateOutputFormatCombinedPEM}}
	tmpl := &cmapi.CertificateSecretTemplate{Labels: map[string]string{"team": "web"}}
	acts := &kube.Activities{Kube: env.Kube, CertFlow: env.CertFlow}
	inspect := func(in kube.InspectSecretInput) bool {
		t.Helper()
		in.Namespace, in.SecretName = ns, "app-tls"
		st, err := acts.InspectSecret(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return st.OutputsUpToDate
	}
	full := kube.InspectSecretInput{Keystores: keystoreSpec, AdditionalOutputFormats: formats, SecretTemplate: tmpl}
	if !inspect(kube.InspectSecretInput{}) || inspect(full) {
		t.Fatalf("before the refresh: up to date without outputs %v, with outputs %v; want true, false", inspect(kube.InspectSecretInput{}), inspect(full))
	}

	if err := acts.RefreshSecretOutputs(ctx, kube.RefreshOutputsInput{Namespace: ns, CertificateName: "app", SecretName: "app-tls",
		SecretTemplate: tmpl, Keystores: keystoreSpec, AdditionalOutputFormats: formats}); err != nil {
		t.Fatal(err)
	}
	secret, leaf := readTLSSecret(t, ns, "app-tls")
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if !bytes.Equal(before.Data[k], secret.Data[k]) {
			t.Errorf("%s changed", k)
		}
	}
	for k, v := range before.Annotations {
		if secret.Annotations[k] != v {
			t.Errorf("annotation %s = %q, was %q", k, secret.Annotations[k], v)
		}
	}
	key := secretKey(t, secret)
	checkDER(t, secret, key)
	checkCombinedPEM(t, secret)
	checkPKCS12(t, secret, key, leaf)
	checkJKS(t, secret, key, leaf, "app")
	if secret.Labels["team"] != "web" || !inspect(full) {
		t.Errorf("after the refresh: label %q, up to date %v", secret.Labels["team"], inspect(full))
	}

	if err := acts.RefreshSecretOutputs(ctx, kube.RefreshOutputsInput{Namespace: ns, CertificateName: "app", SecretName: "app-tls"}); err != nil {
		t.Fatal(err)
	}
	dropped, _ := readTLSSecret(t, ns, "app-tls")
	for _, k := range []string{"key.der", "tls-combined.pem", "keystore.p12", "truststore.p12", "keystore.jks", "truststore.jks"} {
		if _, ok := dropped.Data[k]; ok {
			t.Errorf("%s still there after the refresh dropped it", k)
		}
	}
	if _, ok := dropped.Labels["team"]; ok {
		t.Errorf("template label still there")
	}
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if !bytes.Equal(before.Data[k], dropped.Data[k]) {
			t.Errorf("%s changed", k)
		}
	}
	if !inspect(kube.InspectSecretInput{}) {
		t.Errorf("not up to date after dropping the outputs")
	}

	// The API server checks the resourceVersion an apply carries: a refresh that read an
	// older Secret cannot write its key pair back.
	stale := applycorev1.Secret("app-tls", ns).WithResourceVersion(before.ResourceVersion).WithData(map[string][]byte{"tls.crt": before.Data["tls.crt"]})
	if _, err := env.Kube.CoreV1().Secrets(ns).Apply(ctx, stale, metav1.ApplyOptions{FieldManager: conventions.FieldManager, Force: true}); !apierrors.IsConflict(err) {
		t.Errorf("apply with a stale resourceVersion: %v, want a conflict", err)
	}
	waitRevision(t, ns, "app", 1)
}

func secretKey(t *testing.T, s *corev1.Secret) crypto.Signer {
	t.Helper()
	k, err := keys.ParsePrivateKeyPEM(s.Data["tls.key"])
	if err != nil {
		t.Fatalf("tls.key: %v", err)
	}
	return k
}

func sameKey(a crypto.Signer, b any) bool {
	e, ok := a.(interface{ Equal(crypto.PrivateKey) bool })
	return ok && e.Equal(b)
}

func checkDER(t *testing.T, s *corev1.Secret, key crypto.Signer) {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(s.Data["key.der"])
	if err != nil || !sameKey(key, k) {
		t.Errorf("key.der is not tls.key as PKCS#8 DER (%v)", err)
	}
}

func checkCombinedPEM(t *testing.T, s *corev1.Secret) {
	t.Helper()
	combined := s.Data["tls-combined.pem"]
	if !bytes.HasPrefix(combined, s.Data["tls.key"]) || !bytes.HasSuffix(combined, s.Data["tls.crt"]) {
		t.Errorf("tls-combined.pem is not tls.key followed by tls.crt")
	}
	var types []string
	for rest := combined; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		types = append(types, b.Type)
	}
	if len(types) < 2 || !strings.HasSuffix(types[0], "PRIVATE KEY") || types[1] != "CERTIFICATE" {
		t.Errorf("tls-combined.pem blocks %v, want the private key then certificates", types)
	}
}

func checkPKCS12(t *testing.T, s *corev1.Secret, key crypto.Signer, leaf *x509.Certificate) {
	t.Helper()
	k, cert, _, err := pkcs12.DecodeChain(s.Data["keystore.p12"], outputsPassword)
	if err != nil {
		t.Fatalf("keystore.p12: %v", err)
	}
	if !sameKey(key, k) || !cert.Equal(leaf) {
		t.Errorf("keystore.p12 does not hold tls.key and tls.crt")
	}
	trusted, err := pkcs12.DecodeTrustStore(s.Data["truststore.p12"], outputsPassword)
	if err != nil {
		t.Fatalf("truststore.p12: %v", err)
	}
	ca, err := testkit.ParseLeaf(s.Data["ca.crt"])
	if err != nil || len(trusted) != 1 || !trusted[0].Equal(ca) {
		t.Errorf("truststore.p12 does not hold ca.crt (%v)", err)
	}
}

func checkJKS(t *testing.T, s *corev1.Secret, key crypto.Signer, leaf *x509.Certificate, alias string) {
	t.Helper()
	ks := jks.New()
	if err := ks.Load(bytes.NewReader(s.Data["keystore.jks"]), []byte(outputsPassword)); err != nil {
		t.Fatalf("keystore.jks: %v", err)
	}
	entry, err := ks.GetPrivateKeyEntry(alias, []byte(outputsPassword))
	if err != nil {
		t.Fatalf("keystore.jks entry %q: %v", alias, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(entry.PrivateKey)
	if err != nil || !sameKey(key, k) {
		t.Errorf("keystore.jks key is not tls.key (%v)", err)
	}
	if len(entry.CertificateChain) == 0 || !bytes.Equal(entry.CertificateChain[0].Content, leaf.Raw) {
		t.Errorf("keystore.jks chain does not start with tls.crt")
	}
	ts := jks.New()
	if err := ts.Load(bytes.NewReader(s.Data["truststore.jks"]), []byte(outputsPassword)); err != nil {
		t.Fatalf("truststore.jks: %v", err)
	}
	ca, err := ts.GetTrustedCertificateEntry("ca")
	if block, _ := pem.Decode(s.Data["ca.crt"]); err != nil || block == nil || !bytes.Equal(ca.Certificate.Content, block.Bytes) {
		t.Errorf("truststore.jks entry ca is not ca.crt (%v)", err)
	}
}
