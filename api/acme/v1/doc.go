// Package v1 is the v1 version of the acme.cert-manager.io API: Orders,
// Challenges and the ACME issuer configuration embedded in Issuers and
// ClusterIssuers. Field names, enums and defaults follow upstream cert-manager.
//
// +kubebuilder:object:generate=true
// +groupName=acme.cert-manager.io
// +groupGoName=Acme
// +k8s:deepcopy-gen=package
package v1
