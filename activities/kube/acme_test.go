package kube

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// Only the current attempt's Order is resumed; one a previous attempt left under the
// same name is replaced; anyone else's is left alone.
func TestExistingOrder(t *testing.T) {
	owner := func(kind, name, uid string, controller bool) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: name, UID: types.UID(uid), Controller: &controller}}
	}
	in := CreateOrderInput{Request: RequestRef{Namespace: "ns", Name: "app-1", UID: "new"}, Name: "app-1-123", Spec: acmev1.OrderSpec{Request: []byte("csr")}}
	order := func(refs []metav1.OwnerReference, state acmev1.State, csr string) *acmev1.Order {
		return &acmev1.Order{ObjectMeta: metav1.ObjectMeta{OwnerReferences: refs}, Spec: acmev1.OrderSpec{Request: []byte(csr)}, Status: acmev1.OrderStatus{State: state}}
	}
	for _, tc := range []struct {
		name string
		cur  *acmev1.Order
		want existing
	}{
		{"this attempt's, just created", order(owner(cmapi.CertificateRequestKind, "app-1", "new", true), "", "csr"), existingOwn},
		{"this attempt's, pending at the server", order(owner(cmapi.CertificateRequestKind, "app-1", "new", true), acmev1.Pending, "csr"), existingOwn},
		{"this attempt's, valid", order(owner(cmapi.CertificateRequestKind, "app-1", "new", true), acmev1.Valid, "csr"), existingOwn},
		{"replaced request's, invalid", order(owner(cmapi.CertificateRequestKind, "app-1", "old", true), acmev1.Invalid, "csr"), existingStale},
		{"replaced request's, still pending", order(owner(cmapi.CertificateRequestKind, "app-1", "old", true), acmev1.Pending, "other"), existingStale},
		{"this request's, errored (a cancelled or given-up attempt)", order(owner(cmapi.CertificateRequestKind, "app-1", "new", true), acmev1.Errored, "csr"), existingStale},
		{"this request's, expired", order(owner(cmapi.CertificateRequestKind, "app-1", "new", true), acmev1.Expired, "csr"), existingStale},
		{"this request's, another CSR", order(owner(cmapi.CertificateRequestKind, "app-1", "new", true), acmev1.Pending, "other"), existingStale},
		{"another request's", order(owner(cmapi.CertificateRequestKind, "app-2", "x", true), acmev1.Invalid, "csr"), existingForeign},
		{"same name, not the controller", order(owner(cmapi.CertificateRequestKind, "app-1", "old", false), acmev1.Invalid, "csr"), existingForeign},
		{"same name, another kind", order(owner(cmapi.CertificateKind, "app-1", "old", true), acmev1.Invalid, "csr"), existingForeign},
		{"made by hand", order(nil, "", "csr"), existingForeign},
	} {
		if got := existingOrder(tc.cur, in); got != tc.want {
			t.Errorf("%s: existingOrder = %d, want %d", tc.name, got, tc.want)
		}
	}
}
