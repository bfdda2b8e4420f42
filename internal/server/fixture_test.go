package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// identity is a client's certificate and token.
type identity struct {
	name  string
	cert  tls.Certificate
	token string
}

// fixture is a PKI made for one test, and the identities built from it.
type fixture struct {
	dir      string
	tokenKey *ecdsa.PrivateKey
	tokenPub *ecdsa.PublicKey
	clientCA *pki.Issued
	ids      map[string]identity
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	_, err := pki.Generate(pki.GenerateOptions{Dir: dir, Users: []pki.UserSpec{
		{Name: "alice", Role: pki.RoleAdmin}, {Name: "bob", Role: pki.RoleUser}, {Name: "dave", Role: pki.RoleUser},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, ids: map[string]identity{}}
	if f.tokenKey, err = pki.ReadKey(filepath.Join(dir, pki.TokenKey)); err != nil {
		t.Fatal(err)
	}
	f.tokenPub = &f.tokenKey.PublicKey
	if f.clientCA, err = pki.ReadIssued(filepath.Join(dir, pki.ClientCACert), filepath.Join(dir, pki.ClientCAKey)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob", "dave"} {
		certPath, keyPath, tokenPath := pki.ClientFiles(name)
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certPath), filepath.Join(dir, keyPath))
		if err != nil {
			t.Fatal(err)
		}
		token, err := os.ReadFile(filepath.Join(dir, tokenPath))
		if err != nil {
			t.Fatal(err)
		}
		f.ids[name] = identity{name: name, cert: cert, token: strings.TrimSpace(string(token))}
	}
	// A role this version does not know: authenticated, allowed nothing.
	f.ids["carol"] = f.issue(t, "carol", "auditor")
	return f
}

// issue makes a new client identity signed by the client CA.
func (f *fixture) issue(t testing.TB, name, role string) identity {
	t.Helper()
	leaf, err := f.clientCA.Issue(pki.LeafOptions{CommonName: name, OrganizationalUnit: role, Client: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	token, err := pki.IssueToken(f.tokenKey, leaf.Cert, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return identity{name: name, cert: tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key, Leaf: leaf.Cert}, token: token}
}

func (id identity) leaf() *x509.Certificate {
	if id.cert.Leaf != nil {
		return id.cert.Leaf
	}
	c, _ := x509.ParseCertificate(id.cert.Certificate[0])
	return c
}

// jobsDir makes a jobs directory with the scripts the tests run.
func jobsDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	add, err := os.ReadFile("../../testdata/jobs/add.exe")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]struct {
		body string
		mode os.FileMode
	}{
		"add.exe":     {string(add), 0o755},
		"sleep.sh":    {"#!/bin/sh\necho ready\nexec sleep 600\n", 0o755},
		"slow.sh":     {"#!/bin/sh\necho before\nsleep 0.5\necho after\n", 0o755},
		"exit3.sh":    {"#!/bin/sh\necho failing\nexit 3\n", 0o755},
		"lines.sh":    {"#!/bin/sh\ni=0\nwhile [ $i -lt $1 ]; do echo line $i; i=$((i+1)); sleep 0.01; done\n", 0o755},
		"zeros.sh":    {"#!/bin/sh\nexec head -c \"$1\" /dev/zero\n", 0o755},
		"echo.sh":     {"#!/bin/sh\nprintf '%s\\n' \"$@\"\n", 0o755},
		"notexec.txt": {"#!/bin/sh\necho no\n", 0o644},
	}
	for name, f := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// liveServer is a real server on a loopback port, with a real pool.
type liveServer struct {
	*fixture
	addr string
	pool *worker.Pool
	logs *syncBuffer // the server's log
	stop func()      // ends Serve and shuts the pool down
}

func startServer(t testing.TB, cfg worker.Config, opts ...func(*Config)) *liveServer {
	t.Helper()
	f := newFixture(t)
	if cfg.JobsDir == "" {
		cfg.JobsDir = jobsDir(t)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	pool, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := pki.LoadServerTLS(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	scfg := Config{Pool: PoolOf(pool), TokenKey: f.tokenPub, Log: zerolog.New(logs), StopTimeout: cfg.StopTimeout}
	for _, o := range opts {
		o(&scfg)
	}
	srv := New(scfg)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, tlsCfg) }()
	stopped := false
	ls := &liveServer{fixture: f, addr: ln.Addr().String(), pool: pool, logs: logs}
	ls.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		if err := pool.Shutdown(sctx); err != nil {
			t.Errorf("pool shutdown: %v", err)
		}
	}
	t.Cleanup(ls.stop)
	return ls
}

// client returns an HTTP client that presents id's certificate.
func (s *liveServer) client(t testing.TB, id identity) *http.Client {
	t.Helper()
	pool, err := pki.LoadPool(filepath.Join(s.dir, pki.ServerCACert))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: pki.NewClientTLS(id.cert, pool), ForceAttemptHTTP2: false}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// response is what a test reads of an answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// call sends a request as id, with id's token unless auth is given.
func (s *liveServer) call(t testing.TB, id identity, method, path, body string, auth ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(auth) > 0 {
		if auth[0] != "" {
			req.Header.Set("Authorization", auth[0])
		}
	} else {
		req.Header.Set("Authorization", "Bearer "+id.token)
	}
	resp, err := s.client(t, id).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *liveServer) startJob(t testing.TB, id identity, path string, args ...string) int64 {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"filePath": path, "args": args})
	r := s.call(t, id, "POST", "/start", string(b))
	if r.status != http.StatusOK {
		t.Fatalf("start %s: %d %s", path, r.status, r.body)
	}
	var j struct{ ID int64 }
	r.decode(t, &j)
	return j.ID
}

func (s *liveServer) wait(t testing.TB, id int64) worker.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := s.pool.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func idPath(path string, id int64) string { return fmt.Sprintf("%s?id=%d", path, id) }

// syncBuffer is a log sink that tests can read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLog waits until the server's log has a line holding every one of
// parts, and returns it.
func (s *liveServer) waitLog(t testing.TB, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return line
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in:\n%s", parts, s.logs.String())
	return ""
}
