package v1

import (
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// ACMEIssuer configures an Issuer or ClusterIssuer that obtains certificates
// from an ACME server (RFC 8555) such as Let's Encrypt.
// +kubebuilder:validation:XValidation:rule="!has(self.caBundle) || !has(self.skipTLSVerify) || !self.skipTLSVerify",message="acme.caBundle and acme.skipTLSVerify are mutually exclusive"
type ACMEIssuer struct {
	// Email is the email address registered with the ACME account. Optional;
	// the ACME server may use it to contact you about expiring certificates.
	// +optional
	Email string `json:"email,omitempty"`

	// Server is the URL of the ACME server's directory endpoint, for example
	// "https://acme-v02.api.letsencrypt.org/directory".
	// +kubebuilder:validation:MinLength=1
	Server string `json:"server"`

	// PreferredChain asks the ACME server for the certificate chain whose top
	// certificate's Common Name matches this value, when it offers several.
	// If there is no match the default chain is used.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	PreferredChain string `json:"preferredChain,omitempty"`

	// CABundle is a PEM bundle of CA certificates used to verify the ACME
	// server's TLS certificate instead of the system roots. Mutually
	// exclusive with SkipTLSVerify.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`

	// SkipTLSVerify disables TLS verification of the ACME server. Insecure;
	// only for testing. Mutually exclusive with CABundle.
	// +optional
	SkipTLSVerify bool `json:"skipTLSVerify,omitempty"`

	// ExternalAccountBinding binds the ACME account to an account with an
	// external CA (required by some ACME servers).
	// +optional
	ExternalAccountBinding *ACMEExternalAccountBinding `json:"externalAccountBinding,omitempty"`

	// PrivateKeySecretRef names the Secret that holds the ACME account private
	// key (key "tls.key" when no key is given). A key is generated when the
	// Secret does not exist, unless DisableAccountKeyGeneration is set.
	PrivateKeySecretRef cmmeta.SecretKeySelector `json:"privateKeySecretRef"`

	// Solvers is the list of challenge solvers used to complete ACME
	// challenges. The most specific matching solver (by selector) is used.
	// At most 1000 (not limited upstream; the bound keeps the CEL rules on
	// each solver within the apiserver's estimated cost budget).
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Solvers []ACMEChallengeSolver `json:"solvers,omitempty"`

	// DisableAccountKeyGeneration, when true, makes the issuer fail instead of
	// generating an account key when PrivateKeySecretRef does not exist.
	// +optional
	DisableAccountKeyGeneration bool `json:"disableAccountKeyGeneration,omitempty"`

	// EnableDurationFeature sends the Certificate's requested duration to the
	// ACME server as the order's NotAfter (not all servers support it).
	// +optional
	EnableDurationFeature bool `json:"enableDurationFeature,omitempty"`

	// Profile is the ACME certificate profile to request (draft
	// "ACME profiles" extension), when the server supports it.
	// +optional
	Profile string `json:"profile,omitempty"`

	// RateLimits override the limits certflow keeps this account's new orders
	// within (a certflow extension; upstream has no such field). Without it (and for
	// every limit it leaves out) Let's Encrypt's published limits apply to
	// letsencrypt.org servers, and only a cap of 300 concurrent orders to any other
	// server. A rateLimited answer from the server pauses the account either way.
	// +optional
	RateLimits *ACMERateLimits `json:"rateLimits,omitempty"`

	// RenewalInformationSource says where the renewal time of this issuer's
	// certificates comes from: `ARI` (the default) asks the ACME server's renewal
	// information (RFC 9773) and renews inside the window it suggests, falling back to
	// renewBefore when the server offers none; `None` keeps renewBefore only.
	// +optional
	// +kubebuilder:default=ARI
	RenewalInformationSource ACMERenewalInformationSource `json:"renewalInformationSource,omitempty"`
}

// ACMERateLimits are the limits an ACME account's new orders are kept within
// (certflow extension).
type ACMERateLimits struct {
	// OrdersPerAccount limits new orders per account (Let's Encrypt: 300 per 3h).
	// +optional
	OrdersPerAccount *ACMERateLimit `json:"ordersPerAccount,omitempty"`
	// CertificatesPerDomain limits new orders per registered domain, by the public
	// suffix list (Let's Encrypt: 50 certificates per 168h).
	// +optional
	CertificatesPerDomain *ACMERateLimit `json:"certificatesPerDomain,omitempty"`
	// DuplicateCertificates limits orders for exactly the same set of names (Let's
	// Encrypt: 5 per 168h).
	// +optional
	DuplicateCertificates *ACMERateLimit `json:"duplicateCertificates,omitempty"`
	// FailedValidations limits orders for a name whose validation failed this many
	// times (Let's Encrypt: 5 per 1h).
	// +optional
	FailedValidations *ACMERateLimit `json:"failedValidations,omitempty"`
	// ConcurrentOrders caps orders in flight (their pending authorizations) at
	// once (Let's Encrypt: 300 pending authorizations).
	// +kubebuilder:validation:Minimum=1
	// +optional
	ConcurrentOrders *int32 `json:"concurrentOrders,omitempty"`
}

// ACMERateLimit is at most Count events in any sliding Window.
// +kubebuilder:validation:XValidation:rule="duration(self.window) > duration('0s')",message="window must be positive"
type ACMERateLimit struct {
	// Count is how many in any window.
	// +kubebuilder:validation:Minimum=1
	Count int32 `json:"count"`
	// Window is the sliding window's length, a Go duration ("3h", "168h", "20s").
	Window metav1.Duration `json:"window"`
}

// ACMERenewalInformationSource says whether to use the ACME server's renewal
// information (upstream's field of the same name, behind its ACMEUseARI gate; here
// always available).
// +kubebuilder:validation:Enum=ARI;None
type ACMERenewalInformationSource string

const (
	// ACMERenewalInformationSourceARI renews when the server's renewalInfo window says.
	ACMERenewalInformationSourceARI ACMERenewalInformationSource = "ARI"
	// ACMERenewalInformationSourceNone renews at renewBefore (or 2/3 of the life).
	ACMERenewalInformationSourceNone ACMERenewalInformationSource = "None"
)

// ACMEExternalAccountBinding is a reference to a CA external account of the
// ACME server (RFC 8555 section 7.3.4).
type ACMEExternalAccountBinding struct {
	// KeyID is the ID of the CA key the external account is bound to.
	// +kubebuilder:validation:MinLength=1
	KeyID string `json:"keyID"`

	// KeySecretRef selects the Secret key holding the base64url-encoded
	// (no padding) symmetric MAC key of the external account.
	KeySecretRef cmmeta.SecretKeySelector `json:"keySecretRef"`

	// Deprecated: the MAC algorithm is always HS256 for the keys ACME servers
	// issue; this field is ignored, as upstream does.
	// +optional
	KeyAlgorithm HMACKeyAlgorithm `json:"keyAlgorithm,omitempty"`
}

// HMACKeyAlgorithm is the MAC algorithm of an external account binding key.
// +kubebuilder:validation:Enum=HS256;HS384;HS512
type HMACKeyAlgorithm string

// HMAC key algorithms.
const (
	HS256 HMACKeyAlgorithm = "HS256"
	HS384 HMACKeyAlgorithm = "HS384"
	HS512 HMACKeyAlgorithm = "HS512"
)

// ACMEChallengeSolver describes how to solve ACME challenges for the names it
// selects. Exactly one of HTTP01 or DNS01 must be set.
// +kubebuilder:validation:XValidation:rule="has(self.http01) != has(self.dns01)",message="solver: exactly one of http01 or dns01 must be set"
type ACMEChallengeSolver struct {
	// Selector restricts the solver to some Certificates or DNS names. An
	// empty or missing selector matches everything, with the lowest priority.
	// +optional
	Selector *CertificateDNSNameSelector `json:"selector,omitempty"`

	// HTTP01 configures the HTTP-01 challenge solver.
	// +optional
	HTTP01 *ACMEChallengeSolverHTTP01 `json:"http01,omitempty"`

	// DNS01 configures the DNS-01 challenge solver.
	// +optional
	DNS01 *ACMEChallengeSolverDNS01 `json:"dns01,omitempty"`
}

// CertificateDNSNameSelector selects Certificates by labels and/or DNS
// names. All given criteria must match. When several solvers match, the one
// with the most specific match wins (dnsNames over dnsZones over labels).
type CertificateDNSNameSelector struct {
	// MatchLabels selects Certificates (and their Orders/Challenges) by label.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`

	// DNSNames is a list of exact DNS names this solver applies to.
	// +optional
	DNSNames []string `json:"dnsNames,omitempty"`

	// DNSZones is a list of DNS zones; the solver applies to names in these
	// zones and their subdomains. The longest matching zone wins.
	// +optional
	DNSZones []string `json:"dnsZones,omitempty"`
}

// ACMEChallengeSolverHTTP01 configures the HTTP-01 solver. Exactly one of
// Ingress or GatewayHTTPRoute must be set.
// +kubebuilder:validation:XValidation:rule="has(self.ingress) != has(self.gatewayHTTPRoute)",message="http01: exactly one of ingress or gatewayHTTPRoute must be set"
type ACMEChallengeSolverHTTP01 struct {
	// Ingress solves HTTP-01 challenges by routing
	// /.well-known/acme-challenge/<token> through an Ingress to a solver Pod.
	// +optional
	Ingress *ACMEChallengeSolverHTTP01Ingress `json:"ingress,omitempty"`

	// GatewayHTTPRoute solves HTTP-01 challenges with a Gateway API HTTPRoute
	// attached to the given parent Gateways.
	// +optional
	GatewayHTTPRoute *ACMEChallengeSolverHTTP01GatewayHTTPRoute `json:"gatewayHTTPRoute,omitempty"`
}

// ACMEChallengeSolverHTTP01Ingress configures the Ingress HTTP-01 solver. At
// most one of Class, IngressClassName or Name may be set.
// +kubebuilder:validation:XValidation:rule="(has(self.class) ? 1 : 0) + (has(self.ingressClassName) ? 1 : 0) + (has(self.name) && size(self.name) > 0 ? 1 : 0) <= 1",message="http01.ingress: only one of class, ingressClassName or name may be set"
type ACMEChallengeSolverHTTP01Ingress struct {
	// ServiceType of the solver Service: ClusterIP or NodePort (default
	// NodePort, as upstream, for ingress controllers that need it).
	// +optional
	ServiceType corev1.ServiceType `json:"serviceType,omitempty"`

	// IngressClassName sets spec.ingressClassName of the solver Ingress.
	// +optional
	IngressClassName *string `json:"ingressClassName,omitempty"`

	// Class sets the kubernetes.io/ingress.class annotation of the solver
	// Ingress.
	// +optional
	Class *string `json:"class,omitempty"`

	// Name of an existing Ingress to add the challenge path to, instead of
	// creating a new Ingress.
	// +optional
	Name string `json:"name,omitempty"`

	// PodTemplate customises the solver Pods. Only metadata labels and
	// annotations and a subset of the Pod spec may be set.
	// +optional
	PodTemplate *ACMEChallengeSolverHTTP01IngressPodTemplate `json:"podTemplate,omitempty"`

	// IngressTemplate customises the solver Ingress (labels and annotations).
	// +optional
	IngressTemplate *ACMEChallengeSolverHTTP01IngressTemplate `json:"ingressTemplate,omitempty"`
}

// ACMEChallengeSolverHTTP01GatewayHTTPRoute configures the Gateway API
// HTTP-01 solver.
type ACMEChallengeSolverHTTP01GatewayHTTPRoute struct {
	// ServiceType of the solver Service: ClusterIP or NodePort (default
	// NodePort).
	// +optional
	ServiceType corev1.ServiceType `json:"serviceType,omitempty"`

	// Labels set on the solver HTTPRoute; useful for Gateways that select
	// routes by label.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// ParentRefs are the Gateways (or listeners) the solver HTTPRoute attaches
	// to, as in HTTPRoute.spec.parentRefs.
	// +optional
	ParentRefs []ParentReference `json:"parentRefs,omitempty"`

	// PodTemplate customises the solver Pods.
	// +optional
	PodTemplate *ACMEChallengeSolverHTTP01IngressPodTemplate `json:"podTemplate,omitempty"`
}

// ParentReference identifies a parent (usually a Gateway) of an HTTPRoute.
// It has the JSON shape of Gateway API's ParentReference
// (gateway.networking.k8s.io/v1), so it can be copied into an HTTPRoute as is.
type ParentReference struct {
	// Group of the referent. Defaults to "gateway.networking.k8s.io".
	// +kubebuilder:default=gateway.networking.k8s.io
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Group *string `json:"group,omitempty"`

	// Kind of the referent. Defaults to "Gateway".
	// +kubebuilder:default=Gateway
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`
	// +optional
	Kind *string `json:"kind,omitempty"`

	// Namespace of the referent. Defaults to the namespace of the HTTPRoute.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace *string `json:"namespace,omitempty"`

	// Name of the referent.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// SectionName is the name of a section (listener) of the parent.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	SectionName *string `json:"sectionName,omitempty"`

	// Port is the network port of the parent to attach to.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port *int32 `json:"port,omitempty"`
}

// ACMEChallengeSolverHTTP01IngressPodTemplate customises HTTP-01 solver Pods.
type ACMEChallengeSolverHTTP01IngressPodTemplate struct {
	// ObjectMeta overrides for the solver Pod (labels and annotations only).
	// +optional
	ACMEChallengeSolverHTTP01IngressPodObjectMeta `json:"metadata"`

	// Spec overrides for the solver Pod (a subset of PodSpec).
	// +optional
	Spec ACMEChallengeSolverHTTP01IngressPodSpec `json:"spec"`
}

// ACMEChallengeSolverHTTP01IngressPodObjectMeta holds the labels and
// annotations added to solver Pods.
type ACMEChallengeSolverHTTP01IngressPodObjectMeta struct {
	// Annotations added to the solver Pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels added to the solver Pods.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// ACMEChallengeSolverHTTP01IngressPodSpec is the subset of PodSpec that may
// be set on solver Pods.
type ACMEChallengeSolverHTTP01IngressPodSpec struct {
	// NodeSelector of the solver Pod.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Affinity of the solver Pod.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// Tolerations of the solver Pod.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// PriorityClassName of the solver Pod.
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// ServiceAccountName of the solver Pod.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// ImagePullSecrets of the solver Pod.
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// SecurityContext of the solver Pod.
	// +optional
	SecurityContext *ACMEChallengeSolverHTTP01IngressPodSecurityContext `json:"securityContext,omitempty"`

	// Resources of the solver container.
	// +optional
	Resources *ACMEChallengeSolverHTTP01IngressPodResources `json:"resources,omitempty"`
}

// ACMEChallengeSolverHTTP01IngressPodSecurityContext is the subset of
// PodSecurityContext that may be set on solver Pods.
type ACMEChallengeSolverHTTP01IngressPodSecurityContext struct {
	// SELinuxOptions applied to all containers of the solver Pod.
	// +optional
	SELinuxOptions *corev1.SELinuxOptions `json:"seLinuxOptions,omitempty"`
	// RunAsUser is the UID the solver runs as.
	// +optional
	RunAsUser *int64 `json:"runAsUser,omitempty"`
	// RunAsGroup is the GID the solver runs as.
	// +optional
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
	// RunAsNonRoot requires the solver to run as a non-root user.
	// +optional
	RunAsNonRoot *bool `json:"runAsNonRoot,omitempty"`
	// SupplementalGroups added to the solver's processes.
	// +optional
	SupplementalGroups []int64 `json:"supplementalGroups,omitempty"`
	// FSGroup applied to the solver Pod's volumes.
	// +optional
	FSGroup *int64 `json:"fsGroup,omitempty"`
	// Sysctls set for the solver Pod.
	// +optional
	Sysctls []corev1.Sysctl `json:"sysctls,omitempty"`
	// FSGroupChangePolicy of the solver Pod.
	// +optional
	FSGroupChangePolicy *corev1.PodFSGroupChangePolicy `json:"fsGroupChangePolicy,omitempty"`
	// SeccompProfile of the solver Pod.
	// +optional
	SeccompProfile *corev1.SeccompProfile `json:"seccompProfile,omitempty"`
}

// ACMEChallengeSolverHTTP01IngressPodResources are the compute resources of
// the solver container.
type ACMEChallengeSolverHTTP01IngressPodResources struct {
	// Limits is the maximum amount of compute resources allowed.
	// +optional
	Limits corev1.ResourceList `json:"limits,omitempty"`
	// Requests is the minimum amount of compute resources required.
	// +optional
	Requests corev1.ResourceList `json:"requests,omitempty"`
}

// ACMEChallengeSolverHTTP01IngressTemplate customises the solver Ingress.
type ACMEChallengeSolverHTTP01IngressTemplate struct {
	// ObjectMeta overrides for the solver Ingress (labels and annotations).
	// +optional
	ACMEChallengeSolverHTTP01IngressObjectMeta `json:"metadata"`
}

// ACMEChallengeSolverHTTP01IngressObjectMeta holds the labels and annotations
// added to the solver Ingress.
type ACMEChallengeSolverHTTP01IngressObjectMeta struct {
	// Annotations added to the solver Ingress.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// Labels added to the solver Ingress.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// CNAMEStrategy tells whether the DNS-01 solver follows CNAME records when
// choosing the record to present.
// +kubebuilder:validation:Enum=None;Follow
type CNAMEStrategy string

const (
	// NoneStrategy presents the record at _acme-challenge.<name> itself.
	NoneStrategy CNAMEStrategy = "None"
	// FollowStrategy follows CNAMEs from _acme-challenge.<name> and presents
	// the record at the target, which may be in another zone.
	FollowStrategy CNAMEStrategy = "Follow"
)

// ACMEChallengeSolverDNS01 configures the DNS-01 solver. Exactly one provider
// must be set.
// +kubebuilder:validation:XValidation:rule="((has(self.akamai) ? 1 : 0) + (has(self.cloudDNS) ? 1 : 0) + (has(self.cloudflare) ? 1 : 0) + (has(self.route53) ? 1 : 0) + (has(self.azureDNS) ? 1 : 0) + (has(self.digitalocean) ? 1 : 0) + (has(self.acmeDNS) ? 1 : 0) + (has(self.rfc2136) ? 1 : 0) + (has(self.webhook) ? 1 : 0)) == 1",message="dns01: exactly one DNS provider (akamai, cloudDNS, cloudflare, route53, azureDNS, digitalocean, acmeDNS, rfc2136 or webhook) must be set"
type ACMEChallengeSolverDNS01 struct {
	// CNAMEStrategy: "Follow" to follow CNAME records from the challenge name
	// to another zone; "None" (the default) to present at the name itself.
	// +optional
	CNAMEStrategy CNAMEStrategy `json:"cnameStrategy,omitempty"`

	// Akamai Edge DNS.
	// +optional
	Akamai *ACMEIssuerDNS01ProviderAkamai `json:"akamai,omitempty"`

	// Google Cloud DNS.
	// +optional
	CloudDNS *ACMEIssuerDNS01ProviderCloudDNS `json:"cloudDNS,omitempty"`

	// Cloudflare.
	// +optional
	Cloudflare *ACMEIssuerDNS01ProviderCloudflare `json:"cloudflare,omitempty"`

	// AWS Route53.
	// +optional
	Route53 *ACMEIssuerDNS01ProviderRoute53 `json:"route53,omitempty"`

	// Azure DNS.
	// +optional
	AzureDNS *ACMEIssuerDNS01ProviderAzureDNS `json:"azureDNS,omitempty"`

	// DigitalOcean DNS.
	// +optional
	DigitalOcean *ACMEIssuerDNS01ProviderDigitalOcean `json:"digitalocean,omitempty"`

	// acme-dns (https://github.com/joohoi/acme-dns).
	// +optional
	AcmeDNS *ACMEIssuerDNS01ProviderAcmeDNS `json:"acmeDNS,omitempty"`

	// RFC 2136 dynamic updates (BIND, PowerDNS, Knot, ...).
	// +optional
	RFC2136 *ACMEIssuerDNS01ProviderRFC2136 `json:"rfc2136,omitempty"`

	// Webhook delegates to an external DNS-01 solver implementing
	// cert-manager's webhook solver API.
	// +optional
	Webhook *ACMEIssuerDNS01ProviderWebhook `json:"webhook,omitempty"`
}

// ACMEIssuerDNS01ProviderAkamai configures Akamai Edge DNS.
type ACMEIssuerDNS01ProviderAkamai struct {
	// ServiceConsumerDomain is the Akamai API host.
	ServiceConsumerDomain string `json:"serviceConsumerDomain"`
	// ClientToken of the Akamai API client.
	ClientToken cmmeta.SecretKeySelector `json:"clientTokenSecretRef"`
	// ClientSecret of the Akamai API client.
	ClientSecret cmmeta.SecretKeySelector `json:"clientSecretSecretRef"`
	// AccessToken of the Akamai API client.
	AccessToken cmmeta.SecretKeySelector `json:"accessTokenSecretRef"`
}

// ACMEIssuerDNS01ProviderCloudDNS configures Google Cloud DNS.
type ACMEIssuerDNS01ProviderCloudDNS struct {
	// ServiceAccount selects a Secret key with a service account JSON key.
	// Ambient credentials are used when unset.
	// +optional
	ServiceAccount *cmmeta.SecretKeySelector `json:"serviceAccountSecretRef,omitempty"`
	// Project is the Google Cloud project ID.
	Project string `json:"project"`
	// HostedZoneName optionally names the managed zone to use, skipping the
	// zone lookup.
	// +optional
	HostedZoneName string `json:"hostedZoneName,omitempty"`
}

// ACMEIssuerDNS01ProviderCloudflare configures Cloudflare. Exactly one of
// APIKey (a global API key, which needs Email) or APIToken must be set.
// +kubebuilder:validation:XValidation:rule="has(self.apiKeySecretRef) != has(self.apiTokenSecretRef)",message="cloudflare: exactly one of apiKeySecretRef or apiTokenSecretRef must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.apiKeySecretRef) || (has(self.email) && size(self.email) > 0)",message="cloudflare: email is required when apiKeySecretRef is set"
type ACMEIssuerDNS01ProviderCloudflare struct {
	// Email of the Cloudflare account; required with an API key.
	// +optional
	Email string `json:"email,omitempty"`
	// APIKey selects a Secret key holding a global API key (legacy).
	// +optional
	APIKey *cmmeta.SecretKeySelector `json:"apiKeySecretRef,omitempty"`
	// APIToken selects a Secret key holding an API token with Zone:Read and
	// DNS:Edit permissions (recommended).
	// +optional
	APIToken *cmmeta.SecretKeySelector `json:"apiTokenSecretRef,omitempty"`
}

// ACMEIssuerDNS01ProviderDigitalOcean configures DigitalOcean DNS.
type ACMEIssuerDNS01ProviderDigitalOcean struct {
	// Token selects a Secret key holding a DigitalOcean API token.
	Token cmmeta.SecretKeySelector `json:"tokenSecretRef"`
}

// ACMEIssuerDNS01ProviderRoute53 configures AWS Route53.
type ACMEIssuerDNS01ProviderRoute53 struct {
	// Auth configures how to authenticate with AWS.
	// +optional
	Auth *Route53Auth `json:"auth,omitempty"`

	// AccessKeyID is the AWS access key ID. Ambient credentials are used when
	// neither this nor SecretAccessKeyID is set.
	// +optional
	AccessKeyID string `json:"accessKeyID,omitempty"`

	// SecretAccessKeyID selects a Secret key holding the access key ID; an
	// alternative to AccessKeyID.
	// +optional
	SecretAccessKeyID *cmmeta.SecretKeySelector `json:"accessKeyIDSecretRef,omitempty"`

	// SecretAccessKey selects a Secret key holding the secret access key.
	// +optional
	SecretAccessKey cmmeta.SecretKeySelector `json:"secretAccessKeySecretRef,omitempty"`

	// Role is an IAM role ARN to assume.
	// +optional
	Role string `json:"role,omitempty"`

	// HostedZoneID optionally names the hosted zone to use, skipping the
	// zone lookup.
	// +optional
	HostedZoneID string `json:"hostedZoneID,omitempty"`

	// Region is the AWS region (optional with ambient credentials).
	// +optional
	Region string `json:"region,omitempty"`
}

// Route53Auth configures how to authenticate with AWS.
type Route53Auth struct {
	// Kubernetes authenticates with a ServiceAccount token (IRSA-style web
	// identity).
	Kubernetes *Route53KubernetesAuth `json:"kubernetes"`
}

// Route53KubernetesAuth authenticates with a token of a Kubernetes
// ServiceAccount.
type Route53KubernetesAuth struct {
	// ServiceAccountRef names the ServiceAccount whose token is used.
	ServiceAccountRef *ServiceAccountRef `json:"serviceAccountRef"`
}

// ServiceAccountRef is a ServiceAccount used to request a token.
type ServiceAccountRef struct {
	// Name of the ServiceAccount.
	Name string `json:"name"`
	// TokenAudiences are extra audiences of the requested token.
	// +optional
	TokenAudiences []string `json:"audiences,omitempty"`
}

// AzureDNSEnvironment is an Azure cloud environment.
// +kubebuilder:validation:Enum=AzurePublicCloud;AzureChinaCloud;AzureGermanCloud;AzureUSGovernmentCloud
type AzureDNSEnvironment string

// Azure cloud environments.
const (
	AzurePublicCloud       AzureDNSEnvironment = "AzurePublicCloud"
	AzureChinaCloud        AzureDNSEnvironment = "AzureChinaCloud"
	AzureGermanCloud       AzureDNSEnvironment = "AzureGermanCloud"
	AzureUSGovernmentCloud AzureDNSEnvironment = "AzureUSGovernmentCloud"
)

// ACMEIssuerDNS01ProviderAzureDNS configures Azure DNS.
// +kubebuilder:validation:XValidation:rule="!has(self.managedIdentity) || (!has(self.clientID) && !has(self.clientSecretSecretRef))",message="azureDNS: managedIdentity cannot be used together with clientID or clientSecretSecretRef"
type ACMEIssuerDNS01ProviderAzureDNS struct {
	// ClientID of a service principal; managed identity is used when unset.
	// +optional
	ClientID string `json:"clientID,omitempty"`
	// ClientSecret selects a Secret key holding the service principal secret.
	// +optional
	ClientSecret *cmmeta.SecretKeySelector `json:"clientSecretSecretRef,omitempty"`
	// SubscriptionID of the DNS zone.
	SubscriptionID string `json:"subscriptionID"`
	// TenantID of the service principal.
	// +optional
	TenantID string `json:"tenantID,omitempty"`
	// ResourceGroupName of the DNS zone.
	ResourceGroupName string `json:"resourceGroupName"`
	// HostedZoneName optionally names the zone to use.
	// +optional
	HostedZoneName string `json:"hostedZoneName,omitempty"`
	// Environment is the Azure cloud (default AzurePublicCloud).
	// +optional
	Environment AzureDNSEnvironment `json:"environment,omitempty"`
	// ManagedIdentity selects a managed identity.
	// +optional
	ManagedIdentity *AzureManagedIdentity `json:"managedIdentity,omitempty"`
}

// AzureManagedIdentity selects an Azure managed identity.
type AzureManagedIdentity struct {
	// ClientID of the managed identity.
	// +optional
	ClientID string `json:"clientID,omitempty"`
	// ResourceID of the managed identity.
	// +optional
	ResourceID string `json:"resourceID,omitempty"`
	// TenantID of the managed identity (workload identity).
	// +optional
	TenantID string `json:"tenantID,omitempty"`
}

// ACMEIssuerDNS01ProviderAcmeDNS configures an acme-dns server.
type ACMEIssuerDNS01ProviderAcmeDNS struct {
	// Host is the acme-dns server URL.
	Host string `json:"host"`
	// AccountSecret selects a Secret key holding the acme-dns accounts JSON.
	AccountSecret cmmeta.SecretKeySelector `json:"accountSecretRef"`
}

// ACMEIssuerDNS01ProviderRFC2136 configures RFC 2136 dynamic DNS updates.
// +kubebuilder:validation:XValidation:rule="!has(self.tsigKeyName) || size(self.tsigKeyName) == 0 || (has(self.tsigSecretSecretRef) && size(self.tsigSecretSecretRef.name) > 0)",message="rfc2136: tsigSecretSecretRef.name is required when tsigKeyName is set"
type ACMEIssuerDNS01ProviderRFC2136 struct {
	// Nameserver is the IP address (or host) and optional port of the DNS
	// server to send updates to, e.g. "10.0.0.53:53" or "[2001:db8::1]:53".
	// +kubebuilder:validation:MinLength=1
	Nameserver string `json:"nameserver"`

	// TSIGSecret selects a Secret key holding the base64 TSIG secret.
	// +optional
	TSIGSecret cmmeta.SecretKeySelector `json:"tsigSecretSecretRef,omitempty"`

	// TSIGKeyName is the TSIG key name; TSIG is used when it is set.
	// +optional
	TSIGKeyName string `json:"tsigKeyName,omitempty"`

	// TSIGAlgorithm is the TSIG algorithm: HMACMD5 (default), HMACSHA1,
	// HMACSHA256 or HMACSHA512.
	// Case-insensitive, as upstream.
	// +kubebuilder:validation:Pattern=`^((?i)HMACMD5|HMACSHA1|HMACSHA256|HMACSHA512)?$`
	// +optional
	TSIGAlgorithm string `json:"tsigAlgorithm,omitempty"`

	// Protocol used for updates: TCP or UDP (default UDP).
	// +kubebuilder:validation:Enum=TCP;UDP;""
	// +optional
	Protocol RFC2136UpdateProtocol `json:"protocol,omitempty"`
}

// RFC2136UpdateProtocol is the transport used for RFC 2136 updates.
type RFC2136UpdateProtocol string

// RFC 2136 transports.
const (
	RFC2136UpdateProtocolTCP RFC2136UpdateProtocol = "TCP"
	RFC2136UpdateProtocolUDP RFC2136UpdateProtocol = "UDP"
)

// ACMEIssuerDNS01ProviderWebhook delegates DNS-01 to an external solver
// served under the given API group (cert-manager's webhook solver API).
type ACMEIssuerDNS01ProviderWebhook struct {
	// GroupName is the API group of the solver's API service.
	// +kubebuilder:validation:MinLength=1
	GroupName string `json:"groupName"`

	// SolverName is the name of the solver in that group.
	// +kubebuilder:validation:MinLength=1
	SolverName string `json:"solverName"`

	// Config is passed to the solver as is.
	// +optional
	Config *apiextensionsv1.JSON `json:"config,omitempty"`
}

// ACMEIssuerStatus is the ACME part of an Issuer's status.
type ACMEIssuerStatus struct {
	// URI is the ACME account URI returned when the account was registered.
	// +optional
	URI string `json:"uri,omitempty"`

	// LastRegisteredEmail is the email the account was last registered with.
	// +optional
	LastRegisteredEmail string `json:"lastRegisteredEmail,omitempty"`

	// LastPrivateKeyHash is a hash of the account private key the account was
	// last registered with.
	// +optional
	LastPrivateKeyHash string `json:"lastPrivateKeyHash,omitempty"`
}
