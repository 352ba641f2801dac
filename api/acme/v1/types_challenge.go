package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Challenge is one ACME challenge that has to be solved for an Order's
// authorization.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=challenges,scope=Namespaced,categories={cert-manager,cert-manager-acme}
// +kubebuilder:printcolumn:name="State",type="string",JSONPath=".status.state"
// +kubebuilder:printcolumn:name="Domain",type="string",JSONPath=".spec.dnsName"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.reason",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."
type Challenge struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec ChallengeSpec `json:"spec"`
	// +optional
	Status ChallengeStatus `json:"status"`
}

// ChallengeList is a list of Challenges.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type ChallengeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	Items []Challenge `json:"items"`
}

// ChallengeSpec is the desired state of a Challenge.
type ChallengeSpec struct {
	// URL of the challenge on the ACME server.
	URL string `json:"url"`

	// AuthorizationURL is the URL of the authorization the challenge belongs
	// to.
	AuthorizationURL string `json:"authorizationURL"`

	// DNSName is the identifier being validated, without any "*." prefix.
	DNSName string `json:"dnsName"`

	// Wildcard is true when the authorization is for a wildcard name
	// (*.<dnsName>).
	// +optional
	Wildcard bool `json:"wildcard"`

	// Type of the challenge: HTTP-01 or DNS-01.
	Type ACMEChallengeType `json:"type"`

	// Token of the challenge.
	Token string `json:"token"`

	// Key is the key authorization: the HTTP-01 response body, or the
	// value from which the DNS-01 TXT record is derived.
	Key string `json:"key"`

	// Solver is the solver configuration chosen from the issuer for this
	// challenge.
	Solver ACMEChallengeSolver `json:"solver"`

	// IssuerRef is the issuer whose ACME account owns the challenge.
	IssuerRef cmmeta.IssuerReference `json:"issuerRef"`
}

// ChallengeStatus is the observed state of a Challenge.
type ChallengeStatus struct {
	// Processing is true while the controller is working on the challenge
	// (presenting, self-checking, accepting). False once the challenge is
	// done or has not started.
	// +optional
	Processing bool `json:"processing"`

	// Presented is true once the challenge response has been presented (the
	// solver Ingress/HTTPRoute exists, or the TXT record was written).
	// +optional
	Presented bool `json:"presented"`

	// Reason contains human readable information on why the Challenge is in
	// its current state.
	// +optional
	Reason string `json:"reason,omitempty"`

	// State of the challenge on the ACME server.
	// +optional
	State State `json:"state,omitempty"`
}
