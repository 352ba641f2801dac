// Command starter is certflow's operator CLI.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/certflow/certflow/starter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := starter.NewRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
