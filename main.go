// Command rw runs jobs on a remote host over mutual TLS: one binary for the
// server (rw serve) and the client commands. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rw-project/rw/internal/cli"
	"github.com/rw-project/rw/internal/jobinit"
)

func main() {
	// rw run again as an isolated job's init does nothing else: no flags,
	// no signal handling of the command line's.
	if len(os.Args) > 1 && os.Args[1] == jobinit.Arg {
		jobinit.Main()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
