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

// Who asked for a manual renewal is the field manager that owns the Issuing condition's
// reason in the status's managedFields, the newest when several do; the watcher's lean
// cache keeps just that entry, and reads the same name from it.
func TestManualRenewRequester(t *testing.T) {
	at := func(min int) *metav1.Time {
		ts := metav1.NewTime(time.Date(2026, 5, 1, 10, min, 0, 0, time.UTC))
		return &ts
	}
	issuing := &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:conditions":{"k:{\"type\":\"Issuing\"}":{".":{},"f:reason":{},"f:status":{}}}}}`)}
	ready := &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{"f:reason":{}}},"f:revision":{}}}`)}
	cert := func(entries ...metav1.ManagedFieldsEntry) *cmapi.Certificate {
		c := &cmapi.Certificate{Status: cmapi.CertificateStatus{Conditions: []cmapi.CertificateCondition{{
			Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue, Reason: "ManuallyTriggered", LastTransitionTime: at(5),
		}}}}
		c.ManagedFields = entries
		return c
	}
	tests := []struct {
		name string
		cert *cmapi.Certificate
		want string
	}{
		{"nothing recorded", cert(), ""},
		{"the CLI", cert(
			metav1.ManagedFieldsEntry{Manager: "certflow", Operation: metav1.ManagedFieldsOperationApply, Subresource: "status", Time: at(6), FieldsV1: ready},
			metav1.ManagedFieldsEntry{Manager: "starter", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", Time: at(5), FieldsV1: issuing},
			metav1.ManagedFieldsEntry{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(7), FieldsV1: issuing},
		), "starter"},
		{"the newest of two", cert(
			metav1.ManagedFieldsEntry{Manager: "starter", Subresource: "status", Time: at(4), FieldsV1: issuing},
			metav1.ManagedFieldsEntry{Manager: "kubectl-edit", Subresource: "status", Time: at(5), FieldsV1: issuing},
		), "kubectl-edit"},
		{"a field set that is not JSON", cert(
			metav1.ManagedFieldsEntry{Manager: "odd", Subresource: "status", Time: at(5), FieldsV1: &metav1.FieldsV1{Raw: []byte("{")}},
		), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ManualRenewRequester(tc.cert); got != tc.want {
				t.Errorf("ManualRenewRequester = %q, want %q", got, tc.want)
			}
			lean := tc.cert.DeepCopy()
			LeanManualRenewFields(lean)
			if got := ManualRenewRequester(lean); got != tc.want {
				t.Errorf("after LeanManualRenewFields (%v): %q, want %q", lean.ManagedFields, got, tc.want)
			}
			if len(lean.ManagedFields) > 1 || (len(lean.ManagedFields) == 1 && lean.ManagedFields[0].FieldsV1 != nil) {
				t.Errorf("lean managedFields keep too much: %v", lean.ManagedFields)
			}
			if got := CertificateSpec(tc.cert).ManualRenewBy; got != tc.want {
				t.Errorf("spec signal's ManualRenewBy = %q, want %q", got, tc.want)
			}
		})
	}
	// Without a manual renewal, nothing is kept or said.
	c := cert(metav1.ManagedFieldsEntry{Manager: "starter", Subresource: "status", Time: at(5), FieldsV1: issuing})
	c.Status.Conditions[0].Reason = "Renewing"
	LeanManualRenewFields(c)
	if c.ManagedFields != nil || CertificateSpec(c).ManualRenewBy != "" {
		t.Errorf("no manual renewal, yet managedFields %v", c.ManagedFields)
	}
}

func TestNeverWritten(t *testing.T) {
	one := 1
	now := metav1.Now()
	for _, tc := range []struct {
		name   string
		status cmapi.CertificateStatus
		want   bool
	}{
		{"new", cmapi.CertificateStatus{}, true},
		{"issued", cmapi.CertificateStatus{Revision: &one}, false},
		{"a condition written", cmapi.CertificateStatus{Conditions: []cmapi.CertificateCondition{{Type: cmapi.CertificateConditionReady}}}, false},
		{"a certificate known", cmapi.CertificateStatus{NotAfter: &now}, false},
	} {
		if got := NeverWritten(&cmapi.Certificate{Status: tc.status}); got != tc.want {
			t.Errorf("%s: NeverWritten = %v, want %v", tc.name, got, tc.want)
		}
	}
}
