package kube

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	cmfake "github.com/certflow/certflow/client/clientset/versioned/fake"
	"github.com/certflow/certflow/pki"
	"github.com/certflow/certflow/pki/keystores"
	"github.com/certflow/certflow/pki/pkitest"
)

const (
	testNS      = "apps"
	testSecret  = "web-tls"
	testKeyName = "web-next-key"
	p12Password = "p12-s3cret"
	jksPassword = "jks-s3cret"
)

// keyPair is a key and a certificate for it, issued by a CA.
type keyPair struct {
	key            crypto.Signer
	keyPEM         []byte
	certPEM, caPEM []byte
	leaf, ca       *x509.Certificate
}

func newKeyPair(t *testing.T, alg cmapi.PrivateKeyAlgorithm) keyPair {
	t.Helper()
	gen := func(alg cmapi.PrivateKeyAlgorithm) crypto.Signer {
		k, err := keys.GenerateKey(keys.KeySpec{Algorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, key := gen(cmapi.ECDSAKeyAlgorithm), gen(alg)
	now := time.Now().Truncate(time.Second)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now, NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca := pkitest.Issue(t, caTmpl, nil, caKey.Public(), caKey)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "web.example.com"}, DNSNames: []string{"web.example.com"},
		NotBefore: now, NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leaf := pkitest.Issue(t, leafTmpl, ca, key.Public(), caKey)
	keyPEM, err := keys.EncodePrivateKey(key, cmapi.PKCS1)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{
		key: key, keyPEM: keyPEM, leaf: leaf, ca: ca,
		certPEM: pkitest.PEM(leaf), caPEM: pkitest.PEM(ca),
	}
}

func keySecret(kp keyPair) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: testKeyName, Namespace: testNS}, Data: map[string][]byte{"tls.key": kp.keyPEM}}
}

func passwordSecret(data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "keystore-pw", Namespace: testNS}, Data: data}
}

// newActivities has objs in its Kubernetes client and Certificate "web", whose
// secretName is testSecret, in its certflow client: the writes confirm it.
func newActivities(objs ...runtime.Object) (*Activities, *fake.Clientset) {
	cs := fake.NewClientset(objs...)
	web := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: testNS}, Spec: cmapi.CertificateSpec{SecretName: testSecret}}
	return &Activities{Kube: cs, CertFlow: cmfake.NewSimpleClientset(web)}, cs
}

// allOutputs asks for every extra output: PKCS#12 with its password in a Secret, JKS with
// an inline password and a custom alias.
func allOutputs() (*cmapi.CertificateKeystores, []cmapi.CertificateAdditionalOutputFormat) {
	alias := "web"
	pw := jksPassword
	return &cmapi.CertificateKeystores{
			PKCS12: &cmapi.PKCS12Keystore{Create: true, Profile: cmapi.Modern2023PKCS12Profile,
				PasswordSecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "keystore-pw"}, Key: "p12"}},
			JKS: &cmapi.JKSKeystore{Create: true, Alias: &alias, Password: &pw},
		}, []cmapi.CertificateAdditionalOutputFormat{
			{Type: cmapi.CertificateOutputFormatDER}, {Type: cmapi.CertificateOutputFormatCombinedPEM},
		}
}

func writeInput(kp keyPair, ks *cmapi.CertificateKeystores, formats []cmapi.CertificateAdditionalOutputFormat, tmpl *cmapi.CertificateSecretTemplate) WriteSecretInput {
	return WriteSecretInput{
		Namespace: testNS, CertificateName: "web", SecretName: testSecret,
		Key:            keys.KeyRef{Namespace: testNS, SecretName: testKeyName, DataKey: "tls.key"},
		CertificatePEM: kp.certPEM, CAPEM: kp.caPEM,
		IssuerName: "ca", IssuerKind: "Issuer", IssuerGroup: "cert-manager.io",
		SecretTemplate: tmpl, Keystores: ks, AdditionalOutputFormats: formats,
	}
}

func getSecret(t *testing.T, a *Activities) *corev1.Secret {
	t.Helper()
	s, err := a.Kube.CoreV1().Secrets(testNS).Get(context.Background(), testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writes counts the actions that change objects.
func writes(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
		default:
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

// checkOutputs decodes every extra key of s and compares it with kp.
func checkOutputs(t *testing.T, s *corev1.Secret, kp keyPair) {
	t.Helper()
	der, err := keystores.DER(kp.key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Data[cmapi.CertificateOutputFormatDERKey], der) {
		t.Errorf("key.der is not the PKCS#8 DER of tls.key")
	}
	if got, want := s.Data[cmapi.CertificateOutputFormatCombinedPEMKey], keystores.CombinedPEM(kp.keyPEM, kp.certPEM); !bytes.Equal(got, want) {
		t.Errorf("tls-combined.pem is not tls.key followed by tls.crt")
	}
	key, chain, err := keystores.DecodePKCS12(s.Data[cmapi.PKCS12SecretKey], p12Password)
	if err != nil {
		t.Fatalf("keystore.p12: %v", err)
	}
	if !pki.PrivateKeysEqual(key, kp.key) || len(chain) != 2 || !chain[0].Equal(kp.leaf) || !chain[1].Equal(kp.ca) {
		t.Errorf("keystore.p12 does not hold the key, leaf and CA")
	}
	if p, err := keystores.PKCS12ProfileOf(s.Data[cmapi.PKCS12SecretKey]); err != nil || p != cmapi.Modern2023PKCS12Profile {
		t.Errorf("keystore.p12 profile %q (%v), want Modern2023", p, err)
	}
	cas, err := keystores.DecodePKCS12Truststore(s.Data[cmapi.PKCS12TruststoreKey], p12Password)
	if err != nil || len(cas) != 1 || !cas[0].Equal(kp.ca) {
		t.Errorf("truststore.p12 does not hold the CA (%v)", err)
	}
	ks, err := keystores.DecodeJKS(s.Data[cmapi.JKSSecretKey], "web", jksPassword)
	if err != nil {
		t.Fatalf("keystore.jks: %v", err)
	}
	if ks.Key == nil || !pki.PrivateKeysEqual(ks.Key, kp.key) || len(ks.Chain) != 1 || !ks.Chain[0].Equal(kp.leaf) || len(ks.Trusted) != 1 || !ks.Trusted[0].Equal(kp.ca) {
		t.Errorf("keystore.jks does not hold the key and leaf under alias web, and the CA")
	}
	ts, err := keystores.DecodeJKS(s.Data[cmapi.JKSTruststoreKey], "", jksPassword)
	if err != nil || ts.Key != nil || len(ts.Trusted) != 1 || !ts.Trusted[0].Equal(kp.ca) {
		t.Errorf("truststore.jks does not hold just the CA (%v)", err)
	}
}

func errorType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

func TestWriteCertificateSecretOutputs(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []cmapi.PrivateKeyAlgorithm{cmapi.RSAKeyAlgorithm, cmapi.ECDSAKeyAlgorithm, cmapi.Ed25519KeyAlgorithm} {
		t.Run(string(alg), func(t *testing.T) {
			kp := newKeyPair(t, alg)
			a, cs := newActivities(keySecret(kp), passwordSecret(map[string][]byte{"p12": []byte(p12Password)}))
			ks, formats := allOutputs()
			tmpl := &cmapi.CertificateSecretTemplate{Labels: map[string]string{"team": "web"}, Annotations: map[string]string{"note": "hi"}}
			if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, ks, formats, tmpl)); err != nil {
				t.Fatal(err)
			}
			if w := writes(cs); len(w) != 1 || w[0] != "patch secrets" {
				t.Errorf("API writes %v, want one apply of the Secret", w)
			}
			s := getSecret(t, a)
			checkOutputs(t, s, kp)
			if !bytes.Equal(s.Data[TLSKeyKey], kp.keyPEM) || !bytes.Equal(s.Data[TLSCertKey], kp.certPEM) || !bytes.Equal(s.Data[CACertKey], kp.caPEM) {
				t.Errorf("tls.key/tls.crt/ca.crt not as issued")
			}
			if s.Labels["team"] != "web" || s.Annotations["note"] != "hi" || s.Labels[conventions.ManagedSecretLabel] != "true" {
				t.Errorf("metadata: labels %v annotations %v", s.Labels, s.Annotations)
			}

			st, err := a.InspectSecret(ctx, InspectSecretInput{Namespace: testNS, SecretName: testSecret, Keystores: ks, AdditionalOutputFormats: formats, SecretTemplate: tmpl})
			if err != nil || !st.OutputsUpToDate || !st.KeyMatchesCertificate {
				t.Errorf("InspectSecret after write: %+v, %v; want outputs up to date", st, err)
			}
		})
	}
}

// Running the activity again writes the same bytes: keystores with random salts are
// reused while they still decode to the key pair.
func TestWriteCertificateSecretIsIdempotent(t *testing.T) {
	ctx := context.Background()
	kp := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	a, _ := newActivities(keySecret(kp), passwordSecret(map[string][]byte{"p12": []byte(p12Password)}))
	ks, formats := allOutputs()
	in := writeInput(kp, ks, formats, nil)
	if _, err := a.WriteCertificateSecret(ctx, in); err != nil {
		t.Fatal(err)
	}
	first := getSecret(t, a)
	if _, err := a.WriteCertificateSecret(ctx, in); err != nil {
		t.Fatal(err)
	}
	second := getSecret(t, a)
	for _, k := range outputKeys {
		if !bytes.Equal(first.Data[k], second.Data[k]) {
			t.Errorf("%s changed on a re-run", k)
		}
	}

	// A new certificate gets new keystores.
	kp2 := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	if _, err := a.Kube.CoreV1().Secrets(testNS).Update(ctx, keySecret(kp2), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp2, ks, formats, nil)); err != nil {
		t.Fatal(err)
	}
	checkOutputs(t, getSecret(t, a), kp2)

	// A changed password or profile is not reused either.
	ks.PKCS12.Profile = cmapi.LegacyDESPKCS12Profile
	newPW := "another"
	ks.JKS.Password = &newPW
	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp2, ks, formats, nil)); err != nil {
		t.Fatal(err)
	}
	s := getSecret(t, a)
	if p, _ := keystores.PKCS12ProfileOf(s.Data[cmapi.PKCS12SecretKey]); p != cmapi.LegacyDESPKCS12Profile {
		t.Errorf("keystore.p12 profile %q after the spec changed to LegacyDES", p)
	}
	if _, err := keystores.DecodeJKS(s.Data[cmapi.JKSSecretKey], "web", newPW); err != nil {
		t.Errorf("keystore.jks does not open with the new password: %v", err)
	}
}

// Extra keys that the spec stops asking for disappear with the next apply (server-side
// apply removes fields their only manager no longer lists), and unwanted keys certflow
// applied make InspectSecret say the outputs are out of date.
func TestRemovedOutputsDisappear(t *testing.T) {
	ctx := context.Background()
	kp := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	a, _ := newActivities(keySecret(kp), passwordSecret(map[string][]byte{"p12": []byte(p12Password)}))
	ks, formats := allOutputs()
	tmpl := &cmapi.CertificateSecretTemplate{Labels: map[string]string{"team": "web"}}
	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, ks, formats, tmpl)); err != nil {
		t.Fatal(err)
	}
	for _, k := range outputKeys {
		if len(getSecret(t, a).Data[k]) == 0 {
			t.Fatalf("%s missing after the first write", k)
		}
	}

	// Without the outputs and the template, the Secret is out of date...
	inspectIn := InspectSecretInput{Namespace: testNS, SecretName: testSecret}
	if st, err := a.InspectSecret(ctx, inspectIn); err != nil || st.OutputsUpToDate {
		t.Errorf("InspectSecret with outputs removed from the spec: up to date %v (%v), want false", st.OutputsUpToDate, err)
	}
	// ...until the next apply, which removes them.
	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	s := getSecret(t, a)
	for _, k := range outputKeys {
		if _, ok := s.Data[k]; ok {
			t.Errorf("%s still in the Secret after the spec dropped it", k)
		}
	}
	if _, ok := s.Labels["team"]; ok {
		t.Errorf("template label still there after the template dropped it")
	}
	if !bytes.Equal(s.Data[TLSCertKey], kp.certPEM) || s.Labels[conventions.ManagedSecretLabel] != "true" {
		t.Errorf("the apply lost tls.crt or the managed label")
	}
	if st, err := a.InspectSecret(ctx, inspectIn); err != nil || !st.OutputsUpToDate {
		t.Errorf("InspectSecret after the removal: up to date %v (%v), want true", st.OutputsUpToDate, err)
	}

	// A key another manager wrote is not certflow's to remove: it does not count.
	s.Data["extra.txt"] = []byte("theirs")
	s.Data[cmapi.CertificateOutputFormatDERKey] = []byte("theirs too")
	if _, err := a.Kube.CoreV1().Secrets(testNS).Update(ctx, s, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if st, err := a.InspectSecret(ctx, inspectIn); err != nil || !st.OutputsUpToDate {
		t.Errorf("InspectSecret with a key another manager wrote: up to date %v (%v), want true", st.OutputsUpToDate, err)
	}
}

func TestKeystorePasswordErrors(t *testing.T) {
	ctx := context.Background()
	kp := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	ks, formats := allOutputs()
	for name, objs := range map[string][]runtime.Object{
		"Secret missing": {keySecret(kp)},
		"key missing":    {keySecret(kp), passwordSecret(map[string][]byte{"other": []byte("x")})},
		"key empty":      {keySecret(kp), passwordSecret(map[string][]byte{"p12": {}})},
	} {
		t.Run(name, func(t *testing.T) {
			a, cs := newActivities(objs...)
			_, err := a.WriteCertificateSecret(ctx, writeInput(kp, ks, formats, nil))
			if errorType(err) != ErrTypeInvalidKeystorePassword {
				t.Fatalf("error %v (type %q), want %s", err, errorType(err), ErrTypeInvalidKeystorePassword)
			}
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr); !appErr.NonRetryable() {
				t.Errorf("error is retryable")
			}
			if msg := err.Error(); !strings.Contains(msg, testNS+"/keystore-pw") || !strings.Contains(msg, `"p12"`) {
				t.Errorf("error %q does not name the Secret and the key", msg)
			}
			if strings.Contains(err.Error(), jksPassword) {
				t.Errorf("error quotes a password")
			}
			if w := writes(cs); len(w) != 0 {
				t.Errorf("wrote %v despite the error", w)
			}
			// InspectSecret cannot verify the keystores: not up to date, no error.
			if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, nil, nil, nil)); err != nil {
				t.Fatal(err)
			}
			st, err := a.InspectSecret(ctx, InspectSecretInput{Namespace: testNS, SecretName: testSecret, Keystores: ks})
			if err != nil || st.OutputsUpToDate || !st.KeyMatchesCertificate {
				t.Errorf("InspectSecret: %+v, %v", st, err)
			}
			err = a.RefreshSecretOutputs(ctx, RefreshOutputsInput{Namespace: testNS, CertificateName: "web", SecretName: testSecret, Keystores: ks})
			if errorType(err) != ErrTypeInvalidKeystorePassword {
				t.Errorf("RefreshSecretOutputs: %v, want %s", err, ErrTypeInvalidKeystorePassword)
			}
		})
	}
}

// InspectSecret notices each way the extra outputs can fall behind the spec.
func TestInspectSecretOutputsUpToDate(t *testing.T) {
	ctx := context.Background()
	kp := newKeyPair(t, cmapi.RSAKeyAlgorithm)
	a, _ := newActivities(keySecret(kp), passwordSecret(map[string][]byte{"p12": []byte(p12Password)}))
	ks, formats := allOutputs()
	tmpl := &cmapi.CertificateSecretTemplate{Labels: map[string]string{"team": "web"}, Annotations: map[string]string{"note": "hi"}}
	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, ks, formats, tmpl)); err != nil {
		t.Fatal(err)
	}
	base := func() InspectSecretInput {
		ks, formats := allOutputs()
		return InspectSecretInput{Namespace: testNS, SecretName: testSecret, Keystores: ks, AdditionalOutputFormats: formats,
			SecretTemplate: &cmapi.CertificateSecretTemplate{Labels: map[string]string{"team": "web"}, Annotations: map[string]string{"note": "hi"}}}
	}
	other := "other"
	cases := []struct {
		name   string
		change func(*InspectSecretInput)
		want   bool
	}{
		{"as written", func(*InspectSecretInput) {}, true},
		{"template annotation of a certificate annotation is ignored", func(in *InspectSecretInput) {
			in.SecretTemplate.Annotations[cmapi.CommonNameAnnotationKey] = "x"
		}, true},
		{"JKS password changed", func(in *InspectSecretInput) { in.Keystores.JKS.Password = &other }, false},
		{"JKS alias changed", func(in *InspectSecretInput) { in.Keystores.JKS.Alias = &other }, false},
		{"PKCS12 profile changed", func(in *InspectSecretInput) { in.Keystores.PKCS12.Profile = cmapi.LegacyRC2PKCS12Profile }, false},
		{"PKCS12 password key changed", func(in *InspectSecretInput) { in.Keystores.PKCS12.PasswordSecretRef.Key = "nope" }, false},
		{"JKS disabled", func(in *InspectSecretInput) { in.Keystores.JKS.Create = false }, false},
		{"DER dropped", func(in *InspectSecretInput) { in.AdditionalOutputFormats = in.AdditionalOutputFormats[1:] }, false},
		{"template label added", func(in *InspectSecretInput) { in.SecretTemplate.Labels["tier"] = "front" }, false},
		{"template label value changed", func(in *InspectSecretInput) { in.SecretTemplate.Labels["team"] = "api" }, false},
		{"template annotation dropped", func(in *InspectSecretInput) { in.SecretTemplate.Annotations = nil }, false},
		{"template dropped", func(in *InspectSecretInput) { in.SecretTemplate = nil }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.change(&in)
			st, err := a.InspectSecret(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if st.OutputsUpToDate != c.want {
				t.Errorf("OutputsUpToDate = %v, want %v", st.OutputsUpToDate, c.want)
			}
		})
	}

	// A keystore edited by hand (here: for another key pair) is out of date.
	s := getSecret(t, a)
	other2 := newKeyPair(t, cmapi.RSAKeyAlgorithm)
	m, err := newMaterial(other2.keyPEM, other2.certPEM, other2.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	s.Data[cmapi.PKCS12SecretKey], err = keystores.PKCS12(m.key, keystores.Chain(m.certs, m.cas), p12Password, cmapi.Modern2023PKCS12Profile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Kube.CoreV1().Secrets(testNS).Update(ctx, s, metav1.UpdateOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	if st, err := a.InspectSecret(ctx, base()); err != nil || st.OutputsUpToDate {
		t.Errorf("keystore.p12 of another key pair: up to date %v (%v), want false", st.OutputsUpToDate, err)
	}

	// No Secret, or no valid key pair: never up to date.
	if st, _ := a.InspectSecret(ctx, InspectSecretInput{Namespace: testNS, SecretName: "nope"}); st.OutputsUpToDate {
		t.Errorf("missing Secret is up to date")
	}
}

// RefreshSecretOutputs adds keystores and metadata to a Secret issued without them, from
// the key pair in it, without touching tls.crt/tls.key/ca.crt, and removes them again.
func TestRefreshSecretOutputs(t *testing.T) {
	ctx := context.Background()
	kp := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	a, cs := newActivities(keySecret(kp), passwordSecret(map[string][]byte{"p12": []byte(p12Password)}))
	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	before := getSecret(t, a)

	ks, formats := allOutputs()
	tmpl := &cmapi.CertificateSecretTemplate{Labels: map[string]string{"team": "web"}, Annotations: map[string]string{"note": "hi"}}
	inspectIn := InspectSecretInput{Namespace: testNS, SecretName: testSecret, Keystores: ks, AdditionalOutputFormats: formats, SecretTemplate: tmpl}
	if st, _ := a.InspectSecret(ctx, inspectIn); st.OutputsUpToDate {
		t.Fatalf("up to date before the refresh")
	}
	in := RefreshOutputsInput{Namespace: testNS, CertificateName: "web", SecretName: testSecret, SecretTemplate: tmpl, Keystores: ks, AdditionalOutputFormats: formats}
	cs.ClearActions()
	if err := a.RefreshSecretOutputs(ctx, in); err != nil {
		t.Fatal(err)
	}
	if w := writes(cs); len(w) != 1 || w[0] != "patch secrets" {
		t.Errorf("API writes %v, want one apply", w)
	}
	after := getSecret(t, a)
	checkOutputs(t, after, kp)
	for _, k := range []string{TLSCertKey, TLSKeyKey, CACertKey} {
		if !bytes.Equal(before.Data[k], after.Data[k]) {
			t.Errorf("%s changed", k)
		}
	}
	for k, v := range before.Annotations {
		if after.Annotations[k] != v {
			t.Errorf("annotation %s = %q, was %q", k, after.Annotations[k], v)
		}
	}
	if after.Labels["team"] != "web" || after.Annotations["note"] != "hi" || after.Type != corev1.SecretTypeTLS {
		t.Errorf("metadata after refresh: type %s labels %v annotations %v", after.Type, after.Labels, after.Annotations)
	}
	if st, err := a.InspectSecret(ctx, inspectIn); err != nil || !st.OutputsUpToDate {
		t.Errorf("InspectSecret after the refresh: up to date %v (%v)", st.OutputsUpToDate, err)
	}

	// Twice changes nothing.
	if err := a.RefreshSecretOutputs(ctx, in); err != nil {
		t.Fatal(err)
	}
	again := getSecret(t, a)
	for _, k := range outputKeys {
		if !bytes.Equal(after.Data[k], again.Data[k]) {
			t.Errorf("%s changed on a second refresh", k)
		}
	}

	// Dropping everything removes it again, keeping the key pair and its annotations.
	if err := a.RefreshSecretOutputs(ctx, RefreshOutputsInput{Namespace: testNS, CertificateName: "web", SecretName: testSecret}); err != nil {
		t.Fatal(err)
	}
	dropped := getSecret(t, a)
	for _, k := range outputKeys {
		if _, ok := dropped.Data[k]; ok {
			t.Errorf("%s still there", k)
		}
	}
	if _, ok := dropped.Labels["team"]; ok {
		t.Errorf("template label still there")
	}
	if _, ok := dropped.Annotations["note"]; ok {
		t.Errorf("template annotation still there")
	}
	for _, k := range []string{TLSCertKey, TLSKeyKey, CACertKey} {
		if !bytes.Equal(before.Data[k], dropped.Data[k]) {
			t.Errorf("%s changed", k)
		}
	}
	for k, v := range before.Annotations {
		if dropped.Annotations[k] != v {
			t.Errorf("annotation %s = %q, was %q", k, dropped.Annotations[k], v)
		}
	}
	if st, err := a.InspectSecret(ctx, InspectSecretInput{Namespace: testNS, SecretName: testSecret}); err != nil || !st.OutputsUpToDate {
		t.Errorf("InspectSecret after dropping: up to date %v (%v)", st.OutputsUpToDate, err)
	}
}

// A Secret changed between the read and the apply is not overwritten with the old key
// pair: the apply carries the resourceVersion read, which the API server checks (the
// fake clientset does not, so the reactor plays the API server), and the conflict is
// a retryable error.
func TestRefreshSecretOutputsConflict(t *testing.T) {
	ctx := context.Background()
	kp := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	a, cs := newActivities(keySecret(kp))
	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	rv := getSecret(t, a).ResourceVersion
	var patch string
	cs.PrependReactor("patch", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		patch = string(action.(k8stesting.PatchAction).GetPatch())
		return true, nil, apierrors.NewConflict(corev1.Resource("secrets"), testSecret, errors.New("the object has been modified"))
	})
	err := a.RefreshSecretOutputs(ctx, RefreshOutputsInput{Namespace: testNS, CertificateName: "web", SecretName: testSecret,
		AdditionalOutputFormats: []cmapi.CertificateAdditionalOutputFormat{{Type: cmapi.CertificateOutputFormatDER}}})
	if !strings.Contains(patch, `"resourceVersion":"`+rv+`"`) {
		t.Errorf("the apply does not carry resourceVersion %s: %s", rv, patch)
	}
	if err == nil {
		t.Fatalf("no error on a conflict")
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		t.Errorf("conflict is not retryable: %v", err)
	}
}

func TestRefreshSecretOutputsNeedsAKeyPair(t *testing.T) {
	ctx := context.Background()
	kp, other := newKeyPair(t, cmapi.ECDSAKeyAlgorithm), newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	mismatched := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: testSecret, Namespace: testNS}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{TLSCertKey: kp.certPEM, TLSKeyKey: other.keyPEM}}
	for name, objs := range map[string][]runtime.Object{"no Secret": nil, "mismatched key": {mismatched}} {
		t.Run(name, func(t *testing.T) {
			a, cs := newActivities(objs...)
			err := a.RefreshSecretOutputs(ctx, RefreshOutputsInput{Namespace: testNS, CertificateName: "web", SecretName: testSecret})
			if errorType(err) != ErrTypeSecretNotReady {
				t.Errorf("error %v, want %s", err, ErrTypeSecretNotReady)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error quotes key material")
			}
			if w := writes(cs); len(w) != 0 {
				t.Errorf("wrote %v", w)
			}
		})
	}
}

// A workflow task that wrote the Secret and deleted the next-key Secret but was not
// recorded runs the write again: the key is the one the Secret already holds with the
// issued certificate. Without that, or with another certificate in the Secret, the
// missing key Secret is the error.
func TestWriteCertificateSecretAfterTheKeySecretWasDeleted(t *testing.T) {
	ctx := context.Background()
	kp := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	a, _ := newActivities(keySecret(kp))
	in := writeInput(kp, nil, nil, nil)
	first, err := a.WriteCertificateSecret(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Kube.CoreV1().Secrets(testNS).Delete(ctx, testKeyName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := a.WriteCertificateSecret(ctx, in)
	if err != nil {
		t.Fatalf("write again after the key Secret was deleted: %v", err)
	}
	if !reflect.DeepEqual(again, first) || !bytes.Equal(getSecret(t, a).Data[TLSKeyKey], kp.keyPEM) {
		t.Errorf("write again: %+v and key changed, want %+v and the same key", again, first)
	}

	other := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	var appErr *temporal.ApplicationError
	if _, err := a.WriteCertificateSecret(ctx, writeInput(other, nil, nil, nil)); !errors.As(err, &appErr) || appErr.Type() != keys.ErrTypePrivateKeySecretNotFound {
		t.Errorf("another certificate without its key Secret: %v, want %s", err, keys.ErrTypePrivateKeySecretNotFound)
	}
}
