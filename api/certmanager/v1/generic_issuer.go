package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// GenericIssuer is an Issuer or a ClusterIssuer.
// +kubebuilder:object:generate=false
type GenericIssuer interface {
	runtime.Object
	metav1.Object

	// GetObjectMeta returns the issuer's ObjectMeta.
	GetObjectMeta() *metav1.ObjectMeta
	// GetSpec returns the issuer's spec.
	GetSpec() *IssuerSpec
	// GetStatus returns the issuer's status.
	GetStatus() *IssuerStatus
	// Copy returns a deep copy as a GenericIssuer.
	Copy() GenericIssuer
}

var (
	_ GenericIssuer = &Issuer{}
	_ GenericIssuer = &ClusterIssuer{}
)

// GetObjectMeta returns the Issuer's ObjectMeta.
func (c *Issuer) GetObjectMeta() *metav1.ObjectMeta { return &c.ObjectMeta }

// GetSpec returns the Issuer's spec.
func (c *Issuer) GetSpec() *IssuerSpec { return &c.Spec }

// GetStatus returns the Issuer's status.
func (c *Issuer) GetStatus() *IssuerStatus { return &c.Status }

// Copy returns a deep copy of the Issuer.
func (c *Issuer) Copy() GenericIssuer { return c.DeepCopy() }

// GetObjectMeta returns the ClusterIssuer's ObjectMeta.
func (c *ClusterIssuer) GetObjectMeta() *metav1.ObjectMeta { return &c.ObjectMeta }

// GetSpec returns the ClusterIssuer's spec.
func (c *ClusterIssuer) GetSpec() *IssuerSpec { return &c.Spec }

// GetStatus returns the ClusterIssuer's status.
func (c *ClusterIssuer) GetStatus() *IssuerStatus { return &c.Status }

// Copy returns a deep copy of the ClusterIssuer.
func (c *ClusterIssuer) Copy() GenericIssuer { return c.DeepCopy() }

// GetCondition returns the condition of the given type, or nil.
func (s *IssuerStatus) GetCondition(t IssuerConditionType) *IssuerCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether the issuer's Ready condition is True.
func (s *IssuerStatus) IsReady() bool {
	c := s.GetCondition(IssuerConditionReady)
	return c != nil && c.Status == "True"
}
