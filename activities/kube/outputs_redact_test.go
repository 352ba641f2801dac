package kube

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmfake "github.com/certflow/certflow/client/clientset/versioned/fake"
)

func TestRedactKeystorePasswords(t *testing.T) {
	if RedactKeystorePasswords(nil) != nil {
		t.Error("nil keystores redacted to non-nil")
	}
	ks, _ := allOutputs()
	r := RedactKeystorePasswords(ks)
	if r.JKS.Password == nil || *r.JKS.Password != InlinePasswordRedacted {
		t.Errorf("JKS inline password not redacted: %v", r.JKS.Password)
	}
	if r.PKCS12.Password != nil || r.PKCS12.PasswordSecretRef != ks.PKCS12.PasswordSecretRef {
		t.Errorf("PKCS#12 passwordSecretRef changed: %+v", r.PKCS12)
	}
	if *ks.JKS.Password != jksPassword {
		t.Errorf("the original keystores were changed: %q", *ks.JKS.Password)
	}
}

// A redacted inline password is read from the Certificate: the keystore it writes opens
// with the Certificate's password, a password changed on the Certificate makes the
// outputs stale, and a Certificate without that keystore is an error, not a keystore
// with an empty password.
func TestRedactedInlinePasswordReadFromCertificate(t *testing.T) {
	ctx := context.Background()
	kp := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	a, _ := newActivities(keySecret(kp), passwordSecret(map[string][]byte{"p12": []byte(p12Password)}))
	ks, formats := allOutputs()
	cert := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: testNS}, Spec: cmapi.CertificateSpec{SecretName: testSecret, Keystores: ks}}
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
	if _, err := a.WriteCertificateSecret(ctx, in); errorType(err) != ErrTypeInvalidKeystorePassword {
		t.Errorf("no Certificate name: %v, want %s", err, ErrTypeInvalidKeystorePassword)
	}
}
