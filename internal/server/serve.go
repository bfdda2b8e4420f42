//go:build linux

package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// shutdownTimeout bounds how long Serve waits for requests in flight once
// its context ends; streams and stops end at once, so this is generous.
const shutdownTimeout = 10 * time.Second

// Serve answers requests on ln over TLS with tlsCfg until ctx ends, then
// shuts down: it stops accepting, ends the log streams and the stop requests
// in flight, and waits for the handlers, at most shutdownTimeout. Stopping
// the jobs is the pool owner's business, after Serve returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{
		Handler:           s,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// No ReadTimeout or WriteTimeout: both would cut /logs?follow=true
		// streams. Bodies get a read deadline where they are read, and
		// responses a write deadline per request or per streamed write.
		BaseContext: func(net.Listener) context.Context { return base },
		// HTTP/1.1 only: one request per connection at a time keeps the
		// per-request deadlines exact and streaming plain.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     log.New(newErrorLogWriter(s.log), "", 0),
		ConnContext:  s.connContext,
		ConnState: func(c net.Conn, state http.ConnState) {
			s.metrics.connState(c, state)
			s.limits.connState(c, state)
		},
	}
	if s.maxConns > 0 {
		ln = s.limitConns(ln)
	}
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Health says so from now, not once Shutdown has drained the
	// connections, which may take shutdownTimeout.
	s.stopping.Store(true)
	// Ending the base context ends every follow stream and every stop in
	// flight, so Shutdown does not wait for jobs.
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		err = errors.Join(err, hs.Close())
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// limitConns bounds the connections open at once on ln to s.maxConns,
// counting and logging those it refuses (at most logBurst lines per
// logWindow).
func (s *Server) limitConns(ln net.Listener) net.Listener {
	limit := &logLimit{log: s.log, source: "listener", what: "refused connections", now: time.Now}
	return newLimitListener(ln, s.maxConns, func() {
		s.metrics.refused.WithLabelValues("conns").Inc()
		if limit.allow() {
			s.log.Warn().Int("max_conns", s.maxConns).
				Msg("refused a connection before its handshake: --max-conns connections are open already")
		}
	})
}

// errorLogWriter sends net/http's own messages (TLS handshake failures,
// mostly) to the structured log, at most logBurst of them per logWindow: a
// flood of bad connections must not flood the log.
type errorLogWriter struct {
	log   zerolog.Logger
	limit logLimit
}

// The rate limit of net/http's messages, and of refused connections.
const (
	logWindow = 10 * time.Second
	logBurst  = 20
)

func newErrorLogWriter(log zerolog.Logger) *errorLogWriter {
	return &errorLogWriter{log: log, limit: logLimit{log: log, source: "http", what: "messages of net/http", now: time.Now}}
}

func (w *errorLogWriter) Write(p []byte) (int, error) {
	if w.limit.allow() {
		w.log.Warn().Str("source", "http").Msg(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// logLimit lets through at most logBurst messages of one source per
// logWindow. The first message past a window that dropped some says how
// many were dropped, as journald's rate limit does.
type logLimit struct {
	log    zerolog.Logger
	source string // the log field source of the dropped line
	what   string // what was dropped, in the dropped line's message
	now    func() time.Time

	mu      sync.Mutex
	start   time.Time // of the current window
	logged  int       // in the current window
	dropped int       // in the current window
}

// allow reports whether a message may be logged now, having logged first
// how many the last window dropped, if any.
func (l *logLimit) allow() bool {
	now := l.now()
	l.mu.Lock()
	dropped := 0
	if now.Sub(l.start) >= logWindow {
		dropped = l.dropped
		l.start, l.logged, l.dropped = now, 0, 0
	}
	keep := l.logged < logBurst
	if keep {
		l.logged++
	} else {
		l.dropped++
	}
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Warn().Str("source", l.source).Int("dropped", dropped).Dur("window_ms", logWindow).
			Msg("more " + l.what + " were dropped from the log: too many in too short a time")
	}
	return keep
}
