package v1

// Kinds of this group.
const (
	OrderKind     = "Order"
	ChallengeKind = "Challenge"
)

// Finalizers, labels and annotations used by the ACME machinery. The values
// are upstream cert-manager's so that existing tooling recognises them.
const (
	// ACMELegacyFinalizer is the finalizer older cert-manager versions put on
	// Challenges.
	ACMELegacyFinalizer = "finalizer.acme.cert-manager.io"
	// ACMEDomainQualifiedFinalizer is the finalizer put on Challenges so that
	// presented records are cleaned up before the Challenge goes away.
	ACMEDomainQualifiedFinalizer = "acme.cert-manager.io/finalizer"

	// DomainLabelKey labels HTTP-01 solver resources with the domain (hashed
	// when longer than a label value allows).
	DomainLabelKey = "acme.cert-manager.io/http-domain"
	// TokenLabelKey labels HTTP-01 solver resources with the challenge token
	// (hashed when longer than a label value allows).
	TokenLabelKey = "acme.cert-manager.io/http-token"
	// SolverIdentificationLabelKey is set to "true" on every HTTP-01 solver
	// resource (Pods, Services, Ingresses, HTTPRoutes).
	SolverIdentificationLabelKey = "acme.cert-manager.io/http01-solver"

	// ACMECertificateHTTP01IngressNameOverride, set on a Certificate or an
	// Ingress, names the existing Ingress to edit for HTTP-01.
	ACMECertificateHTTP01IngressNameOverride = "acme.cert-manager.io/http01-override-ingress-name"
	// ACMECertificateHTTP01IngressClassOverride, set on a Certificate or an
	// Ingress, overrides the ingress class used for HTTP-01.
	ACMECertificateHTTP01IngressClassOverride = "acme.cert-manager.io/http01-override-ingress-class"
	// IngressEditInPlaceAnnotationKey, set to "true" on an Ingress, makes the
	// HTTP-01 solver edit that Ingress instead of creating a new one.
	IngressEditInPlaceAnnotationKey = "acme.cert-manager.io/http01-edit-in-place"
	// IngressACMEIssuerHTTP01IngressClassAnnotationKey overrides the
	// http01.ingress.class of the solver for Certificates made from an Ingress.
	IngressACMEIssuerHTTP01IngressClassAnnotationKey = "acme.cert-manager.io/http01-ingress-class"
	// IngressACMEIssuerHTTP01IngressClassNameAnnotationKey overrides the
	// http01.ingress.ingressClassName of the solver for Certificates made from
	// an Ingress.
	IngressACMEIssuerHTTP01IngressClassNameAnnotationKey = "acme.cert-manager.io/http01-ingress-ingressclassname"
	// ACMECertificateHTTP01IngressClassNameOverride, set on a Certificate,
	// overrides the http01.ingress.ingressClassName of the solver.
	ACMECertificateHTTP01IngressClassNameOverride = "acme.cert-manager.io/http01-override-ingress-ingressclassname"
	// ACMECertificateHTTP01ParentRefKind and ACMECertificateHTTP01ParentRefName,
	// set together on a Certificate (gateway-shim does), add that parent (in the
	// Certificate's namespace, or ACMECertificateHTTP01ParentRefNamespace) to the
	// parentRefs of the solver's HTTPRoute.
	ACMECertificateHTTP01ParentRefKind      = "acme.cert-manager.io/http01-parentrefkind"
	ACMECertificateHTTP01ParentRefName      = "acme.cert-manager.io/http01-parentrefname"
	ACMECertificateHTTP01ParentRefNamespace = "acme.cert-manager.io/http01-parentrefnamespace"
	// ACMECertificateHTTP01ParentRefFallback, "true" on a ListenerSet, makes the
	// solver's HTTPRoute attach to the ListenerSet's parent Gateway instead.
	ACMECertificateHTTP01ParentRefFallback = "acme.cert-manager.io/http01-parentreffallback"
)

// State is the state of an ACME resource (Order, Authorization, Challenge),
// as reported by the ACME server or set locally ("errored").
// +kubebuilder:validation:Enum=valid;ready;pending;processing;invalid;expired;errored
type State string

const (
	// Unknown is not a real state: the resource has not been seen on the ACME
	// server yet.
	Unknown State = ""
	// Valid: the resource succeeded (final).
	Valid State = "valid"
	// Ready: an Order whose authorizations are all valid and that can be
	// finalized.
	Ready State = "ready"
	// Pending: waiting for the client to act (e.g. present challenges).
	Pending State = "pending"
	// Processing: the ACME server is working on it (e.g. validating).
	Processing State = "processing"
	// Invalid: the resource failed (final).
	Invalid State = "invalid"
	// Expired: the resource expired before completing (final).
	Expired State = "expired"
	// Errored: a non-ACME error that cannot be recovered from (final).
	Errored State = "errored"
)

// IsFinal reports whether s is a final state that no ACME server will move
// the resource out of.
func (s State) IsFinal() bool {
	switch s {
	case Valid, Invalid, Expired, Errored:
		return true
	}
	return false
}

// ACMEChallengeType is the type of an ACME challenge.
// +kubebuilder:validation:Enum=HTTP-01;DNS-01
type ACMEChallengeType string

const (
	// ACMEChallengeTypeHTTP01 is the HTTP-01 challenge type.
	ACMEChallengeTypeHTTP01 ACMEChallengeType = "HTTP-01"
	// ACMEChallengeTypeDNS01 is the DNS-01 challenge type.
	ACMEChallengeTypeDNS01 ACMEChallengeType = "DNS-01"
)
