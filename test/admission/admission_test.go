// Package admission tests certflow's admission policies for CertificateRequests
// (deploy/admission/policies.yaml, installed by the local stack after the CRDs) on the
// real stack, with users impersonated by the admin: the requester fields are set from
// the requesting user and cannot be changed, and approving or denying takes the approve
// verb on signers, as upstream's webhook checks. The worker runs without its internal
// approver, so every decision is a user's. Skips only when CERTFLOW_INTEGRATION is unset.
package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

var sys *testkit.System

const ns = "admission"

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	var err error
	sys, err = testkit.Start(context.Background(), testkit.Options{DisableApprover: true, Namespaces: []string{ns}})
	if err == nil {
		err = grantUsers(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "admission setup:", err)
		if sys != nil {
			sys.Stop(true)
		}
		os.Exit(1)
	}
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

// The users: each may create, read and update CertificateRequests and their status in
// the namespace; alice may approve nothing, bob the Issuer selfsigned of the namespace
// by name, carol every Issuer by the wildcard.
var (
	alice = user{name: "alice", uid: "uid-alice", groups: []string{"team-a"}, extra: map[string][]string{"example.com/team": {"a"}}}
	bob   = user{name: "bob", uid: "uid-bob", groups: []string{"team-b"}}
	carol = user{name: "carol", uid: "uid-carol", groups: []string{"team-c"}}
)

const issuer = "selfsigned"

type user struct {
	name, uid string
	groups    []string
	extra     map[string][]string
}

// client acts as the user (the admin impersonating them).
func (u user) client(t *testing.T) versioned.Interface {
	t.Helper()
	c := rest.CopyConfig(sys.Config)
	c.Impersonate = rest.ImpersonationConfig{UserName: u.name, UID: u.uid, Groups: u.groups, Extra: u.extra}
	cs, err := versioned.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// grantUsers creates the users' RBAC: a Role for the requests, and ClusterRoles for the
// signers (signers are not namespaced).
func grantUsers(ctx context.Context) error {
	rbac := sys.Kube.RbacV1()
	subject := func(u user) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u.name}
	}
	if _, err := rbac.Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "requesters"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{cmapi.SchemeGroupVersion.Group},
			Resources: []string{"certificaterequests", "certificaterequests/status"},
			Verbs:     []string{"get", "create", "update", "patch"},
		}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "requesters"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "requesters"},
		Subjects:   []rbacv1.Subject{subject(alice), subject(bob), subject(carol)},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, g := range []struct {
		u      user
		signer string
	}{
		{bob, "issuers.cert-manager.io/" + ns + "." + issuer},
		{carol, "issuers.cert-manager.io/*"},
	} {
		u, signer := g.u, g.signer
		name := "admission-test-approve-" + u.name
		if _, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{cmapi.SchemeGroupVersion.Group}, Resources: []string{"signers"},
				Verbs: []string{"approve"}, ResourceNames: []string{signer},
			}},
		}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{subject(u)},
		}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if out, err := sys.Kubectl([]byte(testkit.SelfSignedIssuer(issuer)), "apply", "-n", ns, "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply: %v\n%s", err, out)
	}
	return nil
}

// newRequest is a CertificateRequest for the namespace's Issuer with forged requester
// fields, which the policy replaces.
func newRequest(t *testing.T, name string) *cmapi.CertificateRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: name + ".example.com"}, DNSNames: []string{name + ".example.com"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{"cert-manager.io/origin": "admission-test"}},
		Spec: cmapi.CertificateRequestSpec{
			Request:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			IssuerRef: cmmeta.IssuerReference{Name: issuer},
			Username:  "mallory", UID: "uid-mallory", Groups: []string{"system:masters"},
			Extra: map[string][]string{"forged": {"yes"}},
		},
	}
}

func createRequest(t *testing.T, u user, name string) *cmapi.CertificateRequest {
	t.Helper()
	cr, err := u.client(t).CertmanagerV1().CertificateRequests(ns).Create(context.Background(), newRequest(t, name), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s creates CertificateRequest %s: %v", u.name, name, err)
	}
	return cr
}

// wantRequester fails unless the request's requester fields are the user's: their name,
// UID, groups (with system:authenticated, which every authenticated user has) and extra.
func wantRequester(t *testing.T, cr *cmapi.CertificateRequest, u user) {
	t.Helper()
	wantGroups := append(slices.Clone(u.groups), "system:authenticated")
	wantExtra := u.extra
	if wantExtra == nil {
		wantExtra = map[string][]string{}
	}
	gotExtra := cr.Spec.Extra
	if gotExtra == nil {
		gotExtra = map[string][]string{}
	}
	if cr.Spec.Username != u.name || cr.Spec.UID != u.uid || !sameSet(cr.Spec.Groups, wantGroups) || fmt.Sprint(gotExtra) != fmt.Sprint(wantExtra) {
		t.Errorf("CertificateRequest %s requester: username %q uid %q groups %q extra %v; want %q %q %q %v",
			cr.Name, cr.Spec.Username, cr.Spec.UID, cr.Spec.Groups, gotExtra, u.name, u.uid, wantGroups, wantExtra)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// refused fails unless err is the API server's refusal (403 or 422) whose message holds
// want.
func refused(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted, want refused with %q", what, want)
		return
	}
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
		t.Errorf("%s: %v, want a refusal (403 or 422)", what, err)
		return
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: refused with %q, want %q in it", what, err, want)
	}
}

// decide adds a True Approved or Denied condition through the status subresource, as
// the user.
func decide(t *testing.T, u user, name string, typ cmapi.CertificateRequestConditionType) error {
	t.Helper()
	ctx := context.Background()
	crs := u.client(t).CertmanagerV1().CertificateRequests(ns)
	cr, err := crs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
		Type: typ, Status: cmmeta.ConditionTrue, Reason: "AdmissionTest", Message: string(typ) + " by " + u.name, LastTransitionTime: &now,
	})
	_, err = crs.UpdateStatus(ctx, cr, metav1.UpdateOptions{})
	return err
}

// Each user's request carries their identity, not the one they sent, and nobody (not
// even the admin) changes it afterwards, nor the spec, nor a cert-manager annotation.
func TestRequesterFields(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	wantRequester(t, createRequest(t, alice, "by-alice"), alice)
	wantRequester(t, createRequest(t, bob, "by-bob"), bob)
	// As stored, not only as the create answered.
	wantRequester(t, testkit.GetRequest(t, sys.CertFlow, ns, "by-alice"), alice)

	crs := alice.client(t).CertmanagerV1().CertificateRequests(ns)
	for field, change := range map[string]func(*cmapi.CertificateRequest){
		"username": func(cr *cmapi.CertificateRequest) { cr.Spec.Username = "bob" },
		"groups":   func(cr *cmapi.CertificateRequest) { cr.Spec.Groups = append(cr.Spec.Groups, "system:masters") },
		"uid":      func(cr *cmapi.CertificateRequest) { cr.Spec.UID = "uid-bob" },
		"extra":    func(cr *cmapi.CertificateRequest) { cr.Spec.Extra = nil },
	} {
		cr := testkit.GetRequest(t, sys.CertFlow, ns, "by-alice")
		change(cr)
		_, err := crs.Update(ctx, cr, metav1.UpdateOptions{})
		refused(t, "alice changes spec."+field, err, "spec")
		_, err = sys.CertFlow.CertmanagerV1().CertificateRequests(ns).Update(ctx, cr, metav1.UpdateOptions{})
		refused(t, "the admin changes spec."+field, err, "spec")
	}
	wantRequester(t, testkit.GetRequest(t, sys.CertFlow, ns, "by-alice"), alice)

	// A request without a spec is refused by the CRD, with the field it lacks.
	out, err := sys.Kubectl([]byte("apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {name: no-spec}\n"), "create", "-n", ns, "-f", "-")
	if err == nil || !strings.Contains(out, "spec: Required value") || strings.Contains(out, "policy") {
		t.Errorf("a request without a spec: %v: %s; want refused with spec: Required value", err, out)
	}

	cr := testkit.GetRequest(t, sys.CertFlow, ns, "by-alice")
	cr.Annotations["cert-manager.io/origin"] = "changed"
	_, err = crs.Update(ctx, cr, metav1.UpdateOptions{})
	refused(t, "alice changes a cert-manager.io annotation", err, "cannot change cert-manager annotation after creation")
	cr = testkit.GetRequest(t, sys.CertFlow, ns, "by-alice")
	cr.Annotations["example.com/note"] = "any other annotation may change"
	if _, err := crs.Update(ctx, cr, metav1.UpdateOptions{}); err != nil {
		t.Errorf("alice adds an annotation of her own: %v", err)
	}
}

// A request certflow makes for a Certificate is the worker's (its ServiceAccount's).
func TestCertflowRequestsAreTheWorkers(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	apply(t, testkit.Cert{Name: "by-worker", DNSNames: []string{"by-worker.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: issuer}.String())
	cr := waitRequest(t, "by-worker-1")
	if want := "system:serviceaccount:certflow:certflow-worker"; cr.Spec.Username != want ||
		!slices.Contains(cr.Spec.Groups, "system:serviceaccounts:certflow") {
		t.Errorf("certflow's request: username %q groups %q, want %s in system:serviceaccounts:certflow", cr.Spec.Username, cr.Spec.Groups, want)
	}
}

// Approving or denying takes the approve verb on the issuer's signer name: alice has
// none and is refused, bob's (the Issuer's name) and carol's (the wildcard) approvals go
// through, and the Certificates behind those requests are issued. A decision is final:
// neither changed nor removed, nor joined by the other.
func TestApprovalNeedsSignerPermission(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	for _, name := range []string{"approved-by-bob", "approved-by-carol"} {
		apply(t, testkit.Cert{Name: name, DNSNames: []string{name + ".example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: issuer}.String())
		waitWaitingForApproval(t, name+"-1")
		for _, typ := range []cmapi.CertificateRequestConditionType{cmapi.CertificateRequestConditionApproved, cmapi.CertificateRequestConditionDenied} {
			refused(t, "alice sets "+string(typ)+" on "+name+"-1", decide(t, alice, name+"-1", typ),
				`user "alice" does not have permissions to set approved/denied conditions for issuer`)
		}
		if cr := testkit.GetRequest(t, sys.CertFlow, ns, name+"-1"); testkit.RequestCondition(cr, cmapi.CertificateRequestConditionApproved) != nil || testkit.RequestCondition(cr, cmapi.CertificateRequestConditionDenied) != nil {
			t.Errorf("%s-1 decided although alice was refused: %+v", name, cr.Status.Conditions)
		}
	}
	if err := decide(t, bob, "approved-by-bob-1", cmapi.CertificateRequestConditionApproved); err != nil {
		t.Errorf("bob approves with approve on the Issuer's signer name: %v", err)
	}
	if err := decide(t, carol, "approved-by-carol-1", cmapi.CertificateRequestConditionApproved); err != nil {
		t.Errorf("carol approves with approve on the wildcard signer name: %v", err)
	}
	for _, name := range []string{"approved-by-bob", "approved-by-carol"} {
		testkit.WaitCertificateReady(t, sys.CertFlow, ns, name, 60*time.Second)
		cr := testkit.GetRequest(t, sys.CertFlow, ns, name+"-1")
		if ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady); ready == nil || ready.Reason != cmapi.CertificateRequestReasonIssued || len(cr.Status.Certificate) == 0 {
			t.Errorf("%s-1 not signed after its approval: %+v", name, cr.Status)
		}
	}

	// A request a user made, approved by another user who may.
	createRequest(t, alice, "standalone")
	refused(t, "alice approves her own request", decide(t, alice, "standalone", cmapi.CertificateRequestConditionApproved), `user "alice" does not have permissions`)
	if err := decide(t, bob, "standalone", cmapi.CertificateRequestConditionApproved); err != nil {
		t.Fatalf("bob approves alice's request: %v", err)
	}
	if c := testkit.RequestCondition(testkit.GetRequest(t, sys.CertFlow, ns, "standalone"), cmapi.CertificateRequestConditionApproved); c == nil || c.Message != "Approved by bob" {
		t.Errorf("standalone Approved condition %+v, want bob's", c)
	}
	// Approved, the request is answered by its own workflow (no Certificate made it): the
	// SelfSigned issuer needs the key the request does not name, and says so.
	testkit.Eventually(t, time.Minute, "standalone request answered after bob's approval", func() (bool, string) {
		cr := testkit.GetRequest(t, sys.CertFlow, ns, "standalone")
		ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady)
		return ready != nil && ready.Reason == cmapi.CertificateRequestReasonFailed &&
			strings.Contains(ready.Message, cmapi.CertificateRequestPrivateKeyAnnotationKey), fmt.Sprintf("%+v", cr.Status.Conditions)
	})

	// Final, even for someone who may approve.
	refused(t, "carol denies an approved request", decide(t, carol, "standalone", cmapi.CertificateRequestConditionDenied),
		"both 'Denied' and 'Approved' conditions cannot coexist")
	crs := carol.client(t).CertmanagerV1().CertificateRequests(ns)
	cr := testkit.GetRequest(t, sys.CertFlow, ns, "standalone")
	testkit.RequestCondition(cr, cmapi.CertificateRequestConditionApproved).Message = "changed"
	_, err := crs.UpdateStatus(ctx, cr, metav1.UpdateOptions{})
	refused(t, "carol changes the Approved condition", err, "'Approved' condition may not be modified once set")
	cr = testkit.GetRequest(t, sys.CertFlow, ns, "standalone")
	cr.Status.Conditions = slices.DeleteFunc(cr.Status.Conditions, func(c cmapi.CertificateRequestCondition) bool {
		return c.Type == cmapi.CertificateRequestConditionApproved
	})
	_, err = crs.UpdateStatus(ctx, cr, metav1.UpdateOptions{})
	refused(t, "carol removes the Approved condition", err, "'Approved' condition may not be modified once set")

	// Only True.
	createRequest(t, bob, "not-true")
	cr = testkit.GetRequest(t, sys.CertFlow, ns, "not-true")
	now := metav1.Now()
	cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
		Type: cmapi.CertificateRequestConditionDenied, Status: cmmeta.ConditionFalse, Reason: "AdmissionTest", LastTransitionTime: &now,
	})
	_, err = crs.UpdateStatus(ctx, cr, metav1.UpdateOptions{})
	refused(t, "carol sets Denied=False", err, `"Denied" condition may only be set to True`)

	// Any other status write needs no signer permission.
	cr = testkit.GetRequest(t, sys.CertFlow, ns, "not-true")
	cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
		Type: cmapi.CertificateRequestConditionReady, Status: cmmeta.ConditionFalse, Reason: cmapi.CertificateRequestReasonPending, LastTransitionTime: &now,
	})
	if _, err := alice.client(t).CertmanagerV1().CertificateRequests(ns).UpdateStatus(ctx, cr, metav1.UpdateOptions{}); err != nil {
		t.Errorf("alice writes a Ready condition: %v", err)
	}
}

func apply(t *testing.T, manifest string) {
	t.Helper()
	if out, err := sys.Kubectl([]byte(manifest), "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

func waitRequest(t *testing.T, name string) *cmapi.CertificateRequest {
	t.Helper()
	var cr *cmapi.CertificateRequest
	testkit.Eventually(t, 60*time.Second, "CertificateRequest "+name, func() (bool, string) {
		var err error
		cr, err = sys.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return cr
}

func waitWaitingForApproval(t *testing.T, name string) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, "CertificateRequest "+name+" WaitingForApproval", func() (bool, string) {
		cr, err := sys.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady)
		return ready != nil && ready.Reason == cmapi.ReasonWaitingForApproval, fmt.Sprintf("%+v", cr.Status)
	})
}

// The signer name an approval is checked against, for each kind of issuerRef: a user
// with approve on exactly that name may approve, alice may not; an unknown kind of
// cert-manager.io is refused whoever asks.
func TestSignerNames(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	for i, c := range []struct {
		ref    cmmeta.IssuerReference
		signer string // "" : no signer, refused
	}{
		{cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, "clusterissuers.cert-manager.io/ca"},
		{cmmeta.IssuerReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}, "issuers.cert-manager.io/" + ns + ".ca"},
		{cmmeta.IssuerReference{Name: "pca", Kind: "AWSPCAClusterIssuer", Group: "awspca.cert-manager.io"}, "awspcaclusterissuers.awspca.cert-manager.io/pca"},
		{cmmeta.IssuerReference{Name: "step", Kind: "StepIssuer", Group: "certmanager.step.sm"}, "stepissuers.certmanager.step.sm/" + ns + ".step"},
		{cmmeta.IssuerReference{Name: "p", Kind: "SigningPolicy", Group: "example.com"}, "signingpolicies.example.com/" + ns + ".p"},
		{cmmeta.IssuerReference{Name: "x", Kind: "Foo"}, ""},
	} {
		approver := user{name: fmt.Sprintf("approver-%d", i)}
		role := "admission-test-" + approver.name
		resourceNames := []string{c.signer}
		if c.signer == "" {
			resourceNames = []string{"foos.cert-manager.io/*", "foos.cert-manager.io/" + ns + ".x", "foos.cert-manager.io/x"}
		}
		if _, err := sys.Kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: role},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{cmapi.SchemeGroupVersion.Group}, Resources: []string{"signers"}, Verbs: []string{"approve"}, ResourceNames: resourceNames},
				{APIGroups: []string{cmapi.SchemeGroupVersion.Group}, Resources: []string{"certificaterequests", "certificaterequests/status"}, Verbs: []string{"get", "update"}},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := sys.Kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: approver.name}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("signer-%d", i)
		cr := newRequest(t, name)
		cr.Spec.IssuerRef = c.ref
		if _, err := sys.CertFlow.CertmanagerV1().CertificateRequests(ns).Create(ctx, cr, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("issuerRef %+v", c.ref)
		if c.signer == "" {
			refused(t, what+": approved", decide(t, approver, name, cmapi.CertificateRequestConditionApproved), "referenced signer resource does not exist")
			continue
		}
		refused(t, what+": alice approves", decide(t, alice, name, cmapi.CertificateRequestConditionApproved), c.signer)
		// RBAC reaches the authorizer of the policy a moment after the binding is made.
		testkit.Eventually(t, 10*time.Second, what+": approved with approve on "+c.signer, func() (bool, string) {
			err := decide(t, approver, name, cmapi.CertificateRequestConditionApproved)
			return err == nil, fmt.Sprint(err)
		})
	}
}
