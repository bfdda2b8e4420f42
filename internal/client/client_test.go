//go:build linux

package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is a PKI and a real server on loopback.
type env struct {
	dir  string
	addr string
}

// newEnv starts a real server (testenv's jobs and users) whose grace
// period between SIGTERM and SIGKILL is grace (the worker's default if
// zero).
func newEnv(t *testing.T, grace time.Duration) *env {
	t.Helper()
	s := testenv.Serve(t, worker.Config{StopTimeout: grace})
	// Two signals, as a second Ctrl-C: a job that ignores SIGTERM is
	// killed at once rather than after a grace period that may be long.
	t.Cleanup(func() { s.Signal(); s.Signal() })
	return &env{dir: s.Dir, addr: s.Addr}
}

// client returns a client for user, trusting caFile as the server CA.
func (e *env) client(t *testing.T, user, server, caFile string) *Client {
	t.Helper()
	c, err := New(e.config(t, user, server, caFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// config is the configuration of a client for user, trusting caFile as the
// server CA.
func (e *env) config(t *testing.T, user, server, caFile string) Config {
	t.Helper()
	certPath, keyPath, tokenPath := pki.ClientFiles(user)
	tlsCfg, err := pki.LoadClientTLS(filepath.Join(e.dir, certPath), filepath.Join(e.dir, keyPath), filepath.Join(e.dir, caFile))
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(e.dir, tokenPath))
	if err != nil {
		t.Fatal(err)
	}
	return Config{Server: server, TLS: tlsCfg, Token: strings.TrimSpace(string(token)), DialTimeout: 5 * time.Second}
}

func (e *env) port() string { return e.addr[strings.LastIndexByte(e.addr, ':')+1:] }

func TestClientFlow(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client(t, "alice", "localhost:"+e.port(), pki.ServerCACert)
	ctx := context.Background()
	job, err := c.Start(ctx, "echo.sh", []string{"a b", "--x"}, StartOptions{})
	if err != nil || job.ID != 1 {
		t.Fatalf("Start: %+v, %v", job, err)
	}
	logs, err := c.Logs(ctx, job.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(logs)
	logs.Close()
	if err != nil || string(out) != "a b\n--x\n" {
		t.Errorf("Logs: %q, %v", out, err)
	}
	job, err = c.Query(ctx, job.ID)
	if err != nil || job.Status != "finished" {
		t.Errorf("Query: %+v, %v", job, err)
	}
	jobs, err := c.List(ctx)
	if err != nil || len(jobs) != 1 {
		t.Errorf("List: %+v, %v", jobs, err)
	}
	job, err = c.Stop(ctx, job.ID, 5*time.Second, StopOptions{})
	if err != nil || job.Status != "finished" {
		t.Errorf("Stop: %+v, %v", job, err)
	}
}

func TestClientErrors(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	alice := e.client(t, "alice", "localhost:"+e.port(), pki.ServerCACert)
	bob := e.client(t, "bob", "localhost:"+e.port(), pki.ServerCACert)
	if _, err := alice.Start(ctx, "echo.sh", nil, StartOptions{}); err != nil {
		t.Fatal(err)
	}

	_, err := bob.Query(ctx, 1)
	var apiErr *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &apiErr) || !strings.Contains(apiErr.Message, "no job 1") {
		t.Errorf("bob queries alice's job: %v", err)
	}
	if _, err := alice.Start(ctx, "missing.sh", nil, StartOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("start missing: %v", err)
	}
	if _, err := alice.Start(ctx, "../x", nil, StartOptions{}); !errors.Is(err, ErrUnprocessable) {
		t.Errorf("start outside: %v", err)
	}

	// A token that does not match the certificate: 401 with the reason.
	certPath, keyPath, _ := pki.ClientFiles("alice")
	tlsCfg, _ := pki.LoadClientTLS(filepath.Join(e.dir, certPath), filepath.Join(e.dir, keyPath), filepath.Join(e.dir, pki.ServerCACert))
	bobToken, _ := os.ReadFile(filepath.Join(e.dir, "clients", "bob.jwt"))
	wrong, _ := New(Config{Server: e.addr, TLS: tlsCfg, Token: strings.TrimSpace(string(bobToken))})
	defer wrong.Close()
	_, err = wrong.List(ctx)
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "does not match the client certificate") {
		t.Errorf("wrong token: %v", err)
	}

	// Trusting the wrong CA for the server.
	if _, err := e.client(t, "alice", e.addr, pki.ClientCACert).List(ctx); !errors.Is(err, ErrServerCertificate) {
		t.Errorf("wrong server CA: %v", err)
	}

	// A name the server's certificate does not have.
	tlsCfg.ServerName = "rw.example.com"
	named, _ := New(Config{Server: e.addr, TLS: tlsCfg, Token: "x"})
	defer named.Close()
	if _, err := named.List(ctx); !errors.Is(err, ErrServerCertificate) || !strings.Contains(err.Error(), "not valid for") {
		t.Errorf("wrong name: %v", err)
	}

	// A certificate from another PKI: the server refuses it.
	other := t.TempDir()
	if _, err := pki.Generate(pki.GenerateOptions{Dir: other, Users: []pki.UserSpec{{Name: "alice", Role: pki.RoleAdmin}}}); err != nil {
		t.Fatal(err)
	}
	foreign, err := tls.LoadX509KeyPair(filepath.Join(other, certPath), filepath.Join(other, keyPath))
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := pki.LoadPool(filepath.Join(e.dir, pki.ServerCACert))
	refused, _ := New(Config{Server: e.addr, TLS: pki.NewClientTLS(foreign, pool), Token: "x"})
	defer refused.Close()
	if _, err := refused.List(ctx); !errors.Is(err, ErrClientRefused) {
		t.Errorf("foreign client certificate: %v", err)
	}

	// Nobody listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	if _, err := e.client(t, "alice", closed, pki.ServerCACert).List(ctx); !errors.Is(err, ErrUnreachable) {
		t.Errorf("closed port: %v", err)
	}
	if _, err := New(Config{Server: "no-port", TLS: tlsCfg}); err == nil {
		t.Error("address without port accepted")
	}
}

func TestServerErrorsCarryTheRequestID(t *testing.T) {
	e := &Error{Status: 503, Message: "the server cannot record jobs", RequestID: "8f3a"}
	if got, want := e.Error(), "the server cannot record jobs (HTTP 503, request 8f3a)"; got != want {
		t.Errorf("a server error: %q, want %q", got, want)
	}
	e = &Error{Status: 404, Message: "no job 3", RequestID: "8f3a"}
	if got, want := e.Error(), "no job 3 (HTTP 404)"; got != want {
		t.Errorf("a caller's error: %q, want %q", got, want)
	}
}

// TestEachJobFilters checks that the statuses and the limit asked for
// reach the server, which sends only the jobs they keep.
func TestEachJobFilters(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client(t, "alice", e.addr, pki.ServerCACert)
	ctx := context.Background()
	for _, path := range []string{"echo.sh", "exit3.sh"} {
		job, err := c.Start(ctx, path, nil, StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Following the output to its end waits for the job's end.
		logs, err := c.Logs(ctx, job.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, logs)
		logs.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		statuses []string
		limit    int
		want     []int64
	}{
		{nil, 0, []int64{1, 2}},
		{[]string{"failed"}, 0, []int64{2}},
		{[]string{"finished", "failed"}, 0, []int64{1, 2}},
		{[]string{"running"}, 0, nil},
		// What rw connect asks: one job, whatever the history.
		{nil, 1, []int64{1}},
		{[]string{"failed"}, 1, []int64{2}},
	} {
		for _, brief := range []bool{false, true} {
			var got []int64
			err := c.EachJob(ctx, ListOptions{Tail: 16, Statuses: tc.statuses, Brief: brief, Limit: tc.limit}, func(j api.Job) error {
				got = append(got, j.ID)
				if (j.Owner == "") != brief || j.Output == nil {
					t.Errorf("brief %v: job %+v", brief, j)
				}
				return nil
			})
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("statuses %v, limit %d, brief %v: got %v, %v; want %v", tc.statuses, tc.limit, brief, got, err, tc.want)
			}
		}
	}
}

// TestEachJobFiltersWhatTheServerSends checks that a server that ignores
// status= (one from before it, which sends every job) still gives the
// caller only the statuses it asked for, as rw ls -s did when it filtered
// the list itself.
func TestEachJobFiltersWhatTheServerSends(t *testing.T) {
	p := testenv.NewPKI(t)
	tlsCfg, err := pki.LoadServerTLS(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// The answer such a server gives to GET /query, whatever its query.
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"jobs":[{"id":1,"status":"finished"},{"id":2,"status":"failed"},{"id":3,"status":"running"}]}`)
	}))
	old.TLS = tlsCfg
	old.StartTLS()
	defer old.Close()
	e := &env{dir: p.Dir}
	c := e.client(t, "alice", old.Listener.Addr().String(), pki.ServerCACert)
	for _, tc := range []struct {
		statuses []string
		want     []int64
	}{
		{nil, []int64{1, 2, 3}},
		{[]string{"failed"}, []int64{2}},
		{[]string{"running", "finished"}, []int64{1, 3}},
		{[]string{"queued"}, nil},
	} {
		for _, brief := range []bool{false, true} {
			var got []int64
			err := c.EachJob(context.Background(), ListOptions{Statuses: tc.statuses, Brief: brief}, func(j api.Job) error {
				got = append(got, j.ID)
				return nil
			})
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("statuses %v, brief %v: got %v, %v; want %v", tc.statuses, brief, got, err, tc.want)
			}
		}
	}
}

// TestFollowPastTheCap follows a job that ran past the server's output cap
// before the stream began: the stream says where its gap is, and has the
// kept bytes, then the output the server still holds, live to the end,
// instead of failing for bytes it could never have had.
func TestFollowPastTheCap(t *testing.T) {
	const kept = 64 << 10
	dir := testenv.JobsDir(t)
	flood := filepath.Join(dir, "flood.sh")
	script := "#!/bin/sh\ntrap 'echo after; exit 0' TERM\nhead -c 3000000 /dev/zero\necho waiting\nwhile :; do sleep 0.05; done\n"
	if err := errors.Join(os.WriteFile(flood, []byte(script), 0o755), os.Chmod(flood, 0o755)); err != nil {
		t.Fatal(err)
	}
	s := testenv.Serve(t, worker.Config{MaxOutput: kept, JobsDir: dir})
	t.Cleanup(func() { s.Signal(); s.Signal() })
	e := &env{dir: s.Dir, addr: s.Addr}
	c := e.client(t, "alice", "localhost:"+e.port(), pki.ServerCACert)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := c.Start(ctx, "flood.sh", nil, StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A first follower reads until the job waits, so that everything it
	// wrote has been through the server: 3 MB, well past what the server
	// keeps (64 KiB) and holds in memory (1 MiB).
	first, err := c.Logs(ctx, job.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	var seen []byte
	buf := make([]byte, 64<<10)
	for !bytes.HasSuffix(seen, []byte("waiting\n")) {
		n, err := first.Read(buf)
		seen = append(seen[max(0, len(seen)-16):], buf[:n]...)
		if err != nil {
			t.Fatalf("the first follower: %v before the job waited", err)
		}
	}
	first.Close()

	second, err := c.Logs(ctx, job.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if second.GapAt != kept {
		t.Errorf("GapAt %d, want %d, the bytes kept", second.GapAt, kept)
	}
	head := make([]byte, kept)
	if _, err := io.ReadFull(second, head); err != nil || bytes.Count(head, []byte{0}) != kept {
		t.Fatalf("the kept bytes: %v", err)
	}
	// rw wait follows from the end of what was kept: in the gap.
	none := int64(0)
	waiter, err := c.LogsFrom(ctx, job.ID, LogsOptions{Follow: true, TailBytes: &none})
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	if _, err := c.Stop(ctx, job.ID, time.Minute, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(waiter); err != nil || !bytes.HasSuffix(b, []byte("after\n")) {
		t.Errorf("following from the end of what was kept: %v, ending %q; want the output to its end", err, b[max(0, len(b)-20):])
	}
	rest, err := io.ReadAll(second)
	if err != nil {
		t.Fatalf("after the kept bytes: %v", err)
	}
	// The shell may say that its sleep was terminated before "after".
	i := bytes.Index(rest, []byte("waiting\n"))
	zeros := rest[:max(i, 0)]
	if i < 0 || !bytes.HasSuffix(rest, []byte("after\n")) || bytes.Count(zeros, []byte{0}) != len(zeros) || len(zeros) >= 1<<20 {
		t.Errorf("after the kept bytes: %d bytes ending %q, want at most 1 MiB of zeros, then %q and at the end %q", len(rest), rest[max(0, len(rest)-40):], "waiting\n", "after\n")
	}
}
