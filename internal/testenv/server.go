//go:build linux

package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
)

// Server is a real rw server on a loopback port, run by server.Run as
// 'rw serve' runs it, with a PKI of its own.
type Server struct {
	*PKI
	// Addr is the HOST:PORT the server listens on.
	Addr string
	// Pool is the server's worker pool, for tests that wait on jobs.
	Pool *worker.Pool
	// Logs is the server's log.
	Logs *Log
	// DataDir is the pool's data directory: its job store and output.
	DataDir string

	signals chan os.Signal
	cancel  context.CancelFunc // ends Run's context
	ran     chan error         // Run's result, once
	err     error
	stopped bool
}

// Serve starts a server with the pool configured by cfg (a jobs directory
// from JobsDir and a data directory of the test's unless set) and opts
// applied to the rest of its configuration. The test's cleanup stops it.
func Serve(t testing.TB, cfg worker.Config, opts ...func(*server.RunConfig)) *Server {
	t.Helper()
	p := NewPKI(t)
	if cfg.JobsDir == "" {
		cfg.JobsDir = JobsDir(t)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	tlsCfg, err := pki.LoadServerTLS(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{PKI: p, Logs: &Log{}, DataDir: cfg.DataDir, signals: make(chan os.Signal, 2), ran: make(chan error, 1)}
	type ready struct {
		addr net.Addr
		pool *worker.Pool
	}
	readyc := make(chan ready, 1)
	rc := server.RunConfig{
		Addr:     "127.0.0.1:0",
		TLS:      tlsCfg,
		TokenKey: &p.TokenKey.PublicKey,
		Pool:     cfg,
		Log:      zerolog.New(s.Logs),
		Signals:  s.signals,
		Ready:    func(addr net.Addr, pool *worker.Pool) { readyc <- ready{addr, pool} },
	}
	for _, o := range opts {
		o(&rc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.ran <- server.Run(ctx, rc) }()
	select {
	case r := <-readyc:
		s.Addr, s.Pool = r.addr.String(), r.pool
	case err := <-s.ran:
		cancel()
		t.Fatalf("server.Run: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("server.Run: %v", err)
		}
	})
	return s
}

// Signal delivers SIGINT to the server as the process would: the first
// begins the shutdown, the second kills the jobs. Signals past the second
// are dropped, as the server no longer counts them.
func (s *Server) Signal() {
	select {
	case s.signals <- syscall.SIGINT:
	default:
	}
}

// SignalAgain delivers a second SIGINT that counts as one: it waits until
// the server has taken the first and server.SignalWindow has passed since,
// as signals closer together count as one.
func (s *Server) SignalAgain(t testing.TB) {
	t.Helper()
	s.Logs.WaitFor(t, `"message":"first signal`)
	time.Sleep(server.SignalWindow + 100*time.Millisecond)
	s.Signal()
}

// Stop shuts the server down as the end of its context does, waits until
// Run has returned (every job stopped) and returns Run's error. Later calls
// return the same error.
func (s *Server) Stop() error {
	if !s.stopped {
		s.stopped = true
		s.cancel()
		select {
		case s.err = <-s.ran:
		case <-time.After(2 * time.Minute):
			s.err = fmt.Errorf("the server did not stop in 2 minutes")
		}
	}
	return s.err
}

// Recorded returns job id as the server left it in its store, for a test
// to check after Stop: a stopped server's pool no longer answers.
func (s *Server) Recorded(t testing.TB, id int64) worker.Snapshot {
	t.Helper()
	pool, err := worker.New(worker.Config{JobsDir: t.TempDir(), DataDir: s.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Shutdown(context.Background())
	snap, err := pool.Query(id)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// Client returns an HTTP client that presents id's certificate over a
// keep-alive connection of its own, HTTP/1.1 only as the server speaks.
func (s *Server) Client(t testing.TB, id Identity) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: s.ClientTLS(t, id), ForceAttemptHTTP2: false}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// Response is what a test reads of an answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode reads the body as JSON into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Call sends a request as id, with id's token as the bearer token unless
// authorization is given ("" for no Authorization header at all).
func (s *Server) Call(t testing.TB, id Identity, method, path, body string, authorization ...string) Response {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+s.Addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(authorization) > 0 {
		if authorization[0] != "" {
			req.Header.Set("Authorization", authorization[0])
		}
	} else {
		req.Header.Set("Authorization", "Bearer "+id.Token)
	}
	resp, err := s.Client(t, id).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// StartJob starts path with args as id and returns the job's id.
func (s *Server) StartJob(t testing.TB, id Identity, path string, args ...string) int64 {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"filePath": path, "args": args})
	r := s.Call(t, id, "POST", "/start", string(b))
	if r.Status != http.StatusOK {
		t.Fatalf("start %s: %d %s", path, r.Status, r.Body)
	}
	var j struct{ ID int64 }
	r.Decode(t, &j)
	return j.ID
}

// Wait waits, at most a minute, until job is final and returns it.
func (s *Server) Wait(t testing.TB, job int64) worker.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := s.Pool.Wait(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// ClientFiles returns the paths of a generated user's certificate, key and
// token.
func (p *PKI) ClientFiles(user string) (cert, key, token string) {
	cert, key, token = pki.ClientFiles(user)
	return filepath.Join(p.Dir, cert), filepath.Join(p.Dir, key), filepath.Join(p.Dir, token)
}
