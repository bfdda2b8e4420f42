//go:build linux

package worker

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A test binary built with -cover writes its coverage data when it exits,
// to $GOCOVERDIR, and without one prints a warning on stderr instead. The
// test binary also runs as the tests' jobs and as isolated jobs' init,
// which get no environment and whose output the tests compare byte for
// byte; the two functions below keep the warning out of that output.

// exitHelper ends a helper job with code. Under -cover it skips the exit
// hooks, and so the warning: a job may run as a user who can write nowhere
// the data could go, and what a helper runs is test code, not rw's.
func exitHelper(code int) {
	if testing.CoverMode() != "" {
		syscall.Exit(code)
	}
	os.Exit(code)
}

// coverInit gives an isolated job's init, under -cover, the directory of
// the test binary as its GOCOVERDIR: init runs as root, so it can write
// there, and go test removes that directory when the test ends.
func coverInit() {
	if testing.CoverMode() == "" || os.Getenv("GOCOVERDIR") != "" {
		return
	}
	if exe, err := os.Executable(); err == nil {
		os.Setenv("GOCOVERDIR", filepath.Dir(exe))
	}
}
