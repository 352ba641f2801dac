//go:build tools

// Package temporal pins the Temporal CLI built into bin/ for the local stack.
package temporal

import _ "github.com/temporalio/cli/cmd/temporal"
