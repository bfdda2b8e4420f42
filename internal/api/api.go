// Package api holds the wire types of rw's HTTP API: request and response
// bodies shared by the server and the client. It uses the standard library
// only and knows nothing of how requests are served or sent.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Paths of the endpoints.
const (
	PathStart = "/start"
	PathStop  = "/stop"
	PathQuery = "/query"
	PathLogs  = "/logs"
	// PathRemove removes a final job: its record and its output.
	PathRemove = "/remove"
	// PathMetrics serves Prometheus metrics; PathHealth the server's
	// health (a Health).
	PathMetrics = "/metrics"
	PathHealth  = "/healthz"
	// PathVersion answers the server's version (a Version) to any
	// authenticated caller.
	PathVersion = "/version"
	// PathFiles lists the executables a caller may start (a FileList).
	PathFiles = "/files"
)

// Query parameters of GET /logs besides id. follow=true follows the output
// until the job ends; offset=N starts at byte N. tailLines=N starts at the
// last N lines of the output written so far, tailBytes=N at its last N
// bytes; at most one of offset, tailLines and tailBytes may be given.
const (
	ParamFollow    = "follow"
	ParamOffset    = "offset"
	ParamTailLines = "tailLines"
	ParamTailBytes = "tailBytes"
)

// HeaderStopTimeout is sent with every authenticated answer: the server's
// grace period between SIGTERM and SIGKILL as a Go duration ("10s"), so
// that a client knows how long POST /stop may take.
const HeaderStopTimeout = "Rw-Stop-Timeout"

// HeaderOutputGap is sent with a GET /logs?follow=true stream that skips
// output: the job ran past the server's output cap before the stream began,
// and bytes after the kept ones had already left the server's memory. The
// stream has the kept bytes (from where it starts), then the job's output
// from the oldest byte the server still holds, live. Its value is where the
// gap begins: the number of bytes kept.
const HeaderOutputGap = "Rw-Output-Gap"

// Limits on requests, checked by the server and documented in the README.
const (
	MaxBodyBytes  = 64 << 10 // a request body
	MaxArgs       = 1024     // arguments of one job
	MaxArgsBytes  = 64 << 10 // all arguments of one job together
	MaxOutputTail = 64 << 10 // the output carried in a Job
	MaxFiles      = 10_000   // the files listed by GET /files
)

// Job statuses on the wire. A job is queued until a worker takes it,
// starting while its process is made, running, stopping while a stop waits
// for it to end, and then final: finished, failed or stopped.
const (
	StatusQueued   = "queued"
	StatusStarting = "starting"
	StatusRunning  = "running"
	StatusStopping = "stopping"
	StatusFinished = "finished"
	StatusFailed   = "failed"
	StatusStopped  = "stopped"
)

// Reasons a final job ended, on the wire (Job.Reason).
const (
	ReasonExited      = "exited"
	ReasonSignaled    = "signaled"
	ReasonStopped     = "stopped"
	ReasonTimedOut    = "timed-out"
	ReasonOOMKilled   = "oom-killed"
	ReasonStartFailed = "start-failed"
)

// Statuses are every job status, in the order a job goes through them.
var Statuses = []string{StatusQueued, StatusStarting, StatusRunning, StatusStopping, StatusFinished, StatusFailed, StatusStopped}

// FinalStatus reports whether status is one a job never leaves.
func FinalStatus(status string) bool {
	switch status {
	case StatusFinished, StatusFailed, StatusStopped:
		return true
	}
	return false
}

// StartRequest is the body of POST /start.
type StartRequest struct {
	FilePath string `json:"filePath"`
	Args     []Arg  `json:"args"`
	// Limits, if given, are the job's own limits; a field left out takes
	// the server's default.
	Limits *LimitsRequest `json:"limits,omitempty"`
	// Timeout, if given, is the job's time limit as a Go duration ("90s",
	// "1h30m"); when it runs out the job is stopped as POST /stop does.
	Timeout string `json:"timeout,omitempty"`
	// Isolate, if given, says whether the job runs in namespaces of its
	// own; left out, the server's default (--isolate) applies.
	Isolate *bool `json:"isolate,omitempty"`
}

// LimitsRequest is what a start request asks for. 0 means unlimited.
type LimitsRequest struct {
	MemoryBytes        *int64   `json:"memoryBytes,omitempty"`
	CPUs               *float64 `json:"cpus,omitempty"`
	Pids               *int64   `json:"pids,omitempty"`
	IOReadBytesPerSec  *int64   `json:"ioReadBytesPerSec,omitempty"`
	IOWriteBytesPerSec *int64   `json:"ioWriteBytesPerSec,omitempty"`
}

// Limits are the limits in force for a job, every field present; 0 means
// unlimited.
type Limits struct {
	// MemoryBytes caps the job's memory, page cache included.
	MemoryBytes int64 `json:"memoryBytes"`
	// CPUs is the CPU time per unit of wall time: 0.5 is half a CPU.
	CPUs float64 `json:"cpus"`
	// Pids caps the job's processes and threads at once.
	Pids int64 `json:"pids"`
	// IOReadBytesPerSec and IOWriteBytesPerSec throttle block IO.
	IOReadBytesPerSec  int64 `json:"ioReadBytesPerSec"`
	IOWriteBytesPerSec int64 `json:"ioWriteBytesPerSec"`
}

// Usage is what a job used: so far while it runs, in all once it ended. A
// null field is one the host cannot tell.
type Usage struct {
	CPUSeconds      *float64 `json:"cpuSeconds"`
	MemoryPeakBytes *int64   `json:"memoryPeakBytes"`
}

// Arg is one job argument. On the wire it is a JSON string, or a JSON number
// that is passed to the job as its decimal text.
type Arg string

// ErrArgType is returned when an argument is neither a string nor a number.
var ErrArgType = errors.New("every argument must be a JSON string or number")

// UnmarshalJSON accepts a string or a number.
func (a *Arg) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Arg(s)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	n, ok := v.(json.Number)
	if !ok {
		return ErrArgType
	}
	text, err := decimalText(n)
	if err != nil {
		return err
	}
	*a = Arg(text)
	return nil
}

// decimalText writes a JSON number as a job expects to read it: an integer
// exactly as given, any other number in plain decimal notation (1e3 is
// "1000", 2.50 is "2.5").
func decimalText(n json.Number) (string, error) {
	if isIntegerLiteral(string(n)) {
		return string(n), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return "", fmt.Errorf("argument %s is out of range: pass it as a string", n)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// isIntegerLiteral reports whether a JSON number has neither fraction nor
// exponent; JSON's grammar has already ruled out anything else odd.
func isIntegerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// StopRequest is the body of POST /stop.
type StopRequest struct {
	ID int64 `json:"id"`
	// Timeout, if given, is this stop's grace period between SIGTERM and
	// SIGKILL as a Go duration ("3s"): at most the server's (announced in
	// HeaderStopTimeout); "0s" sends SIGKILL at once. Left out, the
	// server's applies. A job being stopped already keeps the earlier
	// SIGKILL.
	Timeout string `json:"timeout,omitempty"`
}

// RemoveRequest is the body of POST /remove.
type RemoveRequest struct {
	ID int64 `json:"id"`
}

// Job is a job as the API shows it. Times are UTC, in RFC 3339 with
// nanoseconds.
type Job struct {
	// ID is the job's number, from 1, never reused.
	ID int64 `json:"id"`
	// Owner is the user who started the job, as their certificate names
	// them.
	Owner string `json:"owner"`
	// FilePath is the executable, relative to the server's jobs directory,
	// as the request gave it.
	FilePath string `json:"filePath"`
	// Args are the job's arguments, as strings; never null.
	Args []string `json:"args"`
	// Status is one of the Status constants.
	Status string `json:"status"`
	// QueuePosition is, while the job is queued, how many jobs are ahead
	// of it in the queue (0: it is next); absent in every other status.
	QueuePosition *int `json:"queuePosition,omitempty"`
	// ExitCode is null until the job has ended, and for a job that never
	// ran; 128+N for a job killed by signal N.
	ExitCode *int `json:"exitCode"`
	// Reason is how a final job ended, one word for programs: "exited",
	// "signaled", "stopped", "timed-out", "oom-killed" or "start-failed".
	// Absent until the job is final.
	Reason string `json:"reason,omitempty"`
	// Error is the reason of a failure or a stop, a sentence for people.
	Error string `json:"error,omitempty"`
	// Output is the job's output as text, at most its last MaxOutputTail
	// bytes; null when the job has written nothing.
	Output *string `json:"output"`
	// OutputTruncated is true when Output is not the whole output: cut to
	// its tail, or dropped past the server's per-job cap.
	OutputTruncated bool `json:"outputTruncated"`
	// OutputError says why output was dropped or is gone when that was not
	// the server's per-job cap: a write error such as a full disk, the
	// data directory's bound, retention.
	OutputError string `json:"outputError,omitempty"`
	// CreatedAt is when the server accepted the job.
	CreatedAt time.Time `json:"createdAt"`
	// StartedAt is when its process started; null until then, and for a
	// job that never ran.
	StartedAt *time.Time `json:"startedAt"`
	// EndedAt is when the job reached its final status; null until then.
	EndedAt *time.Time `json:"endedAt"`
	// Limits are the limits in force for the job.
	Limits Limits `json:"limits"`
	// Timeout is the job's time limit as a Go duration; absent for none.
	Timeout string `json:"timeout,omitempty"`
	// Isolated says the job runs in PID, mount, network, UTS and IPC
	// namespaces of its own.
	Isolated bool `json:"isolated"`
	// Usage is what the job used; null where the host cannot say.
	Usage *Usage `json:"usage"`
}

// JobList is the body of GET /query without an id. With limit=N, Next is
// the after= of the next page, absent when there is none.
type JobList struct {
	Jobs []Job  `json:"jobs"`
	Next *int64 `json:"next,omitempty"`
}

// File is an executable in the server's jobs directory: one that POST /start
// accepts.
type File struct {
	// Path is relative to the jobs directory, as filePath takes it.
	Path string `json:"path"`
	// Size is in bytes.
	Size int64 `json:"size"`
	// Mode is the permission bits in octal, such as "0755".
	Mode string `json:"mode"`
	// ModTime is when the file was last modified.
	ModTime time.Time `json:"modTime"`
}

// FileList is the body of GET /files.
type FileList struct {
	// Files are in lexical order of their paths; never null.
	Files []File `json:"files"`
	// Truncated is true when there were more than MaxFiles and the rest
	// were left out.
	Truncated bool `json:"truncated"`
}

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok", "shutting_down", or "unavailable" when the server
	// cannot record jobs (Error says why).
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
	Version string `json:"version"`
	// Uptime is how long the server has run, as a Go duration.
	Uptime string `json:"uptime"`
	Jobs   struct {
		Running int `json:"running"`
		Queued  int `json:"queued"`
	} `json:"jobs"`
}

// Version is the body of GET /version.
type Version struct {
	// Version is the server's module version, or the commit it was built
	// from, as rw version prints it.
	Version string `json:"version"`
}

// Error is the body of every error response.
type Error struct {
	// Error is a sentence for a person.
	Error string `json:"error"`
	// Code is a word for a program.
	Code string `json:"code"`
}

// Error codes.
const (
	CodeBadRequest         = "bad_request"
	CodeBodyTooLarge       = "body_too_large"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeUnauthenticated    = "unauthenticated"
	CodeForbidden          = "forbidden"
	CodeNotFound           = "not_found"
	CodeNoSuchFile         = "no_such_file"
	CodePathNotAllowed     = "path_not_allowed"
	CodeInvalidArgs        = "invalid_args"
	CodeInvalidLimits      = "invalid_limits"
	CodeInvalidTimeout     = "invalid_timeout"
	CodeCannotIsolate      = "isolation_unavailable"
	CodeQueueFull          = "queue_full"
	CodeJobRunning         = "job_running"
	CodeTooManyJobs        = "too_many_jobs"
	CodeTooManyRequests    = "too_many_requests"
	CodeStoreUnavailable   = "store_unavailable"
	CodeJobsDirUnavailable = "jobs_dir_unavailable"
	CodeRequestTimeout     = "request_timeout"
	CodeNoResources        = "resources_exhausted"
	CodeShuttingDown       = "shutting_down"
	CodeInternal           = "internal"
)
