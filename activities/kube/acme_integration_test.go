package kube

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Orders and Challenges on a real kube-apiserver without a garbage collector: a
// retried step resumes the object it made; an object left under the name by a previous
// attempt (its owner replaced, or failed) is replaced; anyone else's is left alone.
func TestCreateOrderAndChallengeStartClean(t *testing.T) {
	ctx, a, cf := activitiesOnKube(t)
	issuerRef := cmmeta.IssuerReference{Name: "letsencrypt", Kind: "ClusterIssuer", Group: "cert-manager.io"}
	// request makes the CertificateRequest name anew (a replaced request has another
	// UID): creating an Order confirms its request first.
	csr := csrFor(t, newKeyPair(t, cmapi.ECDSAKeyAlgorithm).key)
	request := func(name string) string {
		t.Helper()
		crs := cf.CertmanagerV1().CertificateRequests(testNS)
		if err := crs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		cr, err := crs.Create(ctx, &cmapi.CertificateRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: cmapi.CertificateRequestSpec{Request: csr, IssuerRef: issuerRef}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(cr.UID)
	}
	cr1 := request("web-1")
	orderIn := func(requestUID string) CreateOrderInput {
		return CreateOrderInput{Request: RequestRef{Namespace: testNS, Name: "web-1", UID: requestUID}, Name: "web-1-42",
			Spec: acmev1.OrderSpec{Request: []byte("csr"), DNSNames: []string{"web.example.com"}, IssuerRef: issuerRef}}
	}
	create := func(in CreateOrderInput) ObjectRef {
		t.Helper()
		ref, err := a.CreateOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}

	first := create(orderIn(cr1))
	if again := create(orderIn(cr1)); again.UID != first.UID {
		t.Fatalf("a retried step got Order %s, want the one it made (%s)", again.UID, first.UID)
	}
	ch := CreateChallengeInput{Order: first, Name: "web-1-42-7", Spec: acmev1.ChallengeSpec{
		URL: "https://acme/chall/1", AuthorizationURL: "https://acme/authz/1", DNSName: "web.example.com", Type: acmev1.ACMEChallengeTypeDNS01,
		Token: "tok", Key: "tok.thumb", IssuerRef: issuerRef, Solver: acmev1.ACMEChallengeSolver{DNS01: &acmev1.ACMEChallengeSolverDNS01{Webhook: &acmev1.ACMEIssuerDNS01ProviderWebhook{GroupName: "x", SolverName: "y"}}},
	}}
	firstCh, err := a.CreateChallenge(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetOrderStatus(ctx, OrderStatusInput{Order: first, State: acmev1.Invalid, Reason: "Correct value not found"}); err != nil {
		t.Fatal(err)
	}

	// The request was replaced (cr2): the failed Order and its Challenge make way.
	cr2 := request("web-1")
	second := create(orderIn(cr2))
	if second.UID == first.UID {
		t.Fatalf("the retry resumed the failed Order %s", first.UID)
	}
	o, err := cf.AcmeV1().Orders(testNS).Get(ctx, second.Name, metav1.GetOptions{})
	if err != nil || o.Status.State != "" || string(o.OwnerReferences[0].UID) != cr2 {
		t.Fatalf("Order after the retry: %+v %v, want a fresh one owned by %s", o, err, cr2)
	}
	ch.Order = second
	secondCh, err := a.CreateChallenge(ctx, ch)
	if err != nil || secondCh.UID == firstCh.UID {
		t.Fatalf("Challenge after the retry: %+v %v, want a fresh one (not %s)", secondCh, err, firstCh.UID)
	}

	// The same request, its Order errored (a cancelled or refused attempt): replaced.
	if err := a.SetOrderStatus(ctx, OrderStatusInput{Order: second, State: acmev1.Errored, Reason: "accountDoesNotExist"}); err != nil {
		t.Fatal(err)
	}
	if third := create(orderIn(cr2)); third.UID == second.UID {
		t.Errorf("the errored Order %s was resumed", second.UID)
	}

	// Someone else's Order under the name is never touched.
	other := orderIn(request("another-request"))
	other.Request.Name = "another-request"
	_, err = a.CreateOrder(ctx, other)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeOrderConflict {
		t.Errorf("an Order of another request's name: %v, want %s", err, ErrTypeOrderConflict)
	}
}

// Temporal is not a back door: an Order for a request that does not exist (or was
// replaced), or a Challenge for an Order that is gone, is not created.
func TestCreateOrderAndChallengeConfirmTheirOwner(t *testing.T) {
	ctx, a, cf := activitiesOnKube(t)
	issuerRef := cmmeta.IssuerReference{Name: "letsencrypt", Kind: "ClusterIssuer", Group: "cert-manager.io"}
	_, err := a.CreateOrder(ctx, CreateOrderInput{Request: RequestRef{Namespace: testNS, Name: "forged-1", UID: "forged-uid"}, Name: "forged-1-42",
		Spec: acmev1.OrderSpec{Request: []byte("csr"), DNSNames: []string{"evil.example.com"}, IssuerRef: issuerRef}})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeObjectGone {
		t.Errorf("an Order for a request that does not exist: %v, want %s", err, ErrTypeObjectGone)
	}
	_, err = a.CreateChallenge(ctx, CreateChallengeInput{Order: ObjectRef{Namespace: testNS, Name: "forged-1-42", UID: "forged-order"}, Name: "forged-1-42-1",
		Spec: acmev1.ChallengeSpec{URL: "https://acme/chall/1", AuthorizationURL: "https://acme/authz/1", DNSName: "evil.example.com", Type: acmev1.ACMEChallengeTypeDNS01,
			Token: "tok", Key: "tok.thumb", IssuerRef: issuerRef}})
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeObjectGone {
		t.Errorf("a Challenge for an Order that does not exist: %v, want %s", err, ErrTypeObjectGone)
	}
	if l, err := cf.AcmeV1().Orders(testNS).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("Orders written for forged input: %v %v", l, err)
	}
	if l, err := cf.AcmeV1().Challenges(testNS).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("Challenges written for forged input: %v %v", l, err)
	}
}
