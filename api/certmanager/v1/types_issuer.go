package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// A ClusterIssuer is a cluster-scoped Issuer: Certificates in any namespace
// can use it with issuerRef.kind ClusterIssuer. Secrets it refers to live in
// the "cluster resource namespace" (default cert-manager).
//
// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=clusterissuers,scope=Cluster,categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."
type ClusterIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired state of the ClusterIssuer.
	Spec IssuerSpec `json:"spec"`

	// Status of the ClusterIssuer, set by the controller.
	// +optional
	Status IssuerStatus `json:"status"`
}

// ClusterIssuerList is a list of ClusterIssuers.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type ClusterIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	Items []ClusterIssuer `json:"items"`
}

// An Issuer signs CertificateRequests of its namespace.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=issuers,scope=Namespaced,categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."
type Issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Desired state of the Issuer.
	Spec IssuerSpec `json:"spec"`

	// Status of the Issuer, set by the controller.
	// +optional
	Status IssuerStatus `json:"status"`
}

// IssuerList is a list of Issuers.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type IssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	Items []Issuer `json:"items"`
}

// IssuerSpec is the desired state of an Issuer or ClusterIssuer. Exactly one
// issuer type must be configured.
//
// +kubebuilder:validation:XValidation:rule="((has(self.acme) ? 1 : 0) + (has(self.ca) ? 1 : 0) + (has(self.selfSigned) ? 1 : 0) + (has(self.vault) ? 1 : 0) + (has(self.venafi) ? 1 : 0)) == 1",message="exactly one of spec.acme, spec.ca, spec.selfSigned, spec.vault or spec.venafi must be set"
type IssuerSpec struct {
	IssuerConfig `json:",inline"`
}

// IssuerConfig holds the issuer types; exactly one is set.
type IssuerConfig struct {
	// ACME obtains certificates from an ACME server (e.g. Let's Encrypt).
	// +optional
	ACME *acmev1.ACMEIssuer `json:"acme,omitempty"`

	// CA signs certificates with a CA key pair stored in a Secret.
	// +optional
	CA *CAIssuer `json:"ca,omitempty"`

	// Vault signs certificates with HashiCorp Vault's PKI engine.
	// +optional
	Vault *VaultIssuer `json:"vault,omitempty"`

	// SelfSigned signs each certificate with its own private key.
	// +optional
	SelfSigned *SelfSignedIssuer `json:"selfSigned,omitempty"`

	// Venafi obtains certificates from Venafi TPP or CyberArk Certificate
	// Manager (Venafi Cloud).
	// +optional
	Venafi *VenafiIssuer `json:"venafi,omitempty"`
}

// CAIssuer signs certificates with a CA stored in a Secret.
type CAIssuer struct {
	// SecretName is the kubernetes.io/tls Secret holding the CA certificate
	// and private key: in the Issuer's namespace, or in the cluster resource
	// namespace for a ClusterIssuer.
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName"`

	// CRLDistributionPoints put in issued certificates.
	// +optional
	CRLDistributionPoints []string `json:"crlDistributionPoints,omitempty"`

	// OCSPServers put in issued certificates (authority information access).
	// +optional
	OCSPServers []string `json:"ocspServers,omitempty"`

	// IssuingCertificateURLs put in issued certificates (authority
	// information access, "CA Issuers").
	// +optional
	IssuingCertificateURLs []string `json:"issuingCertificateURLs,omitempty"`
}

// SelfSignedIssuer signs each certificate with its own private key.
type SelfSignedIssuer struct {
	// CRLDistributionPoints put in issued certificates.
	// +optional
	CRLDistributionPoints []string `json:"crlDistributionPoints,omitempty"`
}

// VaultIssuer signs certificates with HashiCorp Vault's PKI secrets engine.
type VaultIssuer struct {
	// Auth configures how to authenticate with Vault.
	Auth VaultAuth `json:"auth"`

	// Server is the Vault URL, e.g. "https://vault.example.com:8200".
	// +kubebuilder:validation:MinLength=1
	Server string `json:"server"`

	// ServerName overrides the TLS server name checked in Vault's
	// certificate.
	// +optional
	ServerName string `json:"serverName,omitempty"`

	// Path is the Vault path of the signing role, e.g. "pki/sign/example".
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path"`

	// Namespace is the Vault Enterprise namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// CABundle is a PEM bundle of CAs to verify Vault's certificate.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`

	// CABundleSecretRef selects a Secret key holding that bundle instead.
	// +optional
	CABundleSecretRef *cmmeta.SecretKeySelector `json:"caBundleSecretRef,omitempty"`

	// ClientCertSecretRef selects a Secret key holding a client certificate
	// for mutual TLS with Vault.
	// +optional
	ClientCertSecretRef *cmmeta.SecretKeySelector `json:"clientCertSecretRef,omitempty"`

	// ClientKeySecretRef selects a Secret key holding its private key.
	// +optional
	ClientKeySecretRef *cmmeta.SecretKeySelector `json:"clientKeySecretRef,omitempty"`
}

// VaultAuth configures authentication with Vault; exactly one method is set.
//
// +kubebuilder:validation:XValidation:rule="((has(self.tokenSecretRef) ? 1 : 0) + (has(self.appRole) ? 1 : 0) + (has(self.clientCertificate) ? 1 : 0) + (has(self.kubernetes) ? 1 : 0)) == 1",message="vault.auth: exactly one of tokenSecretRef, appRole, clientCertificate or kubernetes must be set"
type VaultAuth struct {
	// TokenSecretRef selects a Secret key holding a Vault token.
	// +optional
	TokenSecretRef *cmmeta.SecretKeySelector `json:"tokenSecretRef,omitempty"`

	// AppRole authenticates with the AppRole method.
	// +optional
	AppRole *VaultAppRole `json:"appRole,omitempty"`

	// ClientCertificate authenticates with the TLS certificate method.
	// +optional
	ClientCertificate *VaultClientCertificateAuth `json:"clientCertificate,omitempty"`

	// Kubernetes authenticates with the Kubernetes method.
	// +optional
	Kubernetes *VaultKubernetesAuth `json:"kubernetes,omitempty"`
}

// VaultAppRole authenticates with Vault's AppRole method.
type VaultAppRole struct {
	// Path where the AppRole method is mounted, e.g. "approle".
	Path string `json:"path"`

	// RoleId of the AppRole.
	RoleId string `json:"roleId"` //nolint:revive // upstream's JSON and Go name

	// SecretRef selects a Secret key holding the AppRole secret ID.
	SecretRef cmmeta.SecretKeySelector `json:"secretRef"`
}

// VaultClientCertificateAuth authenticates with Vault's TLS certificate
// method.
type VaultClientCertificateAuth struct {
	// MountPath of the method (default "/v1/auth/cert").
	// +optional
	MountPath string `json:"mountPath,omitempty"`

	// SecretName of a kubernetes.io/tls Secret with the client certificate.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// Name of the certificate role to authenticate against.
	// +optional
	Name string `json:"name,omitempty"`
}

// VaultKubernetesAuth authenticates with Vault's Kubernetes method.
//
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) != has(self.serviceAccountRef)",message="vault.auth.kubernetes: exactly one of secretRef or serviceAccountRef must be set"
type VaultKubernetesAuth struct {
	// Path where the method is mounted (default "/v1/auth/kubernetes").
	// +optional
	Path string `json:"mountPath,omitempty"`

	// SecretRef selects a Secret key holding a ServiceAccount token.
	// +optional
	SecretRef *cmmeta.SecretKeySelector `json:"secretRef,omitempty"`

	// ServiceAccountRef names a ServiceAccount a token is requested for.
	// +optional
	ServiceAccountRef *ServiceAccountRef `json:"serviceAccountRef,omitempty"`

	// Role is the Vault role to authenticate as.
	// +kubebuilder:validation:MinLength=1
	Role string `json:"role"`
}

// ServiceAccountRef is a ServiceAccount used to request a token.
type ServiceAccountRef struct {
	// Name of the ServiceAccount.
	Name string `json:"name"`

	// TokenAudiences are extra audiences of the requested token.
	// +optional
	TokenAudiences []string `json:"audiences,omitempty"`
}

// VenafiIssuer obtains certificates from Venafi; exactly one of TPP or Cloud
// is set.
//
// +kubebuilder:validation:XValidation:rule="has(self.tpp) != has(self.cloud)",message="venafi: exactly one of tpp or cloud must be set"
type VenafiIssuer struct {
	// Zone is the Venafi policy zone, e.g. "Default" or "DevOps\\Team".
	// +kubebuilder:validation:MinLength=1
	Zone string `json:"zone"`

	// TPP configures Venafi Trust Protection Platform.
	// +optional
	TPP *VenafiTPP `json:"tpp,omitempty"`

	// Cloud configures Venafi Cloud (CyberArk Certificate Manager SaaS).
	// +optional
	Cloud *VenafiCloud `json:"cloud,omitempty"`
}

// VenafiTPP configures a Venafi TPP server.
type VenafiTPP struct {
	// URL of the TPP WebSDK, e.g. "https://tpp.example.com/vedsdk".
	URL string `json:"url"`

	// CredentialsRef names a Secret with username/password or access-token.
	CredentialsRef cmmeta.LocalObjectReference `json:"credentialsRef"`

	// CABundle is a PEM bundle of CAs to verify TPP's certificate.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`

	// CABundleSecretRef selects a Secret key holding that bundle instead.
	// +optional
	CABundleSecretRef *cmmeta.SecretKeySelector `json:"caBundleSecretRef,omitempty"`
}

// VenafiCloud configures Venafi Cloud.
type VenafiCloud struct {
	// URL of the API (default "https://api.venafi.cloud/v1").
	// +optional
	URL string `json:"url,omitempty"`

	// APITokenSecretRef selects a Secret key holding the API token.
	APITokenSecretRef cmmeta.SecretKeySelector `json:"apiTokenSecretRef"`
}

// IssuerStatus is the observed state of an Issuer or ClusterIssuer.
type IssuerStatus struct {
	// Conditions: Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []IssuerCondition `json:"conditions,omitempty"`

	// ACME is the ACME account status of an ACME issuer.
	// +optional
	ACME *acmev1.ACMEIssuerStatus `json:"acme,omitempty"`
}

// IssuerCondition is a condition of an Issuer.
type IssuerCondition struct {
	// Type of the condition: Ready.
	Type IssuerConditionType `json:"type"`

	// Status of the condition: True, False or Unknown.
	Status cmmeta.ConditionStatus `json:"status"`

	// LastTransitionTime is when the condition last changed status.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`

	// Reason is a CamelCase reason for the last transition.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message is a human readable explanation of the last transition.
	// +optional
	Message string `json:"message,omitempty"`

	// ObservedGeneration is the .metadata.generation the condition was set
	// for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// IssuerConditionType is a condition type of an Issuer.
type IssuerConditionType string

const (
	// IssuerConditionReady is True when the issuer can sign requests.
	IssuerConditionReady IssuerConditionType = "Ready"
)
