package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// GroupName is the API group of Orders and Challenges.
const GroupName = "acme.cert-manager.io"

var (
	registration = cmmeta.NewRegistration(schema.GroupVersion{Group: GroupName, Version: "v1"},
		&Order{}, &OrderList{}, &Challenge{}, &ChallengeList{})

	// SchemeGroupVersion is the group version used to register these objects.
	SchemeGroupVersion = registration.GroupVersion
	// Kind takes an unqualified kind and returns a group-qualified GroupKind.
	Kind = registration.Kind
	// Resource takes an unqualified resource and returns a group-qualified GroupResource.
	Resource = registration.Resource
	// AddToScheme adds this group's types to a scheme.
	AddToScheme = registration.SchemeBuilder.AddToScheme
)
