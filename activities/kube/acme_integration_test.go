package kube

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// Orders and Challenges on a real kube-apiserver without a garbage collector: a
// retried step resumes the object it made; an object left under the name by a previous
// attempt (its owner replaced, or failed) is replaced; anyone else's is left alone.
func TestCreateOrderAndChallengeStartClean(t *testing.T) {
	stack := integration.StartStack(t, localstack.Options{Kube: true})
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := localstack.InstallCRDs(ctx, stack.RESTConfig, filepath.Join(root, "deploy", "crds")); err != nil {
		t.Fatal(err)
	}
	kc := kubernetes.NewForConfigOrDie(stack.RESTConfig)
	cf := versioned.NewForConfigOrDie(stack.RESTConfig)
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := &Activities{Kube: kc, CertFlow: cf}
	issuerRef := cmmeta.IssuerReference{Name: "letsencrypt", Kind: "ClusterIssuer", Group: "cert-manager.io"}
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

	first := create(orderIn("cr-1"))
	if again := create(orderIn("cr-1")); again.UID != first.UID {
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

	// The request was replaced (cr-2): the failed Order and its Challenge make way.
	second := create(orderIn("cr-2"))
	if second.UID == first.UID {
		t.Fatalf("the retry resumed the failed Order %s", first.UID)
	}
	o, err := cf.AcmeV1().Orders(testNS).Get(ctx, second.Name, metav1.GetOptions{})
	if err != nil || o.Status.State != "" || o.OwnerReferences[0].UID != "cr-2" {
		t.Fatalf("Order after the retry: %+v %v, want a fresh one owned by cr-2", o, err)
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
	if third := create(orderIn("cr-2")); third.UID == second.UID {
		t.Errorf("the errored Order %s was resumed", second.UID)
	}

	// Someone else's Order under the name is never touched.
	other := orderIn("cr-3")
	other.Request.Name = "another-request"
	_, err = a.CreateOrder(ctx, other)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeOrderConflict {
		t.Errorf("an Order of another request's name: %v, want %s", err, ErrTypeOrderConflict)
	}
}
