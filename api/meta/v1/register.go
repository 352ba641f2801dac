package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Registration is how one API group version registers its types in a
// scheme.
//
// +kubebuilder:object:generate=false
type Registration struct {
	// GroupVersion is the group version the types are registered under.
	GroupVersion schema.GroupVersion
	// SchemeBuilder collects the functions that add the types to a scheme.
	SchemeBuilder runtime.SchemeBuilder
}

// NewRegistration registers objects, and the meta/v1 kinds, under gv.
func NewRegistration(gv schema.GroupVersion, objects ...runtime.Object) Registration {
	return Registration{
		GroupVersion: gv,
		SchemeBuilder: runtime.NewSchemeBuilder(func(scheme *runtime.Scheme) error {
			scheme.AddKnownTypes(gv, objects...)
			metav1.AddToGroupVersion(scheme, gv)
			return nil
		}),
	}
}

// Kind takes an unqualified kind and returns a group-qualified GroupKind.
func (r Registration) Kind(kind string) schema.GroupKind {
	return r.GroupVersion.WithKind(kind).GroupKind()
}

// Resource takes an unqualified resource and returns a group-qualified
// GroupResource.
func (r Registration) Resource(resource string) schema.GroupResource {
	return r.GroupVersion.WithResource(resource).GroupResource()
}
