package http01

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

var ctx = context.Background()

type fixture struct {
	kube *kubefake.Clientset
	gw   *gatewayfake.Clientset
	a    *Activities
}

func newFixture(objs ...runtime.Object) *fixture {
	kube := kubefake.NewClientset(objs...)
	gw := gatewayfake.NewClientset()
	return &fixture{kube: kube, gw: gw, a: &Activities{Kube: kube, Gateway: gw, Image: "certflow/worker:test"}}
}

// writes returns the mutating actions recorded since the last call.
func (f *fixture) writes() []string {
	var out []string
	for _, c := range []interface {
		Actions() []k8stesting.Action
		ClearActions()
	}{f.kube, f.gw} {
		for _, a := range c.Actions() {
			switch a.GetVerb() {
			case "create", "update", "patch", "delete":
				out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
			}
		}
		c.ClearActions()
	}
	return out
}

func (f *fixture) pod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	p, err := f.kube.CoreV1().Pods("ns1").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod: %v", err)
	}
	return p
}

func (f *fixture) service(t *testing.T, name string) *corev1.Service {
	t.Helper()
	s, err := f.kube.CoreV1().Services("ns1").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get service: %v", err)
	}
	return s
}

func (f *fixture) ingress(t *testing.T, name string) *networkingv1.Ingress {
	t.Helper()
	i, err := f.kube.NetworkingV1().Ingresses("ns1").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ingress: %v", err)
	}
	return i
}

func (f *fixture) route(t *testing.T, name string) *gwapiv1.HTTPRoute {
	t.Helper()
	r, err := f.gw.GatewayV1().HTTPRoutes("ns1").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get httproute: %v", err)
	}
	return r
}

func (f *fixture) counts(t *testing.T) (pods, svcs, ings, routes int) {
	t.Helper()
	pl, _ := f.kube.CoreV1().Pods("ns1").List(ctx, metav1.ListOptions{})
	sl, _ := f.kube.CoreV1().Services("ns1").List(ctx, metav1.ListOptions{})
	il, _ := f.kube.NetworkingV1().Ingresses("ns1").List(ctx, metav1.ListOptions{})
	rl, _ := f.gw.GatewayV1().HTTPRoutes("ns1").List(ctx, metav1.ListOptions{})
	return len(pl.Items), len(sl.Items), len(il.Items), len(rl.Items)
}

func appErrType(t *testing.T, err error) (string, bool) {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		return "", false
	}
	return ae.Type(), ae.NonRetryable()
}

func TestEnsureIngressSolverTwice(t *testing.T) {
	f := newFixture()
	in := testInput(ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) { i.IngressClassName = ptr("nginx") }))
	name := SolverName(in.Name)

	res, err := f.a.EnsureHTTP01Solver(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := SolverResult{PodName: name, ServiceName: name, IngressName: name, URL: "http://example.com/.well-known/acme-challenge/" + testToken}
	if res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	if w := f.writes(); len(w) != 3 {
		t.Fatalf("first ensure wrote %v", w)
	}
	pod, svc, ing := f.pod(t, name), f.service(t, name), f.ingress(t, name)
	if !equality.Semantic.DeepEqual(pod.Spec, BuildPod(in, "certflow/worker:test").Spec) {
		t.Errorf("pod spec differs from BuildPod")
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != name || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("service/ingress not as built: %+v %+v", svc.Spec, ing.Spec)
	}
	for _, o := range []metav1.Object{pod, svc, ing} {
		if ref := metav1.GetControllerOf(o); ref == nil || ref.UID != "uid-1" || ref.Kind != "Challenge" {
			t.Errorf("%s: controller = %+v", o.GetName(), ref)
		}
	}

	res2, err := f.a.EnsureHTTP01Solver(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res2 != res {
		t.Fatalf("second result %+v != first %+v", res2, res)
	}
	for _, w := range f.writes() {
		if !strings.HasPrefix(w, "create ") { // creates answered AlreadyExists
			t.Errorf("second ensure wrote: %s", w)
		}
	}
	if p, s, i, r := f.counts(t); p != 1 || s != 1 || i != 1 || r != 0 {
		t.Fatalf("objects = %d pods %d services %d ingresses %d routes", p, s, i, r)
	}
	if !equality.Semantic.DeepEqual(f.pod(t, name), pod) || !equality.Semantic.DeepEqual(f.service(t, name), svc) || !equality.Semantic.DeepEqual(f.ingress(t, name), ing) {
		t.Fatal("second ensure changed the objects")
	}

	// Clean up twice.
	if err := f.a.CleanUpHTTP01Solver(ctx, in); err != nil {
		t.Fatal(err)
	}
	if p, s, i, r := f.counts(t); p+s+i+r != 0 {
		t.Fatalf("left after clean up: %d pods %d services %d ingresses %d routes", p, s, i, r)
	}
	if err := f.a.CleanUpHTTP01Solver(ctx, in); err != nil {
		t.Fatalf("second clean up: %v", err)
	}
}

func TestEnsureHTTPRouteSolverTwice(t *testing.T) {
	f := newFixture()
	in := testInput(routeSolver(func(r *acmev1.ACMEChallengeSolverHTTP01GatewayHTTPRoute) {
		r.Labels = map[string]string{"gateway": "public"}
		r.ServiceType = corev1.ServiceTypeClusterIP
	}))
	name := SolverName(in.Name)
	res, err := f.a.EnsureHTTP01Solver(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.HTTPRouteName != name || res.IngressName != "" || res.PodName != name || res.ServiceName != name {
		t.Fatalf("result = %+v", res)
	}
	route := f.route(t, name)
	if route.Labels["gateway"] != "public" || route.Labels[acmev1.SolverIdentificationLabelKey] != "true" {
		t.Errorf("route labels = %v", route.Labels)
	}
	if len(route.Spec.ParentRefs) != 1 || route.Spec.ParentRefs[0].Name != "gw" || string(route.Spec.Hostnames[0]) != "example.com" {
		t.Errorf("route spec = %+v", route.Spec)
	}
	if ref := metav1.GetControllerOf(route); ref == nil || ref.UID != "uid-1" {
		t.Errorf("route controller = %+v", ref)
	}
	if f.service(t, name).Spec.Type != corev1.ServiceTypeClusterIP {
		t.Error("service type not ClusterIP")
	}
	f.writes()

	if _, err := f.a.EnsureHTTP01Solver(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.writes() {
		if !strings.HasPrefix(w, "create ") {
			t.Errorf("second ensure wrote: %s", w)
		}
	}
	if !equality.Semantic.DeepEqual(f.route(t, name), route) {
		t.Fatal("second ensure changed the route")
	}
	if p, s, i, r := f.counts(t); p != 1 || s != 1 || i != 0 || r != 1 {
		t.Fatalf("objects = %d pods %d services %d ingresses %d routes", p, s, i, r)
	}

	for range 2 {
		if err := f.a.CleanUpHTTP01Solver(ctx, in); err != nil {
			t.Fatal(err)
		}
		if p, s, i, r := f.counts(t); p+s+i+r != 0 {
			t.Fatalf("left after clean up: %d pods %d services %d ingresses %d routes", p, s, i, r)
		}
	}
}

func TestEnsureLocalRegistry(t *testing.T) {
	f := newFixture()
	f.a.Image = "" // not needed with Local
	f.a.Local = NewRegistry()
	in := testInput(ingressSolver(nil))
	res, err := f.a.EnsureHTTP01Solver(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.PodName != "" || !res.LocalRegistered || res.IngressName == "" {
		t.Fatalf("result = %+v", res)
	}
	if p, s, i, _ := f.counts(t); p != 0 || s != 1 || i != 1 {
		t.Fatalf("objects = %d pods %d services %d ingresses", p, s, i)
	}
	if k, ok := f.a.Local.Lookup("example.com", testToken); !ok || k != testKey {
		t.Fatalf("registry lookup = %q %v", k, ok)
	}
	if _, ok := f.a.Local.Lookup("other.com", testToken); ok {
		t.Fatal("registered for every host; want the challenge's host only")
	}
	if _, err := f.a.EnsureHTTP01Solver(ctx, in); err != nil {
		t.Fatal(err)
	}
	if f.a.Local.Len() != 1 {
		t.Fatalf("registry has %d entries", f.a.Local.Len())
	}
	for range 2 {
		if err := f.a.CleanUpHTTP01Solver(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if f.a.Local.Len() != 0 {
		t.Fatal("token still registered after clean up")
	}
	if p, s, i, _ := f.counts(t); p+s+i != 0 {
		t.Fatalf("left after clean up: %d pods %d services %d ingresses", p, s, i)
	}
}

func TestNamedIngress(t *testing.T) {
	user := userIngress(rule("example.com", userPath("/", "web")))
	user.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"example.com"}, SecretName: "tls"}}
	f := newFixture(user)
	in := testInput(ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) { i.Name = "existing" }))
	name := SolverName(in.Name)

	res, err := f.a.EnsureHTTP01Solver(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.IngressName != "existing" || !res.EditedIngress {
		t.Fatalf("result = %+v", res)
	}
	got := f.ingress(t, "existing")
	if !HasChallengePath(got, "example.com", testToken) {
		t.Fatalf("named Ingress lacks the path: %v", pathsOf(got))
	}
	wantPaths := map[string][]string{"example.com": {"rule", "/.well-known/acme-challenge/" + testToken + "->" + name, "/->web"}}
	if p := pathsOf(got); !equality.Semantic.DeepEqual(p, wantPaths) {
		t.Fatalf("paths = %v, want %v", p, wantPaths)
	}
	if _, _, i, _ := f.counts(t); i != 1 {
		t.Fatalf("%d Ingresses; no solver Ingress should be created", i)
	}
	f.writes()

	if _, err := f.a.EnsureHTTP01Solver(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.writes() {
		if w == "update ingresses" {
			t.Error("second ensure updated the named Ingress")
		}
	}

	for range 2 {
		if err := f.a.CleanUpHTTP01Solver(ctx, in); err != nil {
			t.Fatal(err)
		}
		after := f.ingress(t, "existing")
		if HasChallengePath(after, "example.com", testToken) {
			t.Fatal("path still there after clean up")
		}
		if !equality.Semantic.DeepEqual(after.Spec, user.Spec) {
			t.Fatalf("named Ingress not restored: %+v", after.Spec)
		}
	}
	if p, s, _, _ := f.counts(t); p+s != 0 {
		t.Fatalf("left after clean up: %d pods %d services", p, s)
	}
}

func TestNamedIngressMissing(t *testing.T) {
	f := newFixture()
	in := testInput(ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) { i.Name = "absent" }))
	_, err := f.a.EnsureHTTP01Solver(ctx, in)
	if err == nil || !strings.Contains(err.Error(), "absent") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("err = %v", err)
	}
	if _, nonRetryable := appErrType(t, err); nonRetryable {
		t.Fatal("a missing named Ingress should be retried (it may be created later)")
	}
	if err := f.a.CleanUpHTTP01Solver(ctx, in); err != nil {
		t.Fatalf("clean up with the named Ingress missing: %v", err)
	}
}

func TestEnsureRejectsInput(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*SolverInput, *Activities)
		wantType string
	}{
		{"neither ingress nor gatewayHTTPRoute", func(in *SolverInput, _ *Activities) { in.HTTP01 = acmev1.ACMEChallengeSolverHTTP01{} }, ErrTypeInvalidSolverConfig},
		{"both ingress and gatewayHTTPRoute", func(in *SolverInput, _ *Activities) {
			in.HTTP01.GatewayHTTPRoute = routeSolver(nil).GatewayHTTPRoute
		}, ErrTypeInvalidSolverConfig},
		{"wildcard identifier", func(in *SolverInput, _ *Activities) { in.DNSName = "*.example.com" }, ErrTypeInvalidSolverConfig},
		{"no uid", func(in *SolverInput, _ *Activities) { in.UID = "" }, ErrTypeInvalidInput},
		{"no namespace", func(in *SolverInput, _ *Activities) { in.Namespace = "" }, ErrTypeInvalidInput},
		{"no name", func(in *SolverInput, _ *Activities) { in.Name = "" }, ErrTypeInvalidInput},
		{"no dnsName", func(in *SolverInput, _ *Activities) { in.DNSName = "" }, ErrTypeInvalidInput},
		{"no key", func(in *SolverInput, _ *Activities) { in.Key = "" }, ErrTypeInvalidInput},
		{"token escaping the path", func(in *SolverInput, _ *Activities) { in.Token = "../../etc" }, ErrTypeInvalidInput},
		{"no image", func(_ *SolverInput, a *Activities) { a.Image = "" }, ErrTypeSolverNotConfigured},
		{"no kube client", func(_ *SolverInput, a *Activities) { a.Kube = nil }, ErrTypeSolverNotConfigured},
		{"route without gateway client", func(in *SolverInput, a *Activities) {
			in.HTTP01 = routeSolver(nil)
			a.Gateway = nil
		}, ErrTypeSolverNotConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			in := testInput(ingressSolver(nil))
			tc.mod(&in, f.a)
			_, err := f.a.EnsureHTTP01Solver(ctx, in)
			typ, nonRetryable := appErrType(t, err)
			if typ != tc.wantType || !nonRetryable {
				t.Fatalf("err = %v (type %q, non-retryable %v), want non-retryable %s", err, typ, nonRetryable, tc.wantType)
			}
			if w := f.writes(); len(w) != 0 {
				t.Fatalf("rejected input still wrote %v", w)
			}
		})
	}
}

func ownedBy(uid string, o metav1.ObjectMeta) metav1.ObjectMeta {
	in := testInput(ingressSolver(nil))
	in.UID = uid
	o.OwnerReferences = []metav1.OwnerReference{OwnerReference(in)}
	return o
}

func TestEnsureAdoptsAndRepairs(t *testing.T) {
	in := testInput(ingressSolver(nil))
	name := SolverName(in.Name)
	// A Service of the Challenge with the wrong type and selector, and an
	// Ingress of the Challenge pointing elsewhere (e.g. edited by hand).
	svc := &corev1.Service{
		ObjectMeta: ownedBy("uid-1", metav1.ObjectMeta{Name: name, Namespace: "ns1", Labels: map[string]string{"keep": "me"}}),
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.0.0.10", Selector: map[string]string{"x": "y"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8089}}},
	}
	ing := BuildIngress(in, "elsewhere")
	f := newFixture(svc, ing)
	if _, err := f.a.EnsureHTTP01Solver(ctx, in); err != nil {
		t.Fatal(err)
	}
	gotSvc := f.service(t, name)
	if gotSvc.Spec.Type != corev1.ServiceTypeNodePort || !equality.Semantic.DeepEqual(gotSvc.Spec.Selector, wantLabels()) || gotSvc.Spec.ClusterIP != "10.0.0.10" || gotSvc.Labels["keep"] != "me" {
		t.Fatalf("service not repaired (or lost fields): %+v %v", gotSvc.Spec, gotSvc.Labels)
	}
	if b := f.ingress(t, name).Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; b != name {
		t.Fatalf("ingress backend = %s", b)
	}
	f.writes()
	if _, err := f.a.EnsureHTTP01Solver(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.writes() {
		if !strings.HasPrefix(w, "create ") {
			t.Errorf("ensure after repair wrote: %s", w)
		}
	}
}

func TestEnsureReplacesLeftovers(t *testing.T) {
	in := testInput(ingressSolver(nil))
	name := SolverName(in.Name)
	// A Pod left by an earlier Challenge of the same name, and a Pod of this
	// Challenge that stopped: both are replaced by a fresh one.
	tests := []struct {
		name string
		pod  *corev1.Pod
	}{
		{"pod of an earlier challenge of the same name", &corev1.Pod{ObjectMeta: ownedBy("uid-old", metav1.ObjectMeta{Name: name, Namespace: "ns1"})}},
		{"failed pod of this challenge", &corev1.Pod{ObjectMeta: ownedBy("uid-1", metav1.ObjectMeta{Name: name, Namespace: "ns1"}), Status: corev1.PodStatus{Phase: corev1.PodFailed}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(tc.pod)
			if _, err := f.a.EnsureHTTP01Solver(ctx, in); err != nil {
				t.Fatal(err)
			}
			p := f.pod(t, name)
			if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != "uid-1" || p.Status.Phase == corev1.PodFailed || len(p.Spec.Containers) != 1 {
				t.Fatalf("pod not replaced: %+v", p)
			}
		})
	}
}

func TestEnsureNameConflict(t *testing.T) {
	in := testInput(ingressSolver(nil))
	name := SolverName(in.Name)
	foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns1"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}
	f := newFixture(foreign)
	_, err := f.a.EnsureHTTP01Solver(ctx, in)
	if typ, nonRetryable := appErrType(t, err); typ != ErrTypeSolverNameConflict || !nonRetryable {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "Service ns1/"+name) {
		t.Errorf("error does not name the object: %v", err)
	}
	// Clean up leaves the foreign Service alone but removes the Pod.
	if err := f.a.CleanUpHTTP01Solver(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.CoreV1().Services("ns1").Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Fatalf("foreign service deleted: %v", err)
	}
	if _, err := f.kube.CoreV1().Pods("ns1").Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod not cleaned up: %v", err)
	}
}

func TestCleanUpWithoutEnsure(t *testing.T) {
	f := newFixture()
	for _, c := range []acmev1.ACMEChallengeSolverHTTP01{ingressSolver(nil), routeSolver(nil), {}} {
		if err := f.a.CleanUpHTTP01Solver(ctx, testInput(c)); err != nil {
			t.Fatalf("clean up of nothing: %v", err)
		}
	}
	in := testInput(ingressSolver(nil))
	in.Token = "bad/token"
	if typ, nonRetryable := appErrType(t, f.a.CleanUpHTTP01Solver(ctx, in)); typ != ErrTypeInvalidInput || !nonRetryable {
		t.Fatalf("clean up with a bad token: type %q", typ)
	}
}

func TestHTTP01SelfCheckActivity(t *testing.T) {
	reg := NewRegistry()
	reg.Add("127.0.0.1", testToken, testKey)
	port := serverPort(t, Handler(reg))
	a := &Activities{SelfCheck: SelfCheckOptions{Port: port}}

	res, err := a.HTTP01SelfCheck(ctx, SelfCheckInput{DNSName: "127.0.0.1", Token: testToken, Key: testKey})
	if err != nil || !res.OK {
		t.Fatalf("self check = %+v, %v", res, err)
	}
	res, err = a.HTTP01SelfCheck(ctx, SelfCheckInput{DNSName: "127.0.0.1", Token: "other", Key: "other.k"})
	if err != nil || res.OK || !strings.Contains(res.Detail, "404") {
		t.Fatalf("self check of an unknown token = %+v, %v", res, err)
	}
	res, err = a.HTTP01SelfCheck(ctx, SelfCheckInput{URL: "http://127.0.0.1/.well-known/acme-challenge/" + testToken, Key: testKey})
	if err != nil || !res.OK {
		t.Fatalf("self check by URL = %+v, %v", res, err)
	}
	for _, bad := range []SelfCheckInput{{DNSName: "x", Token: testToken}, {Token: testToken, Key: "k"}, {DNSName: "x", Token: "a/b", Key: "k"}} {
		if typ, _ := appErrType(t, func() error { _, err := a.HTTP01SelfCheck(ctx, bad); return err }()); typ != ErrTypeInvalidInput {
			t.Errorf("input %+v: type %q", bad, typ)
		}
	}
}

func TestEnsureWaitsForObjectBeingDeleted(t *testing.T) {
	in := testInput(ingressSolver(nil))
	name := SolverName(in.Name)
	now := metav1.Now()
	meta := ownedBy("uid-1", metav1.ObjectMeta{Name: name, Namespace: "ns1", DeletionTimestamp: &now, Finalizers: []string{"example.com/hold"}})
	f := newFixture(&corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}})
	_, err := f.a.EnsureHTTP01Solver(ctx, in)
	if err == nil || !strings.Contains(err.Error(), "is being deleted") {
		t.Fatalf("err = %v", err)
	}
	if _, nonRetryable := appErrType(t, err); nonRetryable {
		t.Fatal("waiting for a deletion must be retryable")
	}
}

func TestCleanUpRouteWithoutGatewayClient(t *testing.T) {
	f := newFixture()
	f.a.Gateway = nil
	err := f.a.CleanUpHTTP01Solver(ctx, testInput(routeSolver(nil)))
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != ErrTypeSolverNotConfigured || !ae.NonRetryable() {
		t.Fatalf("err = %#v", err)
	}
	if _, ok := err.(*temporal.ApplicationError); !ok {
		t.Fatalf("a single error must be returned unwrapped, got %T", err)
	}
}
