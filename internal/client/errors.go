package client

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/pki"
)

// Sentinels for the server's answers; an *Error matches the one of its
// status with errors.Is.
var (
	ErrBadRequest      = errors.New("bad request")
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	ErrNotFound        = errors.New("not found")
	// ErrNoSuchFile is the not found of a start whose file is not in the
	// jobs directory; it matches ErrNotFound too.
	ErrNoSuchFile    = errors.New("no such file in the jobs directory")
	ErrConflict      = errors.New("conflict with the job's state")
	ErrTooMany       = errors.New("too many requests")
	ErrUnprocessable = errors.New("unprocessable request")
	ErrQueueFull     = errors.New("queue full")
	ErrUnavailable   = errors.New("server unavailable")
)

// Sentinels for failures before any answer, saying which side is wrong.
var (
	// ErrUnreachable: no connection to the server: the TCP connection or
	// the TLS handshake failed, or did not complete in time.
	ErrUnreachable = errors.New("server unreachable")
	// ErrTimeout: the connection was made, but the answer did not come
	// before the request's deadline. The server may be busy, or the
	// deadline too short for what was asked.
	ErrTimeout = errors.New("request timed out")
	// ErrServerCertificate: the server's certificate is not signed by our
	// server CA, or not valid for the name we dialed.
	ErrServerCertificate = errors.New("server certificate not trusted")
	// ErrClientRefused: the server refused the handshake, which means it
	// refused our certificate (or our TLS version or suite).
	ErrClientRefused = errors.New("server refused our certificate")
)

// Error is an error answer of the server.
type Error struct {
	Status int
	// Code and Message are the body's code and error.
	Code    string
	Message string
	// RetryAfter is the server's Retry-After, if any.
	RetryAfter time.Duration
	// RequestID is the server's id of the request (X-Request-Id), which
	// its log lines carry.
	RequestID string
}

func (e *Error) Error() string {
	if e.Status >= 500 && e.RequestID != "" {
		// The server's fault: the id lets its operator find the log line.
		return fmt.Sprintf("%s (HTTP %d, request %s)", e.Message, e.Status, e.RequestID)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// Is matches the sentinel of e's status: the one place where HTTP statuses
// become Go errors.
func (e *Error) Is(target error) bool {
	switch e.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusMethodNotAllowed:
		return target == ErrBadRequest
	case http.StatusUnauthorized:
		return target == ErrUnauthenticated
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusNotFound:
		return target == ErrNotFound || (target == ErrNoSuchFile && e.Code == api.CodeNoSuchFile)
	case http.StatusConflict:
		return target == ErrConflict
	case http.StatusTooManyRequests:
		return target == ErrTooMany
	case http.StatusUnprocessableEntity:
		return target == ErrUnprocessable
	case http.StatusServiceUnavailable:
		if e.Code == api.CodeQueueFull {
			return target == ErrQueueFull
		}
		return target == ErrUnavailable
	}
	return false
}

// readError turns a non-200 response into an *Error.
func readError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var body api.Error
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err == nil && body.Error != "" {
		e.Code, e.Message = body.Code, body.Error
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// transportError wraps a failure to get an answer in the sentinel that says
// which side is wrong. connected says whether the request had a connection
// (a handshake completed): a deadline before that means the server could
// not be reached, after it that the answer was late.
func transportError(server string, err error, connected bool) error {
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalidErr x509.CertificateInvalidError
	var opErr *net.OpError
	switch {
	case errors.As(err, &hostErr) && hostErr.Certificate != nil:
		return fmt.Errorf("%w: its certificate is not valid for %q (it is for %v): %v", ErrServerCertificate, hostErr.Host, pki.CertNames(hostErr.Certificate), err)
	case errors.As(err, &authErr):
		return fmt.Errorf("%w: %s's certificate is not signed by our server CA", ErrServerCertificate, server)
	case errors.As(err, &invalidErr):
		return fmt.Errorf("%w: %v", ErrServerCertificate, invalidErr)
	case errors.Is(err, pki.ErrSuite):
		return fmt.Errorf("%w: %v", ErrClientRefused, err)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// A TLS alert from the server during or right after the
		// handshake: it did not accept what we presented.
		return fmt.Errorf("%w: %v", ErrClientRefused, opErr.Err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, server, opErr.Err)
	case errors.Is(err, context.DeadlineExceeded) && connected:
		return fmt.Errorf("%w: %s did not answer before the deadline", ErrTimeout, server)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: no connection to %s before the deadline (no TCP connection, or no TLS handshake)", ErrUnreachable, server)
	}
	return err
}
