// Package v1 is the v1 version of the cert-manager.io API: Certificates,
// CertificateRequests, Issuers and ClusterIssuers. Field names, enums,
// defaults, condition types and annotation keys follow upstream cert-manager
// so that existing manifests, cmctl and dashboards keep working. Validation
// that upstream does in its admission webhook is expressed here as OpenAPI
// constraints and CEL rules (x-kubernetes-validations) in the generated CRDs.
//
// +kubebuilder:object:generate=true
// +groupName=cert-manager.io
// +groupGoName=Certmanager
// +k8s:deepcopy-gen=package
package v1
