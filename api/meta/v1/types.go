package v1

// ConditionStatus is the status of a condition: True, False or Unknown.
// +kubebuilder:validation:Enum=True;False;Unknown
type ConditionStatus string

const (
	// ConditionTrue means the resource is in the condition.
	ConditionTrue ConditionStatus = "True"
	// ConditionFalse means the resource is not in the condition.
	ConditionFalse ConditionStatus = "False"
	// ConditionUnknown means it cannot be told whether the resource is in the
	// condition or not.
	ConditionUnknown ConditionStatus = "Unknown"
)

// LocalObjectReference is a reference to an object in the same namespace as
// the referent. When the referent is a cluster-scoped resource (for example a
// ClusterIssuer), the reference instead refers to the resource with the given
// name in the configured "cluster resource namespace".
type LocalObjectReference struct {
	// Name of the resource being referred to.
	// More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names
	Name string `json:"name"`
}

// IssuerReference is a reference to an Issuer, a ClusterIssuer or an
// external issuer resource.
type IssuerReference struct {
	// Name of the issuer being referred to.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Kind of the issuer being referred to. Defaults to "Issuer" when empty.
	// +optional
	Kind string `json:"kind,omitempty"`
	// Group of the issuer being referred to. Defaults to "cert-manager.io"
	// when empty.
	// +optional
	Group string `json:"group,omitempty"`
}

// ObjectReference is the historical name of IssuerReference; the two are the
// same type.
type ObjectReference = IssuerReference

// SecretKeySelector selects one key of a Secret resource.
type SecretKeySelector struct {
	// The name of the Secret resource being referred to.
	LocalObjectReference `json:",inline"`

	// The key of the entry in the Secret resource's `data` field to be used.
	// Some instances of this field may be defaulted, in others it may be
	// required.
	// +optional
	Key string `json:"key,omitempty"`
}

const (
	// TLSCAKey is the key of the CA certificate in a kubernetes.io/tls Secret
	// written by certflow.
	TLSCAKey = "ca.crt"
)
