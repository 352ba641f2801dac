package kube

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmfake "github.com/certflow/certflow/client/clientset/versioned/fake"
)

func TestRedactKeystorePasswords(t *testing.T) {
	if RedactKeystorePasswords(nil) != nil {
		t.Error("nil keystores redacted to non-nil")
	}
	ks, _ := allOutputs()
	r := RedactKeystorePasswords(ks)
	if !redactedPassword(r.JKS.Password, r.JKS.PasswordSecretRef) {
		t.Errorf("JKS inline password not redacted: %+v", r.JKS)
	}
	// A worker older than the redaction, which knows only password and passwordSecretRef
	// with a Secret name, finds neither: the keystore fails instead of using the marker.
	if r.JKS.Password != nil || r.JKS.PasswordSecretRef.Name != "" {
		t.Errorf("redacted JKS keystore %+v still names a password an older worker would use", r.JKS)
	}
	if r.PKCS12.Password != nil || r.PKCS12.PasswordSecretRef != ks.PKCS12.PasswordSecretRef {
		t.Errorf("PKCS#12 passwordSecretRef changed: %+v", r.PKCS12)
	}
	if *ks.JKS.Password != jksPassword || ks.JKS.PasswordSecretRef.Key != "" {
		t.Errorf("the original keystores were changed: %+v", ks.JKS)
	}
	if again := RedactKeystorePasswords(r); !equality.Semantic.DeepEqual(again, r) {
		t.Errorf("redacting twice changed the keystores: %+v, want %+v", again, r)
	}
}

// redactFixture is a key Secret, the PKCS#12 password Secret and Certificate "web" of
// the given generation with every extra output (JKS with an inline password).
func redactFixture(t *testing.T, generation int64) (*Activities, keyPair, *cmapi.Certificate, []cmapi.CertificateAdditionalOutputFormat) {
	t.Helper()
	kp := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	a, _ := newActivities(keySecret(kp), passwordSecret(map[string][]byte{"p12": []byte(p12Password)}))
	ks, formats := allOutputs()
	cert := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: testNS, Generation: generation}, Spec: cmapi.CertificateSpec{SecretName: testSecret, Keystores: ks}}
	return a, kp, cert, formats
}

// A redacted password is read from the generation of the Certificate the workflow acts
// on: a watch cache that still has an older generation (with the password before) is
// passed over for a read from etcd.
func TestRedactedInlinePasswordNotFromStaleCache(t *testing.T) {
	ctx := context.Background()
	a, kp, cert, formats := redactFixture(t, 3)
	ks := cert.Spec.Keystores
	stale := cert.DeepCopy()
	stale.Generation = 2
	old := "the-password-of-generation-2"
	stale.Spec.Keystores.JKS.Password = &old
	cf := cmfake.NewSimpleClientset(cert)
	var cacheReads, etcdReads int
	cf.PrependReactor("get", "certificates", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.(k8stesting.GetActionImpl).GetGetOptions().ResourceVersion == "0" {
			cacheReads++
			return true, stale.DeepCopy(), nil
		}
		etcdReads++
		return false, nil, nil
	})
	a.CertFlow = cf

	in := writeInput(kp, RedactKeystorePasswords(ks), formats, nil)
	in.CertificateGeneration = 3
	if _, err := a.WriteCertificateSecret(ctx, in); err != nil {
		t.Fatal(err)
	}
	checkOutputs(t, getSecret(t, a), kp) // opens with jksPassword, generation 3's
	// The confirmation before the write reads the (stale) cache, which names the same
	// Certificate; the password is read from etcd, the cache being behind the generation.
	if cacheReads != 2 || etcdReads != 1 {
		t.Errorf("reads of the Certificate: %d from the cache, %d from etcd; want two from the cache, one from etcd", cacheReads, etcdReads)
	}

	// The cache holding the generation asked for is enough.
	in.CertificateGeneration = 2
	cacheReads, etcdReads = 0, 0
	if _, err := a.InspectSecret(ctx, InspectSecretInput{Namespace: testNS, SecretName: testSecret, CertificateName: "web", CertificateGeneration: 2, Keystores: in.Keystores, AdditionalOutputFormats: formats}); err != nil {
		t.Fatal(err)
	}
	if cacheReads != 1 || etcdReads != 0 {
		t.Errorf("reads of the Certificate: %d from the cache, %d from etcd; want the cache only", cacheReads, etcdReads)
	}
}

// A redacted inline password is read from the Certificate: the keystore it writes opens
// with the Certificate's password, a password changed on the Certificate makes the
// outputs stale, and a Certificate without that keystore is an error, not a keystore
// with an empty password.
func TestRedactedInlinePasswordReadFromCertificate(t *testing.T) {
	ctx := context.Background()
	a, kp, cert, formats := redactFixture(t, 0)
	ks := cert.Spec.Keystores
	cf := cmfake.NewSimpleClientset(cert)
	a.CertFlow = cf
	redacted := RedactKeystorePasswords(ks)

	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, redacted, formats, nil)); err != nil {
		t.Fatal(err)
	}
	checkOutputs(t, getSecret(t, a), kp) // JKS opens with jksPassword, the Certificate's
	inspect := InspectSecretInput{Namespace: testNS, SecretName: testSecret, CertificateName: "web", Keystores: redacted, AdditionalOutputFormats: formats}
	if st, err := a.InspectSecret(ctx, inspect); err != nil || !st.OutputsUpToDate {
		t.Errorf("InspectSecret with the redacted password: %+v, %v; want outputs up to date", st, err)
	}

	other := "changed-on-the-certificate"
	cert.Spec.Keystores.JKS.Password = &other
	if _, err := cf.CertmanagerV1().Certificates(testNS).Update(ctx, cert, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := a.InspectSecret(ctx, inspect); err != nil || st.OutputsUpToDate {
		t.Errorf("InspectSecret after the Certificate's password changed: %+v, %v; want outputs stale", st, err)
	}

	cert.Spec.Keystores.JKS = nil
	if _, err := cf.CertmanagerV1().Certificates(testNS).Update(ctx, cert, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteCertificateSecret(ctx, writeInput(kp, redacted, formats, nil)); errorType(err) != ErrTypeInvalidKeystorePassword {
		t.Errorf("JKS gone from the Certificate: %v, want %s", err, ErrTypeInvalidKeystorePassword)
	}
	in := writeInput(kp, redacted, formats, nil)
	in.CertificateName = ""
	if _, err := a.WriteCertificateSecret(ctx, in); errorType(err) != ErrTypeObjectGone {
		t.Errorf("no Certificate name: %v, want %s (nothing is written for no Certificate)", err, ErrTypeObjectGone)
	}
}
