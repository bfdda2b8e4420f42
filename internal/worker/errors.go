//go:build linux

package worker

import "errors"

// Sentinel errors returned by the Pool. Callers test them with errors.Is; the
// wrapping error says which job or file they concern.
var (
	// ErrNotFound means no job has the given id.
	ErrNotFound = errors.New("job not found")

	// ErrNoSuchFile means the requested executable does not exist in the jobs
	// directory.
	ErrNoSuchFile = errors.New("no such file in the jobs directory")

	// ErrNotAllowed means the requested path is refused: it leaves the jobs
	// directory, names a directory or another non-regular file, or is not
	// executable.
	ErrNotAllowed = errors.New("path not allowed")

	// ErrQueueFull means the queue of jobs waiting for a worker is full; the
	// caller may try again later.
	ErrQueueFull = errors.New("job queue is full")

	// ErrShuttingDown means the pool no longer accepts jobs.
	ErrShuttingDown = errors.New("worker pool is shutting down")
)

// ErrJobsDirUnavailable means the jobs directory cannot be opened: it was
// removed, or a symlink to it points nowhere, while the server runs. The
// caller may try again once the operator has put it back.
var ErrJobsDirUnavailable = errors.New("jobs directory unavailable")

// ErrInvalidArgs means an argument cannot be passed to a process, such as one
// holding a NUL byte.
var ErrInvalidArgs = errors.New("invalid arguments")

// ErrStorage means the job store or the data directory could not be read
// or written; the message says which and why.
var ErrStorage = errors.New("job storage unavailable")

// ErrUserBusy means the job's owner has as many jobs queued or running as
// one user may; the caller may try again once one ends.
var ErrUserBusy = errors.New("too many jobs of one user")

// ErrNotFinal means a job cannot be removed because it has not ended; stop
// it first.
var ErrNotFinal = errors.New("job has not ended")

// ErrCannotIsolate means a job asked for isolation from a pool that cannot
// give it: the server does not run as root.
var ErrCannotIsolate = errors.New("isolation is not available")

// ErrInvalidTimeout means a job asked for a time limit that is negative
// or over the pool's maximum.
var ErrInvalidTimeout = errors.New("invalid timeout")

// ErrInvalidLimits means a job asked for limits out of the range the pool
// allows, or for limits on a host where they cannot be enforced.
var ErrInvalidLimits = errors.New("invalid limits")
