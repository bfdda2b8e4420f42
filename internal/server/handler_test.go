//go:build linux

package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// fakePool is a Pool with two jobs: 1 owned by alice, 2 by bob. It records
// what was started and stopped.
type fakePool struct {
	started []worker.Spec
	stopped []int64
	removed []int64
	scanErr error // what Scan fails with, after the jobs
}

func (p *fakePool) snap(id int64) (worker.Snapshot, error) {
	owners := map[int64]string{1: "alice", 2: "bob"}
	owner, ok := owners[id]
	if !ok {
		return worker.Snapshot{}, fmt.Errorf("job %d: %w", id, worker.ErrNotFound)
	}
	return worker.Snapshot{ID: id, Owner: owner, Path: "x", Status: worker.StatusRunning, CreatedAt: time.Now()}, nil
}

func (p *fakePool) Start(spec worker.Spec) (int64, error) {
	p.started = append(p.started, spec)
	return 1, nil
}
func (p *fakePool) WaitStarted(_ context.Context, id int64) (worker.Snapshot, error) {
	return p.snap(id)
}
func (p *fakePool) StopWithin(_ context.Context, id int64, _ time.Duration) (worker.Snapshot, error) {
	p.stopped = append(p.stopped, id)
	return p.snap(id)
}
func (p *fakePool) Query(id int64) (worker.Snapshot, error) { return p.snap(id) }
func (p *fakePool) Stats() worker.Stats                     { return worker.Stats{Running: 2} }
func (p *fakePool) Writable() error                         { return nil }
func (p *fakePool) Remove(id int64) error {
	p.removed = append(p.removed, id)
	return nil
}
func (p *fakePool) Scan(after int64, fn func(worker.Snapshot) bool) error {
	for id := after + 1; id <= 2; id++ {
		s, _ := p.snap(id)
		if !fn(s) {
			break
		}
	}
	return p.scanErr
}
func (p *fakePool) Tail(int64, int64) ([]byte, bool, error) { return []byte("out"), false, nil }
func (p *fakePool) Follow(context.Context, int64, int64, bool) (server.Output, error) {
	return fakeOutput{io.NopCloser(strings.NewReader("out"))}, nil
}

// fakeOutput is an output that skips nothing.
type fakeOutput struct{ io.ReadCloser }

func (fakeOutput) GapAt() int64 { return -1 }

// TestPermissionTable runs every role against every endpoint and owner
// through the real handler, with a fake pool.
func TestPermissionTable(t *testing.T) {
	f := testenv.NewPKI(t)
	ids := map[string]testenv.Identity{"admin": f.IDs["alice"], "user": f.IDs["bob"], "monitor": f.Issue(t, "prom", "monitor"), "unknown role": f.IDs["carol"]}
	endpoints := []struct {
		name         string
		method, path string
		body         string
		onJob        int64 // 0: no job concerned
	}{
		{"start", "POST", "/start", `{"filePath": "x"}`, 0},
		{"list", "GET", "/query", "", 0},
		{"query alice's job", "GET", "/query?id=1", "", 1},
		{"query bob's job", "GET", "/query?id=2", "", 2},
		{"stop alice's job", "POST", "/stop", `{"id": 1}`, 1},
		{"stop bob's job", "POST", "/stop", `{"id": 2}`, 2},
		{"logs of alice's job", "GET", "/logs?id=1", "", 1},
		{"logs of bob's job", "GET", "/logs?id=2", "", 2},
		{"query a missing job", "GET", "/query?id=3", "", 3},
		{"stop a missing job", "POST", "/stop", `{"id": 3}`, 3},
		{"remove alice's job", "POST", "/remove", `{"id": 1}`, 1},
		{"remove bob's job", "POST", "/remove", `{"id": 2}`, 2},
		{"metrics", "GET", "/metrics", "", 0},
		{"health", "GET", "/healthz", "", 0},
	}
	// want[role][endpoint]: alice is the admin, bob the user.
	want := map[string][]int{
		"admin": {200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 200, 200, 200, 200},
		"user":  {200, 200, 404, 200, 404, 200, 404, 200, 404, 404, 404, 200, 403, 200},
		// A scraper reads metrics and health, and nothing else.
		"monitor": {403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200},
		// Refused before any lookup: a denied role cannot probe for ids.
		"unknown role": {403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403},
	}
	for role, id := range ids {
		for i, ep := range endpoints {
			t.Run(role+"/"+ep.name, func(t *testing.T) {
				pool := &fakePool{}
				s := server.New(server.Config{Pool: pool, TokenKey: &f.TokenKey.PublicKey, Log: zerolog.Nop()})
				req := httptest.NewRequest(ep.method, ep.path, strings.NewReader(ep.body))
				req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{id.Leaf()}}}
				req.Header.Set("Authorization", "Bearer "+id.Token)
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if rec.Code != want[role][i] {
					t.Fatalf("status %d, want %d: %s", rec.Code, want[role][i], rec.Body)
				}
				// A refused call must not reach the pool.
				if rec.Code != 200 && (len(pool.started) > 0 || len(pool.stopped) > 0 || len(pool.removed) > 0) {
					t.Errorf("refused call reached the pool: started %v stopped %v removed %v", pool.started, pool.stopped, pool.removed)
				}
				if ep.name == "start" && rec.Code == 200 && pool.started[0].Owner != id.Name {
					t.Errorf("job started for %q, want the caller %q", pool.started[0].Owner, id.Name)
				}
			})
		}
	}
}

// TestListStoreFailure checks that a job store failing before any of the
// list has left the server is answered with its own status, 503
// store_unavailable, not a 200 cut short.
func TestListStoreFailure(t *testing.T) {
	f := testenv.NewPKI(t)
	s := server.New(server.Config{Pool: &fakePool{scanErr: fmt.Errorf("read: %w", worker.ErrStorage)}, TokenKey: &f.TokenKey.PublicKey, Log: zerolog.Nop()})
	req := httptest.NewRequest("GET", "/query", nil)
	req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{f.IDs["alice"].Leaf()}}}
	req.Header.Set("Authorization", "Bearer "+f.IDs["alice"].Token)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), api.CodeStoreUnavailable) {
		t.Fatalf("list with a failing store: %d %s, want 503 %s", rec.Code, rec.Body, api.CodeStoreUnavailable)
	}
}

func TestNoCertificateIsUnauthenticated(t *testing.T) {
	f := testenv.NewPKI(t)
	s := server.New(server.Config{Pool: &fakePool{}, TokenKey: &f.TokenKey.PublicKey, Log: zerolog.Nop()})
	req := httptest.NewRequest("GET", "/query", nil)
	req.Header.Set("Authorization", "Bearer "+f.IDs["alice"].Token)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("request without TLS: %d", rec.Code)
	}
}
func (p *fakePool) Files(int) ([]worker.File, bool, error) { return nil, false, nil }
