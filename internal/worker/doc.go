//go:build linux

// Package worker runs executables ("jobs") on a fixed pool of workers and keeps
// their output.
//
// A job is started once, from a file inside a configured jobs directory, with
// exactly the arguments it was given: no shell, no inherited environment,
// stdin from /dev/null. It moves from StatusQueued through StatusStarting to
// StatusRunning (through StatusStopping when it is made to stop) and then to
// exactly one final status (StatusFinished, StatusFailed or StatusStopped); a
// job in a final status never runs again.
//
// The output of a job (stdout and stderr merged in write order) passes
// through a bounded ring in memory, which live readers follow, to a file in
// a data directory, which keeps it up to a cap: the memory of the process
// does not grow with the volume of output, and any number of readers can
// follow it.
//
// The package knows nothing of HTTP, JSON, TLS or the command line: the API
// server and the tests are its users, and they map its sentinel errors to
// whatever their callers understand.
package worker
