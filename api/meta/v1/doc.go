// Package v1 holds the reference and condition types shared by the
// cert-manager.io and acme.cert-manager.io API groups (meta.cert-manager.io
// upstream). It has no resources of its own and is not registered in a scheme.
//
// +kubebuilder:object:generate=true
package v1
