//go:build linux

package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/auth"
	"github.com/rw-project/rw/pki"
)

// caller is what the middleware learned about a request.
type caller struct {
	id       string
	identity pki.Identity
	// readBy is when the whole request must have been read.
	readBy time.Time
	// gone is set when the request failed because its client went away
	// (its context ended while the server was not stopping).
	gone bool
}

// ServeHTTP authenticates every request, then routes it. Authentication
// comes first, so that a caller without credentials learns nothing, not
// even which paths exist.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The recorder and the caller in one allocation.
	x := &struct {
		rec recorder
		c   caller
	}{recorder{ResponseWriter: w}, caller{id: requestID(), readBy: start.Add(s.readTimeout)}}
	rec, c := &x.rec, &x.c
	// Header keys set directly are in canonical form already.
	rec.Header()["X-Request-Id"] = []string{c.id}
	defer func() {
		took := time.Since(start)
		status := rec.status()
		if c.gone {
			// The 503 was written to nobody: say what happened, as
			// nginx does, instead of a shutdown that is not one.
			status = statusClientGone
		}
		e := s.log.Info().
			Str("rid", c.id).
			Str("user", c.identity.User).
			Str("method", r.Method).
			Str("path", r.URL.RequestURI()).
			Int("status", status).
			Dur("duration_ms", took).
			Int64("bytes", rec.bytes)
		if c.gone {
			e = e.Bool("client_gone", true)
		}
		e.Msg("request")
		endpoint := "other"
		if _, ok := s.routes[r.URL.Path]; ok {
			endpoint = r.URL.Path
		}
		s.metrics.observeRequest(endpoint, status, took)
	}()
	// A bound on writing the response; the log stream replaces it with one
	// per write.
	_ = http.NewResponseController(rec).SetWriteDeadline(time.Now().Add(s.writeTimeout))

	if err := s.authenticate(r, c); err != nil {
		s.log.Warn().Str("rid", c.id).Str("peer", r.RemoteAddr).Str("cert_cn", peerName(r)).Err(err).Msg("authentication failed")
		s.metrics.authFailures.WithLabelValues(authReason(err)).Inc()
		writeUnauthenticated(rec, err)
		return
	}
	if err := s.limits.claimConn(r.Context(), c.identity.User); err != nil {
		if s.refusedLog.allow() {
			s.log.Warn().Str("rid", c.id).Str("user", c.identity.User).Int("max_conns_per_user", s.limits.maxConns).
				Msg("refused a request: its user holds as many connections as one user may")
		}
		s.metrics.refused.WithLabelValues("conns_per_user").Inc()
		// The connection is not counted, so it must not stay open.
		rec.Header().Set("Connection", "close")
		writeError(rec, err)
		return
	}
	// The grace period tells a client how long POST /stop may take, so
	// that it can wait that long and no longer; only callers who proved who
	// they are learn it.
	rec.Header()[api.HeaderStopTimeout] = s.stopHeader
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		writeError(rec, &apiError{http.StatusNotFound, api.CodeNotFound, "no such endpoint " + r.URL.Path + ": the API has /start, /stop, /query, /logs and /remove"})
		return
	}
	if r.Method != rt.method {
		rec.Header().Set("Allow", rt.method)
		writeError(rec, &apiError{http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, r.URL.Path + " takes " + rt.method + ", not " + r.Method})
		return
	}
	rt.handler(rec, r, c)
}

// sessionKey is the context key of a connection's auth.Session.
type sessionKey struct{}

// connContext gives each new connection its place in its user's count and
// a session that remembers its last token; http.Server calls it before
// the handshake.
func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(s.limits.connContext(ctx, c), sessionKey{}, new(auth.Session))
}

func (s *Server) authenticate(r *http.Request, c *caller) error {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return auth.ErrNoCertificate
	}
	// Without a session (a handler test), every request uses the cache.
	session, _ := r.Context().Value(sessionKey{}).(*auth.Session)
	id, err := s.authn.IdentifyIn(session, r.Header.Get("Authorization"), r.TLS.VerifiedChains[0][0])
	if err != nil {
		return err
	}
	c.identity = id
	return nil
}

// writeUnauthenticated answers 401 with the challenge of RFC 6750: a request
// without a bearer token gets the bare challenge, one whose token failed a
// check gets error="invalid_token" as well.
func writeUnauthenticated(w http.ResponseWriter, err error) {
	challenge := `Bearer realm="rw"`
	if !errors.Is(err, auth.ErrNoToken) {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, &apiError{http.StatusUnauthorized, api.CodeUnauthenticated, err.Error()})
}

func peerName(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].Subject.CommonName
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder remembers the status and size of a response for the access log.
// Unwrap lets http.ResponseController reach the connection's deadlines and
// flushing through it.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
