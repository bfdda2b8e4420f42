//go:build linux

package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"syscall"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/worker"
)

// apiError is an error with the status and code it is answered with.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

// retryAfter is the Retry-After, in seconds, of a 503 for a full queue.
const retryAfter = 1

// statusOf is the one place where errors become HTTP statuses.
func statusOf(err error) (status int, code string) {
	var ae *apiError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.code
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge
	case resourceError(err) != "":
		return http.StatusServiceUnavailable, api.CodeNoResources
	case errors.Is(err, worker.ErrJobsDirUnavailable):
		return http.StatusServiceUnavailable, api.CodeJobsDirUnavailable
	case errors.Is(err, worker.ErrNotFound):
		return http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, worker.ErrNoSuchFile):
		return http.StatusNotFound, api.CodeNoSuchFile
	case errors.Is(err, worker.ErrNotAllowed):
		return http.StatusUnprocessableEntity, api.CodePathNotAllowed
	case errors.Is(err, worker.ErrInvalidLimits):
		return http.StatusUnprocessableEntity, api.CodeInvalidLimits
	case errors.Is(err, worker.ErrCannotIsolate):
		return http.StatusUnprocessableEntity, api.CodeCannotIsolate
	case errors.Is(err, worker.ErrInvalidTimeout):
		return http.StatusUnprocessableEntity, api.CodeInvalidTimeout
	case errors.Is(err, worker.ErrInvalidArgs), errors.Is(err, api.ErrArgType):
		return http.StatusUnprocessableEntity, api.CodeInvalidArgs
	case errors.Is(err, worker.ErrNotFinal):
		return http.StatusConflict, api.CodeJobRunning
	case errors.Is(err, worker.ErrStorage):
		return http.StatusServiceUnavailable, api.CodeStoreUnavailable
	case errors.Is(err, worker.ErrUserBusy):
		return http.StatusTooManyRequests, api.CodeTooManyJobs
	case errors.Is(err, worker.ErrQueueFull):
		return http.StatusServiceUnavailable, api.CodeQueueFull
	case errors.Is(err, worker.ErrShuttingDown), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, api.CodeShuttingDown
	}
	return http.StatusInternalServerError, api.CodeInternal
}

// resourceError names the resource of the host that err says ran out, or
// is empty: such a failure is the host's, not the caller's, whatever the
// request was.
func resourceError(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "file descriptors"
	case errors.Is(err, syscall.ENOMEM):
		return "memory"
	case errors.Is(err, syscall.ENOSPC):
		return "disk space"
	}
	return ""
}

// writeError answers err as a JSON error body.
func writeError(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	switch code {
	case api.CodeQueueFull, api.CodeTooManyJobs, api.CodeNoResources, api.CodeShuttingDown, api.CodeTooManyRequests:
		// Each passes: a caller may try again.
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	switch code {
	case api.CodeQueueFull:
		msg = "the job queue is full: try again shortly"
	case api.CodeNoResources:
		msg = "the server has run out of " + resourceError(err) + ": try again shortly"
	case api.CodeStoreUnavailable:
		// The log has the detail; the caller can do nothing about it.
		msg = "the server cannot record jobs: its job store or data directory is unavailable; tell the server's operator"
	case api.CodeShuttingDown:
		msg = "the server is shutting down"
	case api.CodeJobsDirUnavailable:
		// The log has the path; the caller can do nothing about it.
		msg = "the server's jobs directory is missing or cannot be opened: tell the server's operator"
	case api.CodeBodyTooLarge:
		msg = "request body is larger than 64 KiB"
	case api.CodeInternal:
		// The log has the detail; the caller gets no internals.
		msg = "internal error: see the server log"
	}
	writeJSON(w, status, api.Error{Error: msg, Code: code})
}

// setContentType sets the type of a response, and tells browsers not to
// guess another.
func setContentType(w http.ResponseWriter, typ string) {
	h := w.Header()
	if typ == jsonType[0] {
		h["Content-Type"] = jsonType
	} else {
		h["Content-Type"] = []string{typ}
	}
	h["X-Content-Type-Options"] = nosniff
}

// The values of the headers every JSON answer has, made once: a header's
// values are only read, and net/http copies them for each response.
var (
	jsonType = []string{"application/json"}
	nosniff  = []string{"nosniff"}
)

// writeJSON writes v with encoding/json; a job goes through writeJob,
// which falls back to this for a job appendJob cannot write.
func writeJSON(w http.ResponseWriter, status int, v any) {
	setContentType(w, "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Job output is text for people and scripts; < and > need no escaping
	// in an application/json body.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeJob is writeJSON of a job, which it writes with appendJob; taking
// the job as it is, not in an interface, spares copying it to the heap.
func writeJob(w http.ResponseWriter, status int, j api.Job) {
	bp := jobBuffers.Get().(*[]byte)
	b, ok := appendJob((*bp)[:0], &j)
	if !ok {
		jobBuffers.Put(bp)
		writeJSON(w, status, j)
		return
	}
	setContentType(w, "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBuffer {
		*bp = b
		jobBuffers.Put(bp)
	}
}
