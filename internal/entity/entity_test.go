package entity

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

func TestManualRenewRequest(t *testing.T) {
	ts := metav1.NewTime(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	cond := func(status cmmeta.ConditionStatus, reason string) cmapi.CertificateCondition {
		return cmapi.CertificateCondition{Type: cmapi.CertificateConditionIssuing, Status: status, Reason: reason, LastTransitionTime: &ts}
	}
	tests := []struct {
		name  string
		conds []cmapi.CertificateCondition
		want  string
	}{
		{"no conditions", nil, ""},
		{"issuing for another reason", []cmapi.CertificateCondition{cond(cmmeta.ConditionTrue, "Renewing")}, ""},
		{"issuing false", []cmapi.CertificateCondition{cond(cmmeta.ConditionFalse, "ManuallyTriggered")}, ""},
		{"cmctl renew", []cmapi.CertificateCondition{cond(cmmeta.ConditionTrue, "ManuallyTriggered")}, "2026-05-01T10:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &cmapi.Certificate{Status: cmapi.CertificateStatus{Conditions: tc.conds}}
			if got := ManualRenewToken(c); got != tc.want {
				t.Errorf("ManualRenewToken = %q, want %q", got, tc.want)
			}
		})
	}
}

// The spec signal carries no inline keystore password, and the Certificate in the
// informer cache keeps its own.
func TestSpecSignalRedactsInlinePasswords(t *testing.T) {
	pw, rev := "inline-s3cret", 3
	at := metav1.NewTime(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	cert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{UID: "uid-1", Generation: 2, Labels: map[string]string{"app": "web"}},
		Spec: cmapi.CertificateSpec{SecretName: "web-tls", Keystores: &cmapi.CertificateKeystores{
			PKCS12: &cmapi.PKCS12Keystore{Create: true, Password: &pw},
		}},
		Status: cmapi.CertificateStatus{Revision: &rev, Conditions: []cmapi.CertificateCondition{{
			Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue, Reason: "ManuallyTriggered", LastTransitionTime: &at,
		}}},
	}
	sig := CertificateSpec(cert)
	if got := sig.Spec.Keystores.PKCS12; got.Password != nil || got.PasswordSecretRef.Name != "" || got.PasswordSecretRef.Key != kube.InlinePasswordRedacted {
		t.Errorf("signalled PKCS#12 keystore %+v, want no password and the redaction marker", got)
	}
	if *cert.Spec.Keystores.PKCS12.Password != pw {
		t.Error("the cached Certificate's password was changed")
	}
	if sig.UID != "uid-1" || sig.Generation != 2 || sig.Revision != 3 || sig.ManualRenewToken != "2026-05-01T10:00:00Z" || sig.Labels["app"] != "web" || sig.Spec.SecretName != "web-tls" {
		t.Errorf("signal %+v", sig)
	}
}
