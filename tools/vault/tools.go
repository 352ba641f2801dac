//go:build tools

// Package tools pins HashiCorp Vault, built into bin/vault as a test fixture only.
// Vault is under the Business Source License: it is never shipped or bundled in
// certflow's image or chart; the integration tests run it as a dev server.
package tools

import _ "github.com/hashicorp/vault"
