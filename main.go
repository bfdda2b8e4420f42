// Command rw runs jobs on a remote host over mutual TLS: one binary for the
// server (rw serve) and the client commands. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rw-project/rw/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
