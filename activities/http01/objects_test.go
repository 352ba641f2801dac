package http01

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

const (
	testToken = "tok-123_ABC"
	testKey   = "tok-123_ABC.thumbprint"
)

func ptr[T any](v T) *T { return &v }

func ingressSolver(mod func(*acmev1.ACMEChallengeSolverHTTP01Ingress)) acmev1.ACMEChallengeSolverHTTP01 {
	i := &acmev1.ACMEChallengeSolverHTTP01Ingress{}
	if mod != nil {
		mod(i)
	}
	return acmev1.ACMEChallengeSolverHTTP01{Ingress: i}
}

func routeSolver(mod func(*acmev1.ACMEChallengeSolverHTTP01GatewayHTTPRoute)) acmev1.ACMEChallengeSolverHTTP01 {
	r := &acmev1.ACMEChallengeSolverHTTP01GatewayHTTPRoute{ParentRefs: []acmev1.ParentReference{{Name: "gw"}}}
	if mod != nil {
		mod(r)
	}
	return acmev1.ACMEChallengeSolverHTTP01{GatewayHTTPRoute: r}
}

func testInput(c acmev1.ACMEChallengeSolverHTTP01) SolverInput {
	return SolverInput{
		Namespace: "ns1",
		Name:      "cert-1-2345-678",
		UID:       "uid-1",
		DNSName:   "example.com",
		Token:     testToken,
		Key:       testKey,
		HTTP01:    c,
	}
}

func wantLabels() map[string]string {
	// Adler-32 values computed independently (Python zlib.adler32).
	return map[string]string{
		"acme.cert-manager.io/http-domain":   "446694490",
		"acme.cert-manager.io/http-token":    "353370935",
		"acme.cert-manager.io/http01-solver": "true",
	}
}

func TestSolverName(t *testing.T) {
	a := SolverName("cert-1-2345-678")
	if a != SolverName("cert-1-2345-678") {
		t.Fatal("SolverName is not deterministic")
	}
	if !strings.HasPrefix(a, "cm-acme-http-solver-") || len(a) != len("cm-acme-http-solver-")+10 {
		t.Fatalf("SolverName = %q", a)
	}
	if errs := validation.IsDNS1035Label(a); len(errs) > 0 {
		t.Fatalf("SolverName %q is not a DNS-1035 label: %v", a, errs)
	}
	seen := map[string]string{}
	for _, n := range []string{"a", "b", "cert-1-2345-678", "cert-1-2345-679", strings.Repeat("x", 253)} {
		s := SolverName(n)
		if prev, dup := seen[s]; dup {
			t.Fatalf("SolverName(%q) == SolverName(%q) == %q", n, prev, s)
		}
		seen[s] = n
	}
}

func TestSolverLabels(t *testing.T) {
	if got := SolverLabels("example.com", testToken); !reflect.DeepEqual(got, wantLabels()) {
		t.Fatalf("SolverLabels = %v, want %v", got, wantLabels())
	}
	if got := SolverLabels("www.example.com", testToken)[acmev1.DomainLabelKey]; got != "810681837" {
		t.Fatalf("domain label = %s", got)
	}
}

func TestOwnerReference(t *testing.T) {
	ref := OwnerReference(testInput(ingressSolver(nil)))
	want := metav1.OwnerReference{APIVersion: "acme.cert-manager.io/v1", Kind: "Challenge", Name: "cert-1-2345-678", UID: "uid-1", Controller: ptr(true), BlockOwnerDeletion: ptr(true)}
	if !reflect.DeepEqual(ref, want) {
		t.Fatalf("OwnerReference = %+v, want %+v", ref, want)
	}
}

func checkMeta(t *testing.T, m metav1.ObjectMeta, in SolverInput) {
	t.Helper()
	if m.Name != SolverName(in.Name) || m.Namespace != in.Namespace || m.GenerateName != "" {
		t.Errorf("name/namespace = %q/%q (generateName %q)", m.Namespace, m.Name, m.GenerateName)
	}
	if len(m.OwnerReferences) != 1 || !reflect.DeepEqual(m.OwnerReferences[0], OwnerReference(in)) {
		t.Errorf("ownerReferences = %+v", m.OwnerReferences)
	}
	if c := metav1.GetControllerOf(&metav1.ObjectMeta{OwnerReferences: m.OwnerReferences}); c == nil || c.UID != "uid-1" {
		t.Errorf("no controller reference to the Challenge: %+v", m.OwnerReferences)
	}
	for k, v := range wantLabels() {
		if m.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, m.Labels[k], v, m.Labels)
		}
	}
}

func TestBuildPodDefaults(t *testing.T) {
	in := testInput(ingressSolver(nil))
	pod := BuildPod(in, "ghcr.io/certflow/worker:v1")
	checkMeta(t, pod.ObjectMeta, in)
	if !reflect.DeepEqual(pod.Labels, wantLabels()) {
		t.Errorf("labels = %v", pod.Labels)
	}
	wantAnn := map[string]string{"sidecar.istio.io/inject": "false", "cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}
	if !reflect.DeepEqual(pod.Annotations, wantAnn) {
		t.Errorf("annotations = %v", pod.Annotations)
	}
	s := pod.Spec
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken || s.EnableServiceLinks == nil || *s.EnableServiceLinks {
		t.Errorf("service account token / service links not disabled")
	}
	if s.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy = %s", s.RestartPolicy)
	}
	if !reflect.DeepEqual(s.NodeSelector, map[string]string{"kubernetes.io/os": "linux"}) {
		t.Errorf("nodeSelector = %v", s.NodeSelector)
	}
	if s.SecurityContext == nil || s.SecurityContext.RunAsNonRoot == nil || !*s.SecurityContext.RunAsNonRoot || s.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v", s.SecurityContext)
	}
	if len(s.Containers) != 1 {
		t.Fatalf("containers = %d", len(s.Containers))
	}
	c := s.Containers[0]
	if c.Name != "acmesolver" || c.Image != "ghcr.io/certflow/worker:v1" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container = %s %s %s", c.Name, c.Image, c.ImagePullPolicy)
	}
	wantArgs := []string{"http01-solver", "--listen-port=8089", "--domain=example.com", "--token=" + testToken, "--key=" + testKey}
	if !reflect.DeepEqual(c.Args, wantArgs) || len(c.Command) != 0 {
		t.Errorf("args = %q command = %q", c.Args, c.Command)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8089 || c.Ports[0].Name != "http" {
		t.Errorf("ports = %+v", c.Ports)
	}
	wantRes := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	if !equality.Semantic.DeepEqual(c.Resources, wantRes) {
		t.Errorf("resources = %+v", c.Resources)
	}
	sc := c.SecurityContext
	if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext = %+v", sc)
	}
}

func TestBuildPodTemplateMerge(t *testing.T) {
	aff := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}},
	}}}
	tpl := &acmev1.ACMEChallengeSolverHTTP01IngressPodTemplate{
		ACMEChallengeSolverHTTP01IngressPodObjectMeta: acmev1.ACMEChallengeSolverHTTP01IngressPodObjectMeta{
			Labels:      map[string]string{"team": "a", acmev1.DomainLabelKey: "overridden"},
			Annotations: map[string]string{"sidecar.istio.io/inject": "true", "foo": "bar"},
		},
		Spec: acmev1.ACMEChallengeSolverHTTP01IngressPodSpec{
			NodeSelector:       map[string]string{"node": "selector"},
			Tolerations:        []corev1.Toleration{{Key: "key", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			Affinity:           aff,
			PriorityClassName:  "high",
			ServiceAccountName: "solver",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "cred"}},
			SecurityContext: &acmev1.ACMEChallengeSolverHTTP01IngressPodSecurityContext{
				RunAsUser: ptr(int64(1000)),
				FSGroup:   ptr(int64(2000)),
			},
			Resources: &acmev1.ACMEChallengeSolverHTTP01IngressPodResources{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")},
			},
		},
	}
	tests := []struct {
		name string
		in   SolverInput
	}{
		{name: "ingress podTemplate", in: testInput(ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) { i.PodTemplate = tpl }))},
		{name: "gatewayHTTPRoute podTemplate", in: testInput(routeSolver(func(r *acmev1.ACMEChallengeSolverHTTP01GatewayHTTPRoute) { r.PodTemplate = tpl }))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := BuildPod(tc.in, "img")
			checkMeta(t, pod.ObjectMeta, tc.in)
			if pod.Labels["team"] != "a" {
				t.Errorf("template label missing: %v", pod.Labels)
			}
			wantAnn := map[string]string{"sidecar.istio.io/inject": "true", "cluster-autoscaler.kubernetes.io/safe-to-evict": "true", "foo": "bar"}
			if !reflect.DeepEqual(pod.Annotations, wantAnn) {
				t.Errorf("annotations = %v", pod.Annotations)
			}
			s := pod.Spec
			if !reflect.DeepEqual(s.NodeSelector, map[string]string{"kubernetes.io/os": "linux", "node": "selector"}) {
				t.Errorf("nodeSelector = %v", s.NodeSelector)
			}
			if !reflect.DeepEqual(s.Tolerations, tpl.Spec.Tolerations) {
				t.Errorf("tolerations = %v", s.Tolerations)
			}
			if !reflect.DeepEqual(s.Affinity, aff) {
				t.Errorf("affinity = %v", s.Affinity)
			}
			if s.PriorityClassName != "high" || s.ServiceAccountName != "solver" {
				t.Errorf("priorityClassName/serviceAccountName = %q/%q", s.PriorityClassName, s.ServiceAccountName)
			}
			if !reflect.DeepEqual(s.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "cred"}}) {
				t.Errorf("imagePullSecrets = %v", s.ImagePullSecrets)
			}
			wantSC := &corev1.PodSecurityContext{RunAsUser: ptr(int64(1000)), FSGroup: ptr(int64(2000))}
			if !reflect.DeepEqual(s.SecurityContext, wantSC) {
				t.Errorf("securityContext = %+v, want the template's as a whole", s.SecurityContext)
			}
			wantRes := corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			}
			if !equality.Semantic.DeepEqual(s.Containers[0].Resources, wantRes) {
				t.Errorf("resources = %+v", s.Containers[0].Resources)
			}
		})
	}
	// The template is not modified by building.
	if len(tpl.Spec.Tolerations) != 1 || tpl.Labels[acmev1.DomainLabelKey] != "overridden" {
		t.Fatal("template mutated")
	}
}

func TestBuildService(t *testing.T) {
	tests := []struct {
		name string
		c    acmev1.ACMEChallengeSolverHTTP01
		want corev1.ServiceType
	}{
		{name: "ingress default NodePort", c: ingressSolver(nil), want: corev1.ServiceTypeNodePort},
		{name: "ingress ClusterIP", c: ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) { i.ServiceType = corev1.ServiceTypeClusterIP }), want: corev1.ServiceTypeClusterIP},
		{name: "gateway default NodePort", c: routeSolver(nil), want: corev1.ServiceTypeNodePort},
		{name: "gateway ClusterIP", c: routeSolver(func(r *acmev1.ACMEChallengeSolverHTTP01GatewayHTTPRoute) { r.ServiceType = corev1.ServiceTypeClusterIP }), want: corev1.ServiceTypeClusterIP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput(tc.c)
			svc := BuildService(in)
			checkMeta(t, svc.ObjectMeta, in)
			if svc.Spec.Type != tc.want {
				t.Errorf("type = %s, want %s", svc.Spec.Type, tc.want)
			}
			if !reflect.DeepEqual(svc.Spec.Selector, wantLabels()) {
				t.Errorf("selector = %v", svc.Spec.Selector)
			}
			// The selector selects the Pod.
			pod := BuildPod(in, "img")
			for k, v := range svc.Spec.Selector {
				if pod.Labels[k] != v {
					t.Errorf("selector %s=%s does not match the pod", k, v)
				}
			}
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8089 || svc.Spec.Ports[0].TargetPort.IntValue() != 8089 || svc.Spec.Ports[0].Name != "http" {
				t.Errorf("ports = %+v", svc.Spec.Ports)
			}
			if svc.Annotations["auth.istio.io/8089"] != "NONE" {
				t.Errorf("annotations = %v", svc.Annotations)
			}
		})
	}
}

func TestBuildIngress(t *testing.T) {
	tests := []struct {
		name      string
		c         acmev1.ACMEChallengeSolverHTTP01
		dnsName   string
		wantNil   bool
		wantHost  string
		wantClass *string
		wantAnn   map[string]string
		wantLabel map[string]string // extra labels
	}{
		{name: "no class", c: ingressSolver(nil), wantHost: "example.com",
			wantAnn: map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"}},
		{name: "class sets the annotation only", c: ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) { i.Class = ptr("nginx") }), wantHost: "example.com",
			wantAnn: map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0", "kubernetes.io/ingress.class": "nginx"}},
		{name: "ingressClassName sets the spec field only", c: ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) { i.IngressClassName = ptr("traefik") }), wantHost: "example.com", wantClass: ptr("traefik"),
			wantAnn: map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"}},
		{name: "ingressTemplate merged", c: ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) {
			i.Class = ptr("nginx")
			i.IngressTemplate = &acmev1.ACMEChallengeSolverHTTP01IngressTemplate{ACMEChallengeSolverHTTP01IngressObjectMeta: acmev1.ACMEChallengeSolverHTTP01IngressObjectMeta{
				Labels:      map[string]string{"this": "label", acmev1.TokenLabelKey: "overridden"},
				Annotations: map[string]string{"nginx.org/mergeable-ingress-type": "minion", "kubernetes.io/ingress.class": "other"},
			}}
		}), wantHost: "example.com",
			wantAnn:   map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0", "kubernetes.io/ingress.class": "other", "nginx.org/mergeable-ingress-type": "minion"},
			wantLabel: map[string]string{"this": "label"}},
		{name: "template whitelist-source-range replaces the default", c: ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) {
			i.IngressTemplate = &acmev1.ACMEChallengeSolverHTTP01IngressTemplate{ACMEChallengeSolverHTTP01IngressObjectMeta: acmev1.ACMEChallengeSolverHTTP01IngressObjectMeta{
				Annotations: map[string]string{"example.com/whitelist-source-range": "10.0.0.0/8"},
			}}
		}), wantHost: "example.com",
			wantAnn: map[string]string{"example.com/whitelist-source-range": "10.0.0.0/8"}},
		{name: "IP identifier routes every host", c: ingressSolver(nil), dnsName: "192.0.2.1", wantHost: "",
			wantAnn: map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"}},
		{name: "named Ingress: nothing to create", c: ingressSolver(func(i *acmev1.ACMEChallengeSolverHTTP01Ingress) { i.Name = "existing" }), wantNil: true},
		{name: "gateway solver: no Ingress", c: routeSolver(nil), wantNil: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput(tc.c)
			if tc.dnsName != "" {
				in.DNSName = tc.dnsName
			}
			ing := BuildIngress(in, "svc")
			if tc.wantNil {
				if ing != nil {
					t.Fatalf("BuildIngress = %+v, want nil", ing)
				}
				return
			}
			if tc.dnsName == "" {
				checkMeta(t, ing.ObjectMeta, in)
			}
			if !reflect.DeepEqual(ing.Spec.IngressClassName, tc.wantClass) {
				t.Errorf("ingressClassName = %v, want %v", ing.Spec.IngressClassName, tc.wantClass)
			}
			if !reflect.DeepEqual(ing.Annotations, tc.wantAnn) {
				t.Errorf("annotations = %v, want %v", ing.Annotations, tc.wantAnn)
			}
			wantL := SolverLabels(in.DNSName, in.Token)
			for k, v := range tc.wantLabel {
				wantL[k] = v
			}
			if !reflect.DeepEqual(ing.Labels, wantL) {
				t.Errorf("labels = %v, want %v", ing.Labels, wantL)
			}
			pt := networkingv1.PathTypeImplementationSpecific
			wantRules := []networkingv1.IngressRule{{
				Host: tc.wantHost,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path:     "/.well-known/acme-challenge/" + testToken,
					PathType: &pt,
					Backend:  networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 8089}}},
				}}}},
			}}
			if !reflect.DeepEqual(ing.Spec.Rules, wantRules) {
				t.Errorf("rules = %+v", ing.Spec.Rules)
			}
		})
	}
}

func TestBuildHTTPRoute(t *testing.T) {
	gwGroup := gwapiv1.Group("gateway.networking.k8s.io")
	gwKind := gwapiv1.Kind("Gateway")
	tests := []struct {
		name          string
		c             acmev1.ACMEChallengeSolverHTTP01
		dnsName       string
		wantNil       bool
		wantParents   []gwapiv1.ParentReference
		wantHostnames []gwapiv1.Hostname
		wantLabels    map[string]string
	}{
		{name: "defaults filled into parentRefs", c: routeSolver(nil),
			wantParents:   []gwapiv1.ParentReference{{Group: &gwGroup, Kind: &gwKind, Name: "gw"}},
			wantHostnames: []gwapiv1.Hostname{"example.com"}},
		{name: "parentRefs copied field by field; labels added", c: routeSolver(func(r *acmev1.ACMEChallengeSolverHTTP01GatewayHTTPRoute) {
			r.Labels = map[string]string{"gateway": "public", acmev1.SolverIdentificationLabelKey: "nope"}
			r.ParentRefs = []acmev1.ParentReference{
				{Name: "gw", Namespace: ptr("infra"), SectionName: ptr("http"), Port: ptr(int32(80))},
				{Name: "ls", Group: ptr("gateway.networking.x-k8s.io"), Kind: ptr("ListenerSet")},
			}
		}),
			wantParents: []gwapiv1.ParentReference{
				{Group: &gwGroup, Kind: &gwKind, Name: "gw", Namespace: ptr(gwapiv1.Namespace("infra")), SectionName: ptr(gwapiv1.SectionName("http")), Port: ptr(gwapiv1.PortNumber(80))},
				{Group: ptr(gwapiv1.Group("gateway.networking.x-k8s.io")), Kind: ptr(gwapiv1.Kind("ListenerSet")), Name: "ls"},
			},
			wantHostnames: []gwapiv1.Hostname{"example.com"},
			wantLabels:    map[string]string{"gateway": "public"}},
		{name: "IP identifier has no hostnames", c: routeSolver(nil), dnsName: "2001:db8::1",
			wantParents: []gwapiv1.ParentReference{{Group: &gwGroup, Kind: &gwKind, Name: "gw"}}},
		{name: "ingress solver: no HTTPRoute", c: ingressSolver(nil), wantNil: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput(tc.c)
			if tc.dnsName != "" {
				in.DNSName = tc.dnsName
			}
			r := BuildHTTPRoute(in, "svc")
			if tc.wantNil {
				if r != nil {
					t.Fatalf("BuildHTTPRoute = %+v, want nil", r)
				}
				return
			}
			if tc.dnsName == "" {
				checkMeta(t, r.ObjectMeta, in)
			}
			wantL := SolverLabels(in.DNSName, in.Token)
			for k, v := range tc.wantLabels {
				wantL[k] = v
			}
			if !reflect.DeepEqual(r.Labels, wantL) {
				t.Errorf("labels = %v, want %v", r.Labels, wantL)
			}
			if !reflect.DeepEqual(r.Spec.ParentRefs, tc.wantParents) {
				t.Errorf("parentRefs = %+v, want %+v", r.Spec.ParentRefs, tc.wantParents)
			}
			if !reflect.DeepEqual(r.Spec.Hostnames, tc.wantHostnames) {
				t.Errorf("hostnames = %v, want %v", r.Spec.Hostnames, tc.wantHostnames)
			}
			if len(r.Spec.Rules) != 1 || len(r.Spec.Rules[0].Matches) != 1 || len(r.Spec.Rules[0].BackendRefs) != 1 {
				t.Fatalf("rules = %+v", r.Spec.Rules)
			}
			m := r.Spec.Rules[0].Matches[0].Path
			if m == nil || *m.Type != gwapiv1.PathMatchExact || *m.Value != "/.well-known/acme-challenge/"+testToken {
				t.Errorf("path match = %+v", m)
			}
			b := r.Spec.Rules[0].BackendRefs[0]
			if b.Name != "svc" || *b.Kind != "Service" || *b.Group != "" || *b.Port != 8089 || *b.Namespace != "ns1" || *b.Weight != 1 {
				t.Errorf("backendRef = %+v", b.BackendRef)
			}
		})
	}
}

func pathsOf(ing *networkingv1.Ingress) map[string][]string {
	out := map[string][]string{}
	for _, r := range ing.Spec.Rules {
		out[r.Host] = append(out[r.Host], "rule")
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			svc := ""
			if p.Backend.Service != nil {
				svc = p.Backend.Service.Name
			}
			out[r.Host] = append(out[r.Host], p.Path+"->"+svc)
		}
	}
	return out
}

func userPath(path, svc string) networkingv1.HTTPIngressPath {
	pt := networkingv1.PathTypePrefix
	return networkingv1.HTTPIngressPath{Path: path, PathType: &pt, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}}
}

func userIngress(rules ...networkingv1.IngressRule) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "existing", Namespace: "ns1"}, Spec: networkingv1.IngressSpec{Rules: rules}}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) networkingv1.IngressRule {
	return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}
}

func TestAddRemoveChallengePath(t *testing.T) {
	cp := "/.well-known/acme-challenge/" + testToken + "->svc"
	tests := []struct {
		name      string
		ing       *networkingv1.Ingress
		dnsName   string
		wantAdded map[string][]string
		// wantRemoved, when set, is the Ingress after removal; otherwise
		// the input without any challenge path of the token.
		wantRemoved map[string][]string
	}{
		{name: "no rules: a rule for the host is appended", ing: userIngress(), dnsName: "example.com",
			wantAdded: map[string][]string{"example.com": {"rule", cp}}},
		{name: "rule for another host: new rule appended", ing: userIngress(rule("other.com", userPath("/", "web"))), dnsName: "example.com",
			wantAdded: map[string][]string{"other.com": {"rule", "/->web"}, "example.com": {"rule", cp}}},
		{name: "rule for the host: path put first", ing: userIngress(rule("example.com", userPath("/", "web"), userPath("/api", "api"))), dnsName: "example.com",
			wantAdded: map[string][]string{"example.com": {"rule", cp, "/->web", "/api->api"}}},
		{name: "rule for the host without http (dropped on removal, as upstream)", ing: userIngress(networkingv1.IngressRule{Host: "example.com"}), dnsName: "example.com",
			wantAdded: map[string][]string{"example.com": {"rule", cp}}, wantRemoved: map[string][]string{}},
		{name: "challenge path to another backend is replaced in place", ing: userIngress(rule("example.com", userPath("/", "web"), userPath("/.well-known/acme-challenge/"+testToken, "old"))), dnsName: "example.com",
			wantAdded: map[string][]string{"example.com": {"rule", "/->web", cp}}},
		{name: "IP identifier uses the host-less rule", ing: userIngress(rule("", userPath("/", "web"))), dnsName: "192.0.2.1",
			wantAdded: map[string][]string{"": {"rule", cp, "/->web"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := tc.ing.DeepCopy()
			added, changed := AddChallengePath(tc.ing, tc.dnsName, testToken, "svc")
			if !changed {
				t.Fatal("AddChallengePath reported no change")
			}
			if !equality.Semantic.DeepEqual(tc.ing, orig) {
				t.Fatal("AddChallengePath modified its input")
			}
			if got := pathsOf(added); !reflect.DeepEqual(got, tc.wantAdded) {
				t.Fatalf("after add: %v, want %v", got, tc.wantAdded)
			}
			if !HasChallengePath(added, tc.dnsName, testToken) {
				t.Fatal("HasChallengePath false after add")
			}
			again, changed := AddChallengePath(added, tc.dnsName, testToken, "svc")
			if changed || !equality.Semantic.DeepEqual(again, added) {
				t.Fatalf("second add changed the Ingress: %v", pathsOf(again))
			}

			removed, changed := RemoveChallengePath(added, tc.dnsName, testToken)
			if !changed {
				t.Fatal("RemoveChallengePath reported no change")
			}
			if HasChallengePath(removed, tc.dnsName, testToken) {
				t.Fatal("path still there after remove")
			}
			if tc.wantRemoved != nil {
				if got := pathsOf(removed); !reflect.DeepEqual(got, tc.wantRemoved) {
					t.Fatalf("after remove: %v, want %v", got, tc.wantRemoved)
				}
				return
			}
			// Removing gives back the user's Ingress, except that a
			// replaced challenge path of the user is gone too.
			want := orig.DeepCopy()
			want, _ = RemoveChallengePath(want, tc.dnsName, testToken)
			if !equality.Semantic.DeepEqual(removed.Spec.Rules, want.Spec.Rules) && !(len(removed.Spec.Rules) == 0 && len(want.Spec.Rules) == 0) {
				t.Fatalf("after remove: %v, want %v", pathsOf(removed), pathsOf(want))
			}
			again, changed = RemoveChallengePath(removed, tc.dnsName, testToken)
			if changed || !equality.Semantic.DeepEqual(again, removed) {
				t.Fatalf("second remove changed the Ingress")
			}
		})
	}
}

func TestRemoveChallengePathKeepsOthers(t *testing.T) {
	other := "/.well-known/acme-challenge/othertoken"
	ing := userIngress(
		rule("example.com", userPath("/.well-known/acme-challenge/"+testToken, "svc"), userPath(other, "svc2")),
		rule("www.example.com", userPath("/.well-known/acme-challenge/"+testToken, "svc")),
		networkingv1.IngressRule{Host: "example.com"},
	)
	out, changed := RemoveChallengePath(ing, "example.com", testToken)
	if !changed {
		t.Fatal("no change")
	}
	want := map[string][]string{
		"example.com":     {"rule", other + "->svc2", "rule"},
		"www.example.com": {"rule", "/.well-known/acme-challenge/" + testToken + "->svc"},
	}
	if got := pathsOf(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// A rule with nothing but the challenge path goes away entirely.
	out, _ = RemoveChallengePath(userIngress(rule("example.com", userPath("/.well-known/acme-challenge/"+testToken, "svc"))), "example.com", testToken)
	if len(out.Spec.Rules) != 0 {
		t.Fatalf("rules = %+v", out.Spec.Rules)
	}
}

func TestInputFromChallenge(t *testing.T) {
	ch := &acmev1.Challenge{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "n", UID: "u"},
		Spec: acmev1.ChallengeSpec{DNSName: "example.com", Token: testToken, Key: testKey,
			Solver: acmev1.ACMEChallengeSolver{HTTP01: &acmev1.ACMEChallengeSolverHTTP01{Ingress: &acmev1.ACMEChallengeSolverHTTP01Ingress{Class: ptr("nginx")}}}},
	}
	in := InputFromChallenge(ch)
	if in.Namespace != "n" || in.Name != "c" || in.UID != "u" || in.DNSName != "example.com" || in.Token != testToken || in.Key != testKey || *in.HTTP01.Ingress.Class != "nginx" {
		t.Fatalf("InputFromChallenge = %+v", in)
	}
	*in.HTTP01.Ingress.Class = "changed"
	if *ch.Spec.Solver.HTTP01.Ingress.Class != "nginx" {
		t.Fatal("InputFromChallenge shares the solver with the Challenge")
	}
}
