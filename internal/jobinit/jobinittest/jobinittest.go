// Package jobinittest serves the tests of packages whose test binary also
// runs as the tests' jobs and as isolated jobs' init (jobinit.Main), as
// rw itself does. It keeps a test binary built with -cover from adding to
// those processes' output.
//
// A test binary built with -cover writes its coverage data when it exits,
// to $GOCOVERDIR, and without one prints a warning on stderr instead. Jobs
// and isolated jobs' init get no environment, and the tests compare their
// output byte for byte: ExitHelper and CoverInit keep the warning out of
// it. Only tests import this package.
package jobinittest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// ExitHelper ends a helper job with code. Under -cover it skips the exit
// hooks, and so the warning: a job may run as a user who can write nowhere
// the data could go, and what a helper runs is test code, not rw's.
func ExitHelper(code int) {
	if testing.CoverMode() != "" {
		syscall.Exit(code)
	}
	os.Exit(code)
}

// CoverInit gives an isolated job's init, under -cover, the directory of
// the test binary as its GOCOVERDIR: init runs as root, so it can write
// there, and go test removes that directory when the test ends.
func CoverInit() {
	if testing.CoverMode() == "" || os.Getenv("GOCOVERDIR") != "" {
		return
	}
	if exe, err := os.Executable(); err == nil {
		os.Setenv("GOCOVERDIR", filepath.Dir(exe))
	}
}
