//go:build linux

package worker

import "github.com/rw-project/rw/internal/jobinit/jobinittest"

// The test binary runs as the tests' jobs and as isolated jobs' init; under
// -cover these keep the coverage warning out of their output (see
// jobinittest).
var (
	exitHelper = jobinittest.ExitHelper
	coverInit  = jobinittest.CoverInit
)
