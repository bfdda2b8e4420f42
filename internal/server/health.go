//go:build linux

package server

import (
	"net/http"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/auth"
)

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := mayDo(c, auth.ActionMetrics); err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.metrics.Handler().ServeHTTP(w, r)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := mayDo(c, auth.ActionHealth); err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.serveHealth(w, r)
}

// serveHealth answers 200 with the server's health, or 503 while it shuts
// down or cannot record jobs. The metrics listener serves it without
// authentication.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	h := api.Health{Status: "ok", Version: s.version, Uptime: time.Since(s.started).Round(time.Second).String()}
	stats := s.pool.Stats()
	h.Jobs.Running, h.Jobs.Queued = stats.Running, stats.Queued
	status := http.StatusOK
	switch {
	case s.stopping.Load() || stats.Closed:
		h.Status, status = "shutting_down", http.StatusServiceUnavailable
	default:
		if err := s.pool.Writable(); err != nil {
			h.Status, h.Error, status = "unavailable", "the server cannot record jobs: "+err.Error(), http.StatusServiceUnavailable
		}
	}
	writeJSON(w, status, h)
}

// LocalHandler serves /metrics and /healthz without authentication, for a
// listener only local scrapers reach (--metrics-addr).
func (s *Server) LocalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+api.PathMetrics, s.metrics.Handler())
	mux.HandleFunc("GET "+api.PathHealth, s.serveHealth)
	return mux
}
