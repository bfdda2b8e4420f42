//go:build linux

package server

import (
	"net/http"

	"github.com/rw-project/rw/internal/api"
)

// handleVersion answers the server's version. Every role may ask: the
// middleware has already authenticated the caller, and a client that may
// talk to the server at all needs to know what it talks to.
func (s *Server) handleVersion(w http.ResponseWriter, _ *http.Request, _ *caller) {
	writeJSON(w, http.StatusOK, api.Version{Version: s.version})
}
