//go:build tools

// Package temporal pins the Temporal CLI built into bin/ for the local stack, and the
// Temporal server and its SQL schema tool of the same release, which `make bench`
// runs on PostgreSQL for the cost curve beyond the dev server.
package temporal

import (
	_ "github.com/temporalio/cli/cmd/temporal"
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
