//go:build tools

// Package helm pins the Helm CLI built into bin/ to install and template certflow's chart.
package helm

import _ "helm.sh/helm/v4/cmd/helm"
