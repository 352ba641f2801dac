package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// A CertificateRequest asks an issuer to sign a CSR once. Its spec is
// immutable; it ends Ready=True (reason Issued) with status.certificate set,
// or Ready=False with reason Failed or Denied and status.failureTime set.
// Requests made for a Certificate are named <certificate>-<revision>.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=certificaterequests,scope=Namespaced,shortName={cr,crs},categories=cert-manager
// +kubebuilder:printcolumn:name="Approved",type="string",JSONPath=".status.conditions[?(@.type==\"Approved\")].status"
// +kubebuilder:printcolumn:name="Denied",type="string",JSONPath=".status.conditions[?(@.type==\"Denied\")].status"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Issuer",type="string",JSONPath=".spec.issuerRef.name"
// +kubebuilder:printcolumn:name="Requester",type="string",JSONPath=".spec.username"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."
type CertificateRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the desired state of the CertificateRequest. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
	Spec CertificateRequestSpec `json:"spec"`

	// Status of the CertificateRequest, set by the controller.
	// +optional
	Status CertificateRequestStatus `json:"status"`
}

// CertificateRequestList is a list of CertificateRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type CertificateRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	Items []CertificateRequest `json:"items"`
}

// CertificateRequestSpec is the desired state of a CertificateRequest.
type CertificateRequestSpec struct {
	// Duration is the requested lifetime of the certificate; issuers may
	// ignore it.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^([0-9]+([.][0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// IssuerRef is the issuer asked to sign the request.
	IssuerRef cmmeta.IssuerReference `json:"issuerRef"`

	// Request is the PEM-encoded PKCS#10 certificate signing request
	// (base64-encoded in JSON).
	Request []byte `json:"request"`

	// IsCA requests a CA certificate. If the CSR has a basic constraints
	// extension it must agree.
	// +optional
	IsCA bool `json:"isCA,omitempty"`

	// Usages requested for the certificate; "digital signature" and "key
	// encipherment" when unset. If the CSR has key usage extensions they must
	// agree.
	// +optional
	Usages []KeyUsage `json:"usages,omitempty"`

	// Username of the user that created the request. Username, uid, groups
	// and extra are set from the requesting user by certflow's
	// MutatingAdmissionPolicy (deploy/admission), whatever was sent, and are
	// immutable.
	// +optional
	Username string `json:"username,omitempty"`

	// UID of the user that created the request.
	// +optional
	UID string `json:"uid,omitempty"`

	// Groups of the user that created the request.
	// +listType=atomic
	// +optional
	Groups []string `json:"groups,omitempty"`

	// Extra attributes of the user that created the request.
	// +optional
	Extra map[string][]string `json:"extra,omitempty"`
}

// CertificateRequestStatus is the observed state of a CertificateRequest.
type CertificateRequestStatus struct {
	// Conditions: Ready, InvalidRequest, Approved and Denied.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []CertificateRequestCondition `json:"conditions,omitempty"`

	// Certificate is the signed PEM certificate chain (leaf first).
	// +optional
	Certificate []byte `json:"certificate,omitempty"`

	// CA is the PEM CA certificate of the issuer, when known.
	// +optional
	CA []byte `json:"ca,omitempty"`

	// FailureTime is when the request failed; it is not retried.
	// +optional
	FailureTime *metav1.Time `json:"failureTime,omitempty"`
}

// CertificateRequestCondition is a condition of a CertificateRequest.
type CertificateRequestCondition struct {
	// Type of the condition: Ready, InvalidRequest, Approved or Denied.
	Type CertificateRequestConditionType `json:"type"`

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
}

// CertificateRequestConditionType is a condition type of a
// CertificateRequest.
type CertificateRequestConditionType string

const (
	// CertificateRequestConditionReady is True once the certificate is
	// issued; False with reason Pending, Failed or Denied otherwise.
	CertificateRequestConditionReady CertificateRequestConditionType = "Ready"
	// CertificateRequestConditionInvalidRequest is True when the request can
	// never be signed (a final failure).
	CertificateRequestConditionInvalidRequest CertificateRequestConditionType = "InvalidRequest"
	// CertificateRequestConditionApproved is True once an approver approved
	// the request. Final; exclusive with Denied.
	CertificateRequestConditionApproved CertificateRequestConditionType = "Approved"
	// CertificateRequestConditionDenied is True once an approver denied the
	// request. Final; exclusive with Approved.
	CertificateRequestConditionDenied CertificateRequestConditionType = "Denied"
)

// Reasons of the Ready condition of a CertificateRequest.
const (
	// CertificateRequestReasonPending: the request is being processed.
	CertificateRequestReasonPending = "Pending"
	// CertificateRequestReasonFailed: the request failed (final).
	CertificateRequestReasonFailed = "Failed"
	// CertificateRequestReasonIssued: the certificate was issued.
	CertificateRequestReasonIssued = "Issued"
	// CertificateRequestReasonDenied: the request was denied (final).
	CertificateRequestReasonDenied = "Denied"
)
