package k8swatch

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Which requests get a workflow of their own: those no Certificate controls, for
// cert-manager.io issuers, until they are done.
func TestServedStandalone(t *testing.T) {
	yes := true
	byCertificate := []metav1.OwnerReference{{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "web", UID: "u", Controller: &yes}}
	byOperator := []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Mesh", Name: "m", UID: "u", Controller: &yes}}
	cond := func(typ cmapi.CertificateRequestConditionType, st cmmeta.ConditionStatus, reason string) []cmapi.CertificateRequestCondition {
		return []cmapi.CertificateRequestCondition{{Type: typ, Status: st, Reason: reason}}
	}
	for _, tc := range []struct {
		name    string
		owners  []metav1.OwnerReference
		group   string
		conds   []cmapi.CertificateRequestCondition
		served  bool
		indexed bool
	}{
		{"made by hand", nil, "", nil, true, true},
		{"made by hand, group spelled out", nil, "cert-manager.io", nil, true, true},
		{"made by an operator", byOperator, "", nil, true, true},
		{"a Certificate's", byCertificate, "", nil, false, false},
		{"for another group's signer", nil, "awspca.cert-manager.io", nil, false, false},
		{"pending", nil, "", cond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending), true, true},
		{"issued", nil, "", cond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued), true, false},
		{"failed", nil, "", cond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed), true, false},
		{"denied", nil, "", cond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonDenied), true, false},
		{"invalid", nil, "", cond(cmapi.CertificateRequestConditionInvalidRequest, cmmeta.ConditionTrue, "BadCSR"), true, false},
	} {
		cr := &cmapi.CertificateRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r", OwnerReferences: tc.owners},
			Spec:       cmapi.CertificateRequestSpec{IssuerRef: cmmeta.IssuerReference{Name: "ca", Group: tc.group}},
			Status:     cmapi.CertificateRequestStatus{Conditions: tc.conds},
		}
		if got := servedStandalone(cr); got != tc.served {
			t.Errorf("%s: servedStandalone = %t, want %t", tc.name, got, tc.served)
		}
		keys, _ := requestIssuerIndex(cr)
		if got := len(keys) == 1 && keys[0] == issuerIndexKey(kindIssuer, "ns", "ca"); got != tc.indexed {
			t.Errorf("%s: indexed by issuer %v, want %t", tc.name, keys, tc.indexed)
		}
	}
}
