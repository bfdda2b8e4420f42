//go:build linux

// Command rwbench measures rw and its floors in the same run and prints their
// ratios. bench/run.sh builds it with rw and the other floors and runs
//
//	rwbench run -bin DIR [-quick]
//
// which starts rw servers and floor servers on loopback, drives them, and
// prints one table: path, rw, floor, ratio, goal, met. rwbench serve is the
// floor server it starts as a process of its own (so that its memory is
// measured apart from the load): a keep-alive mTLS server with rw's TLS
// settings, optionally verifying rw's ES256 tokens, that also streams a
// child's output over HTTPS. docs/PERFORMANCE.md says what each row means.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "rwbench: error: give a command: run or serve")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	switch os.Args[1] {
	case "run":
		err = runMain(ctx, os.Args[2:])
	case "serve":
		err = serveMain(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: give run or serve", os.Args[1])
	}
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rwbench: error: %v\n", err)
		os.Exit(1)
	}
}
