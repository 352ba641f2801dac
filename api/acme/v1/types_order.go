package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Order is an ACME order (RFC 8555 section 7.1.3) made on behalf of a
// CertificateRequest that uses an ACME issuer.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=orders,scope=Namespaced,categories={cert-manager,cert-manager-acme}
// +kubebuilder:printcolumn:name="State",type="string",JSONPath=".status.state"
// +kubebuilder:printcolumn:name="Issuer",type="string",JSONPath=".spec.issuerRef.name",priority=1
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.reason",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."
type Order struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec OrderSpec `json:"spec"`
	// +optional
	Status OrderStatus `json:"status"`
}

// OrderList is a list of Orders.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type OrderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	Items []Order `json:"items"`
}

// OrderSpec is the desired state of an Order. It is immutable.
type OrderSpec struct {
	// Request is the DER-encoded (base64 in JSON) PEM certificate signing
	// request that will be sent to the ACME server when the order is
	// finalized.
	Request []byte `json:"request"`

	// IssuerRef is the issuer whose ACME account places the order. It is the
	// same as the CertificateRequest's issuerRef.
	IssuerRef cmmeta.IssuerReference `json:"issuerRef"`

	// CommonName is the common name of the CSR, if any. It must also be in
	// DNSNames or IPAddresses.
	// +optional
	CommonName string `json:"commonName,omitempty"`

	// DNSNames are the DNS identifiers of the order.
	// +optional
	DNSNames []string `json:"dnsNames,omitempty"`

	// IPAddresses are the IP identifiers of the order.
	// +optional
	IPAddresses []string `json:"ipAddresses,omitempty"`

	// Duration is the requested certificate lifetime, sent as NotAfter when
	// the issuer has enableDurationFeature set.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// Profile is the ACME profile requested for the certificate.
	// +optional
	Profile string `json:"profile,omitempty"`

	// Replaces is the ARI identifier (RFC 9773 §4.1, base64url(AKI).base64url(serial))
	// of the certificate this order renews, sent as newOrder's `replaces` when the
	// server offers renewal information.
	// +optional
	Replaces string `json:"replaces,omitempty"`
}

// OrderStatus is the observed state of an Order.
type OrderStatus struct {
	// URL of the order on the ACME server.
	// +optional
	URL string `json:"url,omitempty"`

	// FinalizeURL is the URL to post the CSR to once the order is ready.
	// +optional
	FinalizeURL string `json:"finalizeURL,omitempty"`

	// Authorizations of the order, one per identifier.
	// +optional
	Authorizations []ACMEAuthorization `json:"authorizations,omitempty"`

	// Certificate is the PEM certificate chain issued for the order.
	// +optional
	Certificate []byte `json:"certificate,omitempty"`

	// State of the order on the ACME server.
	// +optional
	State State `json:"state,omitempty"`

	// Reason why the order is in its current state, if known.
	// +optional
	Reason string `json:"reason,omitempty"`

	// FailureTime is when the order failed (state invalid, expired or
	// errored).
	// +optional
	FailureTime *metav1.Time `json:"failureTime,omitempty"`
}

// ACMEAuthorization is an ACME authorization of an order.
type ACMEAuthorization struct {
	// URL of the authorization.
	URL string `json:"url"`

	// Identifier (DNS name or IP address) the authorization is for.
	// +optional
	Identifier string `json:"identifier,omitempty"`

	// Wildcard is true when the authorization is for a wildcard name; the
	// identifier then has no "*." prefix.
	// +optional
	Wildcard *bool `json:"wildcard,omitempty"`

	// InitialState is the authorization's state when the order was created.
	// "valid" means the ACME account has a valid authorization already and no
	// challenge has to be solved.
	// +optional
	InitialState State `json:"initialState,omitempty"`

	// Challenges offered by the ACME server for this authorization.
	// +optional
	Challenges []ACMEChallenge `json:"challenges,omitempty"`
}

// ACMEChallenge is a challenge offered by the ACME server.
type ACMEChallenge struct {
	// URL of the challenge.
	URL string `json:"url"`

	// Token of the challenge.
	Token string `json:"token"`

	// Type of the challenge, e.g. "http-01" or "dns-01" (as the ACME server
	// names it; lowercase).
	Type string `json:"type"`
}
