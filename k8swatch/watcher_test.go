package k8swatch

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

func TestLastManager(t *testing.T) {
	at := func(s int) *metav1.Time { t := metav1.NewTime(time.Unix(int64(s), 0)); return &t }
	tests := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    string
	}{
		{"none", nil, ""},
		{"certflow wrote last", []metav1.ManagedFieldsEntry{{Manager: "kubectl-edit", Time: at(1)}, {Manager: "certflow", Time: at(2)}}, "certflow"},
		{"user edited after certflow", []metav1.ManagedFieldsEntry{{Manager: "certflow", Time: at(2)}, {Manager: "kubectl-edit", Time: at(3)}}, "kubectl-edit"},
		{"same second: later entry wins", []metav1.ManagedFieldsEntry{{Manager: "certflow", Time: at(2)}, {Manager: "kubectl-edit", Time: at(2)}}, "kubectl-edit"},
		{"entries without time are ignored", []metav1.ManagedFieldsEntry{{Manager: "certflow", Time: at(2)}, {Manager: "x"}}, "certflow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &metav1.ObjectMeta{ManagedFields: tc.entries}
			if got := lastManager(m); got != tc.want {
				t.Errorf("lastManager = %q, want %q", got, tc.want)
			}
		})
	}
}

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
			if got := manualRenewRequest(c); got != tc.want {
				t.Errorf("manualRenewRequest = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadyFingerprintChangesWithEachTransition(t *testing.T) {
	t1, t2 := metav1.NewTime(time.Unix(100, 0)), metav1.NewTime(time.Unix(200, 0))
	ready := func(at *metav1.Time) []cmapi.IssuerCondition {
		return []cmapi.IssuerCondition{{Type: cmapi.IssuerConditionReady, Status: cmmeta.ConditionTrue, LastTransitionTime: at}}
	}
	notReady := []cmapi.IssuerCondition{{Type: cmapi.IssuerConditionReady, Status: cmmeta.ConditionFalse, LastTransitionTime: &t1}}
	if readyFingerprint(notReady) != "" || readyFingerprint(nil) != "" {
		t.Fatal("a not-ready issuer must have an empty fingerprint")
	}
	a, b := readyFingerprint(ready(&t1)), readyFingerprint(ready(&t2))
	if a == "" || b == "" || a == b {
		t.Fatalf("fingerprints %q and %q: want distinct, non-empty", a, b)
	}
}

func TestIndexes(t *testing.T) {
	c := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Spec: cmapi.CertificateSpec{SecretName: "s", IssuerRef: cmmeta.IssuerReference{Name: "ca"}}}
	if got, _ := issuerIndex(c); len(got) != 1 || got[0] != issuerIndexKey(kindIssuer, "ns", "ca") {
		t.Errorf("issuer index of an Issuer ref without kind = %v", got)
	}
	c.Spec.IssuerRef.Kind = kindClusterIssuer
	if got, _ := issuerIndex(c); len(got) != 1 || got[0] != issuerIndexKey(kindClusterIssuer, "", "ca") {
		t.Errorf("issuer index of a ClusterIssuer ref = %v (must not depend on the namespace)", got)
	}
	if got, _ := secretIndex(c); len(got) != 1 || got[0] != "ns/s" {
		t.Errorf("secret index = %v, want ns/s (the informer's cache key)", got)
	}
}

func TestNewestManagerOnlyKeepsWhatLastManagerReads(t *testing.T) {
	at := func(s int) *metav1.Time { t := metav1.NewTime(time.Unix(int64(s), 0)); return &t }
	m := &metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{
		{Manager: "certflow", Time: at(1), FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}},
		{Manager: "kubectl-edit", Time: at(2), FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}},
	}}
	before := lastManager(m)
	if _, err := newestManagerOnly(m); err != nil {
		t.Fatal(err)
	}
	if got := lastManager(m); got != before || len(m.ManagedFields) != 1 || m.ManagedFields[0].FieldsV1 != nil {
		t.Errorf("after the transform: manager %q (was %q), entries %+v", got, before, m.ManagedFields)
	}
}

// The spec signal carries no inline keystore password, and the Certificate in the
// informer cache keeps its own.
func TestSpecSignalRedactsInlinePasswords(t *testing.T) {
	pw, rev := "inline-s3cret", 3
	cert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{UID: "uid-1", Generation: 2, Labels: map[string]string{"app": "web"}},
		Spec: cmapi.CertificateSpec{SecretName: "web-tls", Keystores: &cmapi.CertificateKeystores{
			PKCS12: &cmapi.PKCS12Keystore{Create: true, Password: &pw},
		}},
		Status: cmapi.CertificateStatus{Revision: &rev},
	}
	sig := specSignal(cert, "token")
	if got := sig.Spec.Keystores.PKCS12; got.Password != nil || got.PasswordSecretRef.Name != "" || got.PasswordSecretRef.Key != kube.InlinePasswordRedacted {
		t.Errorf("signalled PKCS#12 keystore %+v, want no password and the redaction marker", got)
	}
	if *cert.Spec.Keystores.PKCS12.Password != pw {
		t.Error("the cached Certificate's password was changed")
	}
	if sig.UID != "uid-1" || sig.Generation != 2 || sig.Revision != 3 || sig.ManualRenewToken != "token" || sig.Labels["app"] != "web" || sig.Spec.SecretName != "web-tls" {
		t.Errorf("signal %+v", sig)
	}
}
