//go:build linux

package server_test

import (
	"net/http"
	"testing"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// TestVersion asks a real server its version with every role, and without
// a token.
func TestVersion(t *testing.T) {
	s := testenv.Serve(t, worker.Config{}, func(c *server.RunConfig) { c.Version = "v1.2.3" })
	ids := []testenv.Identity{s.IDs["alice"], s.IDs["bob"], s.Issue(t, "prom", "monitor")}
	for _, id := range ids {
		r := s.Call(t, id, "GET", api.PathVersion, "")
		var v api.Version
		r.Decode(t, &v)
		if r.Status != http.StatusOK || v.Version != "v1.2.3" {
			t.Errorf("%s: %d %s, want 200 and v1.2.3", id.Name, r.Status, r.Body)
		}
	}
	if r := s.Call(t, s.IDs["bob"], "GET", api.PathVersion, "", ""); r.Status != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", r.Status)
	}
	if r := s.Call(t, s.IDs["bob"], "POST", api.PathVersion, "{}"); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", r.Status)
	}
}
