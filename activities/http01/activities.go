package http01

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

// maxEnsureAttempts bounds the create/get/update loop of one object within
// one activity attempt (conflicts with a concurrent writer, a stale object
// being deleted).
const maxEnsureAttempts = 3

// Activities are the HTTP-01 solver activities. Register them on a worker
// with worker.RegisterActivity(&http01.Activities{...}); the activity names
// are the method names: EnsureHTTP01Solver, CleanUpHTTP01Solver and
// HTTP01SelfCheck.
type Activities struct {
	Kube kubernetes.Interface
	// Gateway is needed for gatewayHTTPRoute solvers only.
	Gateway gatewayclient.Interface
	// Image is the certflow worker image the solver Pod runs (its
	// "http01-solver" subcommand). Not needed when Local is set.
	Image string
	// Local, when non-nil (local stack), serves challenges in-process:
	// EnsureHTTP01Solver registers the token here instead of creating a
	// solver Pod, and CleanUpHTTP01Solver removes it.
	Local *Registry
	// SelfCheck tunes the self-check client (DNS server, port, timeout).
	SelfCheck SelfCheckOptions
	// ConfirmChallenge, when set, confirms that the Challenge a solver is set up for
	// exists with the input's UID before anything is created (kube.Activities does).
	ConfirmChallenge func(ctx context.Context, namespace, name, uid string) error
}

// SolverResult names what EnsureHTTP01Solver made sure of.
type SolverResult struct {
	// PodName is the solver Pod; empty when the challenge is served by the
	// in-process Registry (LocalRegistered).
	PodName         string `json:"podName,omitempty"`
	LocalRegistered bool   `json:"localRegistered,omitempty"`
	ServiceName     string `json:"serviceName"`
	// IngressName is the solver Ingress, or the existing Ingress that got the
	// challenge path (EditedIngress) when http01.ingress.name is set.
	IngressName   string `json:"ingressName,omitempty"`
	EditedIngress bool   `json:"editedIngress,omitempty"`
	HTTPRouteName string `json:"httpRouteName,omitempty"`
	// URL is where the ACME server (and the self check) fetches the key
	// authorization.
	URL string `json:"url"`
}

// SelfCheckInput asks for one self-check request.
type SelfCheckInput struct {
	DNSName string `json:"dnsName"`
	Token   string `json:"token"`
	// Key is the expected key authorization.
	Key string `json:"key"`
	// URL overrides SelfCheckURL(DNSName, Token) when set.
	URL string `json:"url,omitempty"`
}

// validToken reports whether t is a non-empty base64url string, as ACME
// tokens are (RFC 8555 section 8.1). Anything else could escape the
// challenge path.
func validToken(t string) bool {
	if t == "" {
		return false
	}
	for _, c := range t {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

func validateIdentity(in SolverInput) error {
	switch {
	case in.Namespace == "":
		return invalidInput("http01 solver: challenge namespace is required")
	case in.Name == "":
		return invalidInput("http01 solver: challenge name is required")
	case in.DNSName == "":
		return invalidInput("http01 solver: dnsName is required")
	case !validToken(in.Token):
		return invalidInput("http01 solver: token %q is not a base64url ACME token", in.Token)
	}
	return nil
}

func validateSolverInput(in SolverInput) error {
	if err := validateIdentity(in); err != nil {
		return err
	}
	switch {
	case in.UID == "":
		return invalidInput("http01 solver: challenge uid is required (solver objects are owned by the Challenge)")
	case in.Key == "":
		return invalidInput("http01 solver: key authorization is required")
	case strings.HasPrefix(in.DNSName, "*."):
		return invalidConfig("http01 solver: %s is a wildcard; HTTP-01 cannot validate wildcard identifiers, use a DNS-01 solver", in.DNSName)
	}
	c := in.HTTP01
	switch {
	case c.Ingress == nil && c.GatewayHTTPRoute == nil:
		return invalidConfig("http01 solver for %s: the solver sets neither http01.ingress nor http01.gatewayHTTPRoute", in.DNSName)
	case c.Ingress != nil && c.GatewayHTTPRoute != nil:
		return invalidConfig("http01 solver for %s: the solver sets both http01.ingress and http01.gatewayHTTPRoute", in.DNSName)
	}
	// A gatewayHTTPRoute without parentRefs is valid, as upstream: the route is made
	// anyway (the user's own seed manifest has only labels), and the self check says
	// when nothing routes it.
	return nil
}

// EnsureHTTP01Solver makes the challenge reachable: the solver Pod (or, with
// Local, an entry in the in-process registry), the Service, and either the
// solver Ingress, the challenge path on the Ingress named by
// http01.ingress.name, or the solver HTTPRoute. Objects are named
// SolverName(challenge name) and owned by the Challenge; existing ones of the
// Challenge are adopted and brought up to date, so calling it again (a
// retry, a replay) changes nothing.
func (a *Activities) EnsureHTTP01Solver(ctx context.Context, in SolverInput) (SolverResult, error) {
	if err := validateSolverInput(in); err != nil {
		return SolverResult{}, err
	}
	if a.Kube == nil {
		return SolverResult{}, notConfigured("http01 solver: no Kubernetes client configured")
	}
	if in.HTTP01.GatewayHTTPRoute != nil && a.Gateway == nil {
		return SolverResult{}, notConfigured("http01 solver for %s: gatewayHTTPRoute solver but no Gateway API client configured", in.DNSName)
	}
	if a.Local == nil && a.Image == "" {
		return SolverResult{}, notConfigured("http01 solver: no solver image configured")
	}
	if a.ConfirmChallenge != nil {
		if err := a.ConfirmChallenge(ctx, in.Namespace, in.Name, in.UID); err != nil {
			return SolverResult{}, err
		}
	}
	name := SolverName(in.Name)
	res := SolverResult{ServiceName: name, URL: SelfCheckURL(in.DNSName, in.Token)}

	if a.Local != nil {
		a.Local.Add(in.DNSName, in.Token, in.Key)
		res.LocalRegistered = true
	} else {
		if err := a.ensurePod(ctx, in); err != nil {
			return SolverResult{}, err
		}
		res.PodName = name
	}
	if err := a.ensureService(ctx, in); err != nil {
		return SolverResult{}, err
	}
	switch {
	case in.HTTP01.Ingress != nil && in.HTTP01.Ingress.Name != "":
		if err := a.addPathToNamedIngress(ctx, in, name); err != nil {
			return SolverResult{}, err
		}
		res.IngressName, res.EditedIngress = in.HTTP01.Ingress.Name, true
	case in.HTTP01.Ingress != nil:
		if err := a.ensureIngress(ctx, in, name); err != nil {
			return SolverResult{}, err
		}
		res.IngressName = name
	default:
		if err := a.ensureHTTPRoute(ctx, in, name); err != nil {
			return SolverResult{}, err
		}
		res.HTTPRouteName = name
	}
	return res, nil
}

// CleanUpHTTP01Solver removes what EnsureHTTP01Solver made: the registry
// entry, the solver Pod, Service, Ingress and HTTPRoute (objects that do not
// belong to the Challenge are left alone), and the challenge path on a named
// Ingress. Objects already gone are fine, so it can be called any number of
// times, also for a solver that was never (fully) ensured.
func (a *Activities) CleanUpHTTP01Solver(ctx context.Context, in SolverInput) error {
	if err := validateIdentity(in); err != nil {
		return err
	}
	if a.Local != nil {
		a.Local.Remove(in.DNSName, in.Token)
	}
	if a.Kube == nil {
		return notConfigured("http01 solver: no Kubernetes client configured")
	}
	name := SolverName(in.Name)
	ns := in.Namespace
	var errs []error
	pods := a.Kube.CoreV1().Pods(ns)
	errs = append(errs, deleteOwned(ctx, in, "Pod", name,
		func(ctx context.Context) (metav1.Object, error) { return pods.Get(ctx, name, metav1.GetOptions{}) },
		func(ctx context.Context, o metav1.DeleteOptions) error { return pods.Delete(ctx, name, o) }))
	svcs := a.Kube.CoreV1().Services(ns)
	errs = append(errs, deleteOwned(ctx, in, "Service", name,
		func(ctx context.Context) (metav1.Object, error) { return svcs.Get(ctx, name, metav1.GetOptions{}) },
		func(ctx context.Context, o metav1.DeleteOptions) error { return svcs.Delete(ctx, name, o) }))
	if ic := in.HTTP01.Ingress; ic != nil {
		if ic.Name != "" {
			errs = append(errs, a.removePathFromNamedIngress(ctx, in))
		} else {
			ings := a.Kube.NetworkingV1().Ingresses(ns)
			errs = append(errs, deleteOwned(ctx, in, "Ingress", name,
				func(ctx context.Context) (metav1.Object, error) { return ings.Get(ctx, name, metav1.GetOptions{}) },
				func(ctx context.Context, o metav1.DeleteOptions) error { return ings.Delete(ctx, name, o) }))
		}
	}
	if in.HTTP01.GatewayHTTPRoute != nil {
		if a.Gateway == nil {
			errs = append(errs, notConfigured("http01 solver for %s: gatewayHTTPRoute solver but no Gateway API client configured", in.DNSName))
		} else {
			routes := a.Gateway.GatewayV1().HTTPRoutes(ns)
			errs = append(errs, deleteOwned(ctx, in, "HTTPRoute", name,
				func(ctx context.Context) (metav1.Object, error) { return routes.Get(ctx, name, metav1.GetOptions{}) },
				func(ctx context.Context, o metav1.DeleteOptions) error { return routes.Delete(ctx, name, o) }))
		}
	}
	return joinErrors(errs)
}

// joinErrors joins the non-nil errors; a single one is returned as is, so
// that a Temporal ApplicationError keeps its type and retryability.
func joinErrors(errs []error) error {
	var nonNil []error
	for _, err := range errs {
		if err != nil {
			nonNil = append(nonNil, err)
		}
	}
	switch len(nonNil) {
	case 0:
		return nil
	case 1:
		return nonNil[0]
	}
	return errors.Join(nonNil...)
}

// HTTP01SelfCheck makes one self-check request (see SelfCheck). Whether the
// check passed is in the result; an error means the input was unusable.
func (a *Activities) HTTP01SelfCheck(ctx context.Context, in SelfCheckInput) (SelfCheckResult, error) {
	if in.Key == "" {
		return SelfCheckResult{}, invalidInput("http01 self check: key authorization is required")
	}
	url := in.URL
	if url == "" {
		if in.DNSName == "" || !validToken(in.Token) {
			return SelfCheckResult{}, invalidInput("http01 self check: dnsName and a base64url token are required when no url is given")
		}
		url = SelfCheckURL(in.DNSName, in.Token)
	}
	return SelfCheck(ctx, NewSelfCheckClient(a.SelfCheck), url, in.Key), nil
}

// ownership says how an existing object with the solver's name relates to the
// Challenge.
type ownership int

const (
	ownedByChallenge ownership = iota
	// ownedByEarlierChallenge: controlled by a Challenge of the same name
	// but another UID (deleted and recreated): a leftover to replace.
	ownedByEarlierChallenge
	foreign
)

func ownerOf(o metav1.Object, in SolverInput) ownership {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != acmev1.ChallengeKind || ref.Name != in.Name || !strings.HasPrefix(ref.APIVersion, acmev1.GroupName+"/") {
		return foreign
	}
	if in.UID != "" && ref.UID != types.UID(in.UID) {
		return ownedByEarlierChallenge
	}
	return ownedByChallenge
}

// typedClient is what ensureObject needs of a typed client (Pods, Services,
// Ingresses, HTTPRoutes of one namespace).
type typedClient[T any] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Get(context.Context, string, metav1.GetOptions) (T, error)
	Update(context.Context, T, metav1.UpdateOptions) (T, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}

// ensureOps say how ensureObject treats one kind.
type ensureOps[T metav1.Object] struct {
	kind   string
	client typedClient[T]
	// reconcile returns existing brought up to date with desired, and whether
	// that changed anything. Nil: objects are never updated.
	reconcile func(existing, desired T) (T, bool)
	// replace reports whether an existing object of the Challenge must be
	// deleted and recreated (e.g. a solver Pod that has terminated).
	replace func(existing T) bool
}

// ensureObject creates desired, or adopts the existing object of the same
// name when it belongs to the Challenge (updating it if reconcile says so).
// A leftover of an earlier Challenge of the same name is deleted and
// replaced; any other object of that name is a non-retryable conflict.
func ensureObject[T metav1.Object](ctx context.Context, in SolverInput, desired T, ops ensureOps[T]) error {
	name := desired.GetName()
	what := fmt.Sprintf("%s %s/%s", ops.kind, in.Namespace, name)
	del := func(ctx context.Context, o metav1.DeleteOptions) error { return ops.client.Delete(ctx, name, o) }
	var lastErr error
	for range maxEnsureAttempts {
		_, err := ops.client.Create(ctx, desired, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", what, err)
		}
		existing, err := ops.client.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			lastErr = fmt.Errorf("%s vanished while being adopted", what)
			continue
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", what, err)
		}
		if existing.GetDeletionTimestamp() != nil && ownerOf(existing, in) != foreign {
			lastErr = fmt.Errorf("%s is being deleted", what)
			continue
		}
		switch ownerOf(existing, in) {
		case foreign:
			return nameConflict("%s exists and is not controlled by Challenge %s/%s; delete or rename it so the HTTP-01 solver can use the name", what, in.Namespace, in.Name)
		case ownedByEarlierChallenge:
			if err := deleteExact(ctx, existing, del); err != nil {
				return fmt.Errorf("delete %s left over from an earlier Challenge %s: %w", what, in.Name, err)
			}
			lastErr = fmt.Errorf("%s left over from an earlier Challenge %s/%s is being deleted", what, in.Namespace, in.Name)
			continue
		}
		if ops.replace != nil && ops.replace(existing) {
			if err := deleteExact(ctx, existing, del); err != nil {
				return fmt.Errorf("delete terminated %s: %w", what, err)
			}
			lastErr = fmt.Errorf("terminated %s is being replaced", what)
			continue
		}
		if ops.reconcile == nil {
			return nil
		}
		updated, changed := ops.reconcile(existing, desired)
		if !changed {
			return nil
		}
		if _, err := ops.client.Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				lastErr = fmt.Errorf("update %s: %w", what, err)
				continue
			}
			return fmt.Errorf("update %s: %w", what, err)
		}
		return nil
	}
	return fmt.Errorf("ensure %s: gave up after %d attempts (will retry): %w", what, maxEnsureAttempts, lastErr)
}

// deleteExact deletes o only if it is still the same object (UID
// precondition); gone already is fine.
func deleteExact(ctx context.Context, o metav1.Object, del func(context.Context, metav1.DeleteOptions) error) error {
	uid := o.GetUID()
	opts := metav1.DeleteOptions{}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	if err := del(ctx, opts); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// deleteOwned deletes the solver object of one kind if it exists and is
// controlled by the Challenge (or by an earlier Challenge of the same name).
func deleteOwned(ctx context.Context, in SolverInput, kind, name string, get func(context.Context) (metav1.Object, error), del func(context.Context, metav1.DeleteOptions) error) error {
	o, err := get(ctx)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s %s/%s: %w", kind, in.Namespace, name, err)
	}
	if ownerOf(o, in) == foreign {
		return nil // not ours: leave it alone
	}
	if err := deleteExact(ctx, o, del); err != nil {
		return fmt.Errorf("delete %s %s/%s: %w", kind, in.Namespace, name, err)
	}
	return nil
}

func (a *Activities) ensurePod(ctx context.Context, in SolverInput) error {
	desired := BuildPod(in, a.Image)
	return ensureObject(ctx, in, desired, ensureOps[*corev1.Pod]{
		kind:   "Pod",
		client: a.Kube.CoreV1().Pods(in.Namespace),
		// A Pod's spec cannot be changed; one that stopped (evicted, failed)
		// no longer serves and is replaced.
		replace: func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
		},
	})
}

func (a *Activities) ensureService(ctx context.Context, in SolverInput) error {
	desired := BuildService(in)
	return ensureObject(ctx, in, desired, ensureOps[*corev1.Service]{
		kind:      "Service",
		client:    a.Kube.CoreV1().Services(in.Namespace),
		reconcile: reconcileService,
	})
}

// reconcileService updates the fields the solver owns (labels it sets, type,
// selector, ports) and keeps the ones the API server allocated (cluster IP,
// node ports while the type keeps them).
func reconcileService(existing, desired *corev1.Service) (*corev1.Service, bool) {
	out := existing.DeepCopy()
	changed := mergeMap(&out.Labels, desired.Labels)
	changed = setField(&out.Spec.Type, desired.Spec.Type) || changed
	changed = setField(&out.Spec.Selector, desired.Spec.Selector) || changed
	ports := make([]corev1.ServicePort, len(desired.Spec.Ports))
	copy(ports, desired.Spec.Ports)
	keepsNodePorts := out.Spec.Type == corev1.ServiceTypeNodePort || out.Spec.Type == corev1.ServiceTypeLoadBalancer
	for i := range ports {
		for _, old := range existing.Spec.Ports {
			if old.Name == ports[i].Name && keepsNodePorts {
				ports[i].NodePort = old.NodePort
			}
		}
	}
	changed = setField(&out.Spec.Ports, ports) || changed
	return out, changed
}

func (a *Activities) ensureIngress(ctx context.Context, in SolverInput, serviceName string) error {
	desired := BuildIngress(in, serviceName)
	return ensureObject(ctx, in, desired, ensureOps[*networkingv1.Ingress]{
		kind:      "Ingress",
		client:    a.Kube.NetworkingV1().Ingresses(in.Namespace),
		reconcile: reconcileIngress,
	})
}

// reconcileIngress sets the labels, annotations and rules the solver wants
// and its ingressClassName when it sets one (a class defaulted by the API
// server for an Ingress created without one is kept).
func reconcileIngress(existing, desired *networkingv1.Ingress) (*networkingv1.Ingress, bool) {
	out := existing.DeepCopy()
	changed := mergeMap(&out.Labels, desired.Labels)
	changed = mergeMap(&out.Annotations, desired.Annotations) || changed
	changed = setField(&out.Spec.Rules, desired.Spec.Rules) || changed
	if desired.Spec.IngressClassName != nil {
		changed = setField(&out.Spec.IngressClassName, desired.Spec.IngressClassName) || changed
	}
	return out, changed
}

func (a *Activities) ensureHTTPRoute(ctx context.Context, in SolverInput, serviceName string) error {
	desired := BuildHTTPRoute(in, serviceName)
	return ensureObject(ctx, in, desired, ensureOps[*gwapiv1.HTTPRoute]{
		kind:   "HTTPRoute",
		client: a.Gateway.GatewayV1().HTTPRoutes(in.Namespace),
		reconcile: func(existing, desired *gwapiv1.HTTPRoute) (*gwapiv1.HTTPRoute, bool) {
			out := existing.DeepCopy()
			changed := mergeMap(&out.Labels, desired.Labels)
			changed = setField(&out.Spec, desired.Spec) || changed
			return out, changed
		},
	})
}

func (a *Activities) addPathToNamedIngress(ctx context.Context, in SolverInput, serviceName string) error {
	name := in.HTTP01.Ingress.Name
	c := a.Kube.NetworkingV1().Ingresses(in.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ing, err := c.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		out, changed := AddChallengePath(ing, in.DNSName, in.Token, serviceName)
		if !changed {
			return nil
		}
		_, err = c.Update(ctx, out, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("the Ingress %s/%s named by http01.ingress.name does not exist; create it or fix the issuer's solver (will retry): %w", in.Namespace, name, err)
	}
	if err != nil {
		return fmt.Errorf("add challenge path to Ingress %s/%s: %w", in.Namespace, name, err)
	}
	return nil
}

func (a *Activities) removePathFromNamedIngress(ctx context.Context, in SolverInput) error {
	name := in.HTTP01.Ingress.Name
	c := a.Kube.NetworkingV1().Ingresses(in.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ing, err := c.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		out, changed := RemoveChallengePath(ing, in.DNSName, in.Token)
		if !changed {
			return nil
		}
		_, err = c.Update(ctx, out, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove challenge path from Ingress %s/%s: %w", in.Namespace, name, err)
	}
	return nil
}

// setField sets *field to want when the two differ (semantically, as the API
// server compares them) and reports whether it did.
func setField[T any](field *T, want T) bool {
	if equality.Semantic.DeepEqual(*field, want) {
		return false
	}
	*field = want
	return true
}

// mergeMap sets every entry of want in *m and reports whether that changed
// anything. Entries of *m that want lacks are kept.
func mergeMap(m *map[string]string, want map[string]string) bool {
	changed := false
	for k, v := range want {
		if old, ok := (*m)[k]; ok && old == v {
			continue
		}
		if *m == nil {
			*m = make(map[string]string, len(want))
		}
		(*m)[k] = v
		changed = true
	}
	return changed
}
