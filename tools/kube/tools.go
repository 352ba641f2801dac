//go:build tools

// Package kube pins the Kubernetes commands built into bin/ for the local stack.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
