package starter

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

// Main runs the CLI named after the binary (os.Args[0]) and exits: the body of both
// cmd/starter and cmd/kubectl-cert_manager.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := NewRootCommand(CommandName(os.Args[0])).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}
