package k8swatch

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/workflows"
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

func TestParseWorkflowIDNamesTheObject(t *testing.T) {
	for _, tc := range []struct{ id, kind, namespace, name string }{
		{workflows.CertificateWorkflowID("ns", "web"), kindCertificate, "ns", "web"},
		{workflows.IssuerWorkflowID("ns", "ca"), kindIssuer, "ns", "ca"},
		{workflows.IssuerWorkflowID("", "le"), kindClusterIssuer, "", "le"},
		{workflows.CertificateRequestWorkflowID("ns", "csr-1"), kindRequest, "ns", "csr-1"},
	} {
		kind, namespace, name, ok := parseWorkflowID(tc.id)
		if !ok || kind != tc.kind || namespace != tc.namespace || name != tc.name {
			t.Errorf("parseWorkflowID(%q) = %s %s %s %t", tc.id, kind, namespace, name, ok)
		}
	}
	for _, id := range []string{"order/ns/web-1-42", "certificate/ns", "challenge/ns/a/b", ""} {
		if _, _, _, ok := parseWorkflowID(id); ok {
			t.Errorf("parseWorkflowID(%q) names an object", id)
		}
	}
}

// A watcher that starts tells a Certificate's workflow nothing when the workflow already
// wrote the status of the Certificate's generation and no manual renewal is asked for.
func TestStatusCurrent(t *testing.T) {
	ready := func(gen int64) []cmapi.CertificateCondition {
		return []cmapi.CertificateCondition{{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue, ObservedGeneration: gen}}
	}
	for _, tc := range []struct {
		name   string
		gen    int64
		conds  []cmapi.CertificateCondition
		manual string
		want   bool
	}{
		{"no status yet", 1, nil, "", false},
		{"written for this generation", 3, ready(3), "", true},
		{"spec changed while no watcher ran", 4, ready(3), "", false},
		{"manual renewal asked", 3, ready(3), "2026-05-01T10:00:00Z", false},
		{"not ready, for this generation", 2, []cmapi.CertificateCondition{{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionFalse, ObservedGeneration: 2}}, "", true},
	} {
		c := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Generation: tc.gen}, Status: cmapi.CertificateStatus{Conditions: tc.conds}}
		if got := statusCurrent(c, tc.manual); got != tc.want {
			t.Errorf("%s: statusCurrent = %t, want %t", tc.name, got, tc.want)
		}
	}
}
