package http01

import (
	"crypto/sha256"
	"fmt"
	"hash/adler32"
	"maps"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

// Constants of the solver objects. The values are upstream cert-manager's.
const (
	// SolverPort is the port the solver Pod listens on and the Service
	// exposes (upstream acmeSolverListenPort).
	SolverPort = 8089
	// NamePrefix starts the name of every solver object (upstream uses it as
	// generateName; certflow appends a hash of the Challenge name instead of
	// a random suffix, so that creation is idempotent across retries).
	NamePrefix = "cm-acme-http-solver-"
	// SolverContainerName is the name of the solver Pod's container.
	SolverContainerName = "acmesolver"
	// SolverSubcommand is the certflow-worker subcommand the solver Pod runs.
	SolverSubcommand = "http01-solver"
	// IngressClassAnnotation is the legacy ingress class annotation set from
	// http01.ingress.class.
	IngressClassAnnotation = "kubernetes.io/ingress.class"
	// whitelistSourceRangeAnnotation is set on solver Ingresses so that
	// ingress-nginx allow-lists do not block the ACME server (upstream keeps
	// it for compatibility; a template annotation ending in
	// "whitelist-source-range" replaces it).
	whitelistSourceRangeAnnotation = "nginx.ingress.kubernetes.io/whitelist-source-range"
)

// Default resources of the solver container: upstream's flag defaults
// (--acme-http01-solver-resource-{request,limits}-{cpu,memory}).
var (
	DefaultSolverCPURequest    = resource.MustParse("10m")
	DefaultSolverMemoryRequest = resource.MustParse("64Mi")
	DefaultSolverCPULimit      = resource.MustParse("100m")
	DefaultSolverMemoryLimit   = resource.MustParse("64Mi")
)

// SolverInput is what the HTTP-01 solver needs from a Challenge.
type SolverInput struct {
	// Namespace, Name and UID of the Challenge; solver objects are created in
	// its namespace and owned by it.
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	// DNSName is the identifier being validated (spec.dnsName: no "*.",
	// possibly an IP address).
	DNSName string `json:"dnsName"`
	// Token and Key are spec.token and spec.key (the key authorization).
	Token string `json:"token"`
	Key   string `json:"key"`
	// HTTP01 is spec.solver.http01.
	HTTP01 acmev1.ACMEChallengeSolverHTTP01 `json:"http01"`
}

// InputFromChallenge returns the SolverInput of ch. ch.Spec.Solver.HTTP01 may
// be nil (an empty config is then used, which the activities reject).
func InputFromChallenge(ch *acmev1.Challenge) SolverInput {
	in := SolverInput{
		Namespace: ch.Namespace,
		Name:      ch.Name,
		UID:       string(ch.UID),
		DNSName:   ch.Spec.DNSName,
		Token:     ch.Spec.Token,
		Key:       ch.Spec.Key,
	}
	if ch.Spec.Solver.HTTP01 != nil {
		in.HTTP01 = *ch.Spec.Solver.HTTP01.DeepCopy()
	}
	return in
}

// SolverName is the name of every object created for the Challenge named
// challengeName: NamePrefix and 10 characters derived from a SHA-256 of the
// name (from the alphabet Kubernetes uses for generateName). It is a valid
// DNS-1035 label, so it can name a Service.
func SolverName(challengeName string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	sum := sha256.Sum256([]byte(challengeName))
	b := make([]byte, 10)
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return NamePrefix + string(b)
}

// SolverLabels are the labels upstream puts on every solver object (and the
// Service selects the Pod by): the solver marker and Adler-32 checksums (in
// decimal) of the domain and the token.
func SolverLabels(dnsName, token string) map[string]string {
	return map[string]string{
		acmev1.DomainLabelKey:               fmt.Sprint(adler32.Checksum([]byte(dnsName))),
		acmev1.TokenLabelKey:                fmt.Sprint(adler32.Checksum([]byte(token))),
		acmev1.SolverIdentificationLabelKey: "true",
	}
}

// SolverPath is the URL path of token's key authorization.
func SolverPath(token string) string { return ChallengePath + token }

// OwnerReference is the controller reference to the Challenge that solver
// objects carry, so that they are garbage-collected with it.
func OwnerReference(in SolverInput) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{
		APIVersion:         acmev1.SchemeGroupVersion.String(),
		Kind:               acmev1.ChallengeKind,
		Name:               in.Name,
		UID:                types.UID(in.UID),
		Controller:         &t,
		BlockOwnerDeletion: &t,
	}
}

func objectMeta(in SolverInput, labels, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            SolverName(in.Name),
		Namespace:       in.Namespace,
		Labels:          labels,
		Annotations:     annotations,
		OwnerReferences: []metav1.OwnerReference{OwnerReference(in)},
	}
}

// podTemplate returns the pod template of whichever solver kind is set.
func podTemplate(c acmev1.ACMEChallengeSolverHTTP01) *acmev1.ACMEChallengeSolverHTTP01IngressPodTemplate {
	switch {
	case c.Ingress != nil:
		return c.Ingress.PodTemplate
	case c.GatewayHTTPRoute != nil:
		return c.GatewayHTTPRoute.PodTemplate
	}
	return nil
}

// ServiceType is the type of the solver Service: the solver's serviceType,
// NodePort when unset (upstream's default).
func ServiceType(c acmev1.ACMEChallengeSolverHTTP01) corev1.ServiceType {
	var t corev1.ServiceType
	switch {
	case c.Ingress != nil:
		t = c.Ingress.ServiceType
	case c.GatewayHTTPRoute != nil:
		t = c.GatewayHTTPRoute.ServiceType
	}
	if t == "" {
		return corev1.ServiceTypeNodePort
	}
	return t
}

// BuildPod returns the solver Pod: upstream's defaults (hardened security
// context, no service account token, linux node selector, default resources)
// with the solver's podTemplate merged in. Its container runs image with
// "http01-solver --listen-port=8089 --domain=... --token=... --key=...".
//
// Merging follows upstream: template labels, annotations and nodeSelector
// entries are added (overriding defaults with the same key), tolerations and
// imagePullSecrets are appended, affinity, priorityClassName and
// serviceAccountName replace the defaults when set, a securityContext
// replaces the default one as a whole, and resources override the default
// requests/limits per resource name. The solver labels always stay, so the
// Service keeps selecting the Pod.
func BuildPod(in SolverInput, image string) *corev1.Pod {
	f := false
	t := true
	labels := SolverLabels(in.DNSName, in.Token)
	annotations := map[string]string{
		"sidecar.istio.io/inject":                        "false",
		"cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
	}
	pod := &corev1.Pod{
		ObjectMeta: objectMeta(in, labels, annotations),
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: &f,
			EnableServiceLinks:           &f,
			NodeSelector:                 map[string]string{"kubernetes.io/os": "linux"},
			RestartPolicy:                corev1.RestartPolicyOnFailure,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &t,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            SolverContainerName,
				Image:           image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Args: []string{
					SolverSubcommand,
					fmt.Sprintf("--listen-port=%d", SolverPort),
					"--domain=" + in.DNSName,
					"--token=" + in.Token,
					"--key=" + in.Key,
				},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: SolverPort, Protocol: corev1.ProtocolTCP}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    DefaultSolverCPURequest.DeepCopy(),
						corev1.ResourceMemory: DefaultSolverMemoryRequest.DeepCopy(),
					},
					Limits: corev1.ResourceList{
						corev1.ResourceCPU:    DefaultSolverCPULimit.DeepCopy(),
						corev1.ResourceMemory: DefaultSolverMemoryLimit.DeepCopy(),
					},
				},
				SecurityContext: &corev1.SecurityContext{
					ReadOnlyRootFilesystem:   &t,
					AllowPrivilegeEscalation: &f,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	if tpl := podTemplate(in.HTTP01); tpl != nil {
		mergePodTemplate(pod, tpl.DeepCopy())
	}
	maps.Copy(pod.Labels, SolverLabels(in.DNSName, in.Token))
	return pod
}

func mergePodTemplate(pod *corev1.Pod, tpl *acmev1.ACMEChallengeSolverHTTP01IngressPodTemplate) {
	maps.Copy(pod.Labels, tpl.Labels)
	maps.Copy(pod.Annotations, tpl.Annotations)
	s := &pod.Spec
	maps.Copy(s.NodeSelector, tpl.Spec.NodeSelector)
	s.Tolerations = append(s.Tolerations, tpl.Spec.Tolerations...)
	if tpl.Spec.Affinity != nil {
		s.Affinity = tpl.Spec.Affinity
	}
	if tpl.Spec.PriorityClassName != "" {
		s.PriorityClassName = tpl.Spec.PriorityClassName
	}
	if tpl.Spec.ServiceAccountName != "" {
		s.ServiceAccountName = tpl.Spec.ServiceAccountName
	}
	s.ImagePullSecrets = append(s.ImagePullSecrets, tpl.Spec.ImagePullSecrets...)
	if sc := tpl.Spec.SecurityContext; sc != nil {
		s.SecurityContext = &corev1.PodSecurityContext{
			SELinuxOptions:      sc.SELinuxOptions,
			RunAsUser:           sc.RunAsUser,
			RunAsGroup:          sc.RunAsGroup,
			RunAsNonRoot:        sc.RunAsNonRoot,
			SupplementalGroups:  sc.SupplementalGroups,
			FSGroup:             sc.FSGroup,
			Sysctls:             sc.Sysctls,
			FSGroupChangePolicy: sc.FSGroupChangePolicy,
			SeccompProfile:      sc.SeccompProfile,
		}
	}
	if r := tpl.Spec.Resources; r != nil {
		c := &s.Containers[0].Resources
		maps.Copy(c.Requests, r.Requests)
		maps.Copy(c.Limits, r.Limits)
	}
}

// BuildService returns the solver Service: port 8089 ("http") to the solver
// Pod, selected by the solver labels, of the solver's serviceType (NodePort
// by default).
func BuildService(in SolverInput) *corev1.Service {
	labels := SolverLabels(in.DNSName, in.Token)
	return &corev1.Service{
		ObjectMeta: objectMeta(in, labels, map[string]string{"auth.istio.io/8089": "NONE"}),
		Spec: corev1.ServiceSpec{
			Type: ServiceType(in.HTTP01),
			Ports: []corev1.ServicePort{{
				Name:       "http",
				Protocol:   corev1.ProtocolTCP,
				Port:       SolverPort,
				TargetPort: intstr.FromInt32(SolverPort),
			}},
			Selector: SolverLabels(in.DNSName, in.Token),
		},
	}
}

// ingressHost is the Ingress rule host for an identifier: the name itself, or
// "" (every host) for an IP address, which an Ingress host cannot be.
func ingressHost(dnsName string) string {
	if net.ParseIP(dnsName) != nil {
		return ""
	}
	return dnsName
}

// IngressPath is the Ingress path that routes token's challenge to the
// solver Service (pathType ImplementationSpecific, as upstream).
func IngressPath(token, serviceName string) networkingv1.HTTPIngressPath {
	pt := networkingv1.PathTypeImplementationSpecific
	return networkingv1.HTTPIngressPath{
		Path:     SolverPath(token),
		PathType: &pt,
		Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{
				Name: serviceName,
				Port: networkingv1.ServiceBackendPort{Number: SolverPort},
			},
		},
	}
}

// BuildIngress returns the solver Ingress routing
// http://<dnsName>/.well-known/acme-challenge/<token> to serviceName, or nil
// when the solver is not an Ingress solver or names an existing Ingress
// (http01.ingress.name; use AddChallengePath then).
//
// http01.ingress.class sets the kubernetes.io/ingress.class annotation,
// http01.ingress.ingressClassName sets spec.ingressClassName; the
// ingressTemplate's labels and annotations are merged over the defaults
// (an annotation ending in "whitelist-source-range" drops the default
// ingress-nginx one). The solver labels always stay.
func BuildIngress(in SolverInput, serviceName string) *networkingv1.Ingress {
	cfg := in.HTTP01.Ingress
	if cfg == nil || cfg.Name != "" {
		return nil
	}
	labels := SolverLabels(in.DNSName, in.Token)
	annotations := map[string]string{whitelistSourceRangeAnnotation: "0.0.0.0/0,::/0"}
	if cfg.Class != nil {
		annotations[IngressClassAnnotation] = *cfg.Class
	}
	if tpl := cfg.IngressTemplate; tpl != nil {
		maps.Copy(labels, tpl.Labels)
		for k, v := range tpl.Annotations {
			if k[strings.LastIndex(k, "/")+1:] == "whitelist-source-range" {
				delete(annotations, whitelistSourceRangeAnnotation)
			}
			annotations[k] = v
		}
		maps.Copy(labels, SolverLabels(in.DNSName, in.Token))
	}
	ing := &networkingv1.Ingress{
		ObjectMeta: objectMeta(in, labels, annotations),
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: ingressHost(in.DNSName),
				IngressRuleValue: networkingv1.IngressRuleValue{
					HTTP: &networkingv1.HTTPIngressRuleValue{
						Paths: []networkingv1.HTTPIngressPath{IngressPath(in.Token, serviceName)},
					},
				},
			}},
		},
	}
	if cfg.IngressClassName != nil {
		name := *cfg.IngressClassName
		ing.Spec.IngressClassName = &name
	}
	return ing
}

// AddChallengePath returns a copy of ing with the challenge path of token
// routed to serviceName under the rule for dnsName, and whether anything
// changed (false when the path is already there as wanted). As upstream, the
// path is put first in an existing rule for the host (a path with the same
// URL is replaced in place), or a new rule is appended.
func AddChallengePath(ing *networkingv1.Ingress, dnsName, token, serviceName string) (*networkingv1.Ingress, bool) {
	out := ing.DeepCopy()
	host := ingressHost(dnsName)
	want := IngressPath(token, serviceName)
	for i := range out.Spec.Rules {
		rule := &out.Spec.Rules[i]
		if rule.Host != host {
			continue
		}
		if rule.HTTP == nil {
			rule.HTTP = &networkingv1.HTTPIngressRuleValue{}
		}
		for j, p := range rule.HTTP.Paths {
			if p.Path != want.Path {
				continue
			}
			if equality.Semantic.DeepEqual(p, want) {
				return out, false
			}
			rule.HTTP.Paths[j] = want
			return out, true
		}
		rule.HTTP.Paths = append([]networkingv1.HTTPIngressPath{want}, rule.HTTP.Paths...)
		return out, true
	}
	out.Spec.Rules = append(out.Spec.Rules, networkingv1.IngressRule{
		Host: host,
		IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{want}},
		},
	})
	return out, true
}

// RemoveChallengePath returns a copy of ing without the challenge path of
// token in the rules for dnsName, and whether anything was removed. A rule
// left without paths by the removal is dropped; other rules and paths are
// kept as they are.
func RemoveChallengePath(ing *networkingv1.Ingress, dnsName, token string) (*networkingv1.Ingress, bool) {
	out := ing.DeepCopy()
	host := ingressHost(dnsName)
	path := SolverPath(token)
	changed := false
	rules := out.Spec.Rules[:0]
	for _, rule := range out.Spec.Rules {
		if rule.Host != host || rule.HTTP == nil {
			rules = append(rules, rule)
			continue
		}
		paths := rule.HTTP.Paths[:0]
		removed := false
		for _, p := range rule.HTTP.Paths {
			if p.Path == path {
				removed = true
				continue
			}
			paths = append(paths, p)
		}
		if !removed {
			rules = append(rules, rule)
			continue
		}
		changed = true
		if len(paths) == 0 {
			continue
		}
		rule.HTTP.Paths = paths
		rules = append(rules, rule)
	}
	if !changed {
		return ing.DeepCopy(), false
	}
	if len(rules) == 0 {
		rules = nil
	}
	out.Spec.Rules = rules
	return out, true
}

// HasChallengePath reports whether ing routes token's challenge path for
// dnsName.
func HasChallengePath(ing *networkingv1.Ingress, dnsName, token string) bool {
	host, path := ingressHost(dnsName), SolverPath(token)
	for _, rule := range ing.Spec.Rules {
		if rule.Host != host || rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Path == path {
				return true
			}
		}
	}
	return false
}

// BuildHTTPRoute returns the solver HTTPRoute (gateway.networking.k8s.io/v1)
// attached to the solver's parentRefs, for hostname dnsName, routing the
// exact challenge path to port 8089 of serviceName; or nil when the solver is
// not a gatewayHTTPRoute solver. Labels are the solver labels plus
// gatewayHTTPRoute.labels. Fields the API server would default (parentRef
// group and kind, backendRef group, kind and weight) are set explicitly so
// that a stored route compares equal to a freshly built one.
func BuildHTTPRoute(in SolverInput, serviceName string) *gwapiv1.HTTPRoute {
	cfg := in.HTTP01.GatewayHTTPRoute
	if cfg == nil {
		return nil
	}
	labels := map[string]string{}
	maps.Copy(labels, cfg.Labels)
	maps.Copy(labels, SolverLabels(in.DNSName, in.Token))
	parents := make([]gwapiv1.ParentReference, 0, len(cfg.ParentRefs))
	for _, p := range cfg.ParentRefs {
		parents = append(parents, parentRef(p))
	}
	var hostnames []gwapiv1.Hostname
	if net.ParseIP(in.DNSName) == nil {
		hostnames = []gwapiv1.Hostname{gwapiv1.Hostname(in.DNSName)}
	}
	exact := gwapiv1.PathMatchExact
	path := SolverPath(in.Token)
	group := gwapiv1.Group("")
	kind := gwapiv1.Kind("Service")
	ns := gwapiv1.Namespace(in.Namespace)
	port := gwapiv1.PortNumber(SolverPort)
	weight := int32(1)
	return &gwapiv1.HTTPRoute{
		ObjectMeta: objectMeta(in, labels, nil),
		Spec: gwapiv1.HTTPRouteSpec{
			CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: parents},
			Hostnames:       hostnames,
			Rules: []gwapiv1.HTTPRouteRule{{
				Matches: []gwapiv1.HTTPRouteMatch{{
					Path: &gwapiv1.HTTPPathMatch{Type: &exact, Value: &path},
				}},
				BackendRefs: []gwapiv1.HTTPBackendRef{{
					BackendRef: gwapiv1.BackendRef{
						BackendObjectReference: gwapiv1.BackendObjectReference{
							Group:     &group,
							Kind:      &kind,
							Name:      gwapiv1.ObjectName(serviceName),
							Namespace: &ns,
							Port:      &port,
						},
						Weight: &weight,
					},
				}},
			}},
		},
	}
}

// parentRef converts a solver parentRef to Gateway API's type, with the
// group and kind defaults (gateway.networking.k8s.io, Gateway) filled in.
func parentRef(p acmev1.ParentReference) gwapiv1.ParentReference {
	group := gwapiv1.Group(gwapiv1.GroupName)
	if p.Group != nil {
		group = gwapiv1.Group(*p.Group)
	}
	kind := gwapiv1.Kind("Gateway")
	if p.Kind != nil {
		kind = gwapiv1.Kind(*p.Kind)
	}
	out := gwapiv1.ParentReference{Group: &group, Kind: &kind, Name: gwapiv1.ObjectName(p.Name)}
	if p.Namespace != nil {
		ns := gwapiv1.Namespace(*p.Namespace)
		out.Namespace = &ns
	}
	if p.SectionName != nil {
		sn := gwapiv1.SectionName(*p.SectionName)
		out.SectionName = &sn
	}
	if p.Port != nil {
		port := gwapiv1.PortNumber(*p.Port)
		out.Port = &port
	}
	return out
}
