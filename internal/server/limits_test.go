//go:build linux

package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// limitedServer serves with the given bounds and a local metrics listener,
// whose address it returns: scrapes there hold no connection of a user.
func limitedServer(t *testing.T, maxConns, perUser, streams int) (*testenv.Server, string) {
	t.Helper()
	local := freeAddr(t)
	s := testenv.Serve(t, worker.Config{}, func(c *server.RunConfig) {
		c.MaxConns, c.MaxConnsPerUser, c.MaxStreamsPerUser = maxConns, perUser, streams
		c.MetricsAddr = local
	})
	return s, local
}

// localMetric reads one metric from the local listener.
func localMetric(t *testing.T, local, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + local + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return metricValue(parseMetrics(t, b), name, labels)
}

// eventually waits, at most 30 seconds, until cond holds: the server
// learns that a client went away only when its connection's read ends.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantTooMany checks that r is 429 too_many_requests with a Retry-After.
func wantTooMany(t *testing.T, what string, r testenv.Response) {
	t.Helper()
	var e api.Error
	r.Decode(t, &e)
	if r.Status != http.StatusTooManyRequests || e.Code != "too_many_requests" || r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: %d %s (Retry-After %q), want 429 too_many_requests with Retry-After", what, r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}

// TestFollowStreamsPerUser checks --max-streams-per-user: a user's follower
// past the bound gets 429 while another user's follow and the user's own
// other requests succeed; a stream that ends gives its place back, and the
// count is zero once every stream is gone.
func TestFollowStreamsPerUser(t *testing.T) {
	s, local := limitedServer(t, 0, server.DefaultMaxConnsPerUser, server.DefaultMaxStreamsPerUser)
	bob, alice := s.IDs["bob"], s.IDs["alice"]
	job := s.StartJob(t, bob, "sleep.sh")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancels := make([]context.CancelFunc, server.DefaultMaxStreamsPerUser)
	for i := range cancels {
		var sctx context.Context
		sctx, cancels[i] = context.WithCancel(ctx)
		resp := openLogs(t, sctx, s, bob, job, true)
		defer resp.Body.Close()
	}
	follow := idPath("/logs", job) + "&follow=true"
	wantTooMany(t, fmt.Sprintf("follower %d of bob", server.DefaultMaxStreamsPerUser+1), s.Call(t, bob, "GET", follow, ""))
	if got := localMetric(t, local, "rw_limit_refusals_total", map[string]string{"limit": "streams_per_user"}); got != 1 {
		t.Errorf("refusals of streams: %v, want 1", got)
	}
	// Another user follows; bob may still do everything else.
	other := openLogs(t, ctx, s, alice, job, true)
	other.Body.Close()
	if r := s.Call(t, bob, "GET", idPath("/query", job), ""); r.Status != http.StatusOK {
		t.Errorf("bob's query at his bound of streams: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, bob, "GET", idPath("/logs", job), ""); r.Status != http.StatusOK {
		t.Errorf("bob's logs without follow at his bound of streams: %d %s", r.Status, r.Body)
	}

	// One stream ends: its place is bob's again.
	cancels[0]()
	eventually(t, "a follow stream's place given back", func() bool {
		return localMetric(t, local, "rw_user_follow_streams", nil) == float64(server.DefaultMaxStreamsPerUser-1)
	})
	again := openLogs(t, ctx, s, bob, job, true)
	again.Body.Close()

	cancel()
	eventually(t, "every follow stream given back", func() bool {
		return localMetric(t, local, "rw_user_follow_streams", nil) == 0
	})
}

// TestConnsPerUser checks --max-conns-per-user: the user's connection
// past the bound gets 429 on its first request and is closed, while
// another user's request succeeds; a connection that closes gives its
// place back, and the count is zero once all are closed.
func TestConnsPerUser(t *testing.T) {
	s, local := limitedServer(t, 0, server.DefaultMaxConnsPerUser, server.DefaultMaxStreamsPerUser)
	bob, alice := s.IDs["bob"], s.IDs["alice"]
	// Each client keeps its one connection open (keep-alive) after its
	// request.
	clients := make([]*http.Client, server.DefaultMaxConnsPerUser)
	for i := range clients {
		clients[i] = s.Client(t, bob)
		if r := get(t, clients[i], s, bob, "/version"); r.Status != http.StatusOK {
			t.Fatalf("connection %d of bob: %d %s", i+1, r.Status, r.Body)
		}
	}
	if got := localMetric(t, local, "rw_user_connections", nil); got != float64(server.DefaultMaxConnsPerUser) {
		t.Errorf("connections counted: %v, want %d", got, server.DefaultMaxConnsPerUser)
	}
	over, closed := getClosing(t, s.Client(t, bob), s, bob, "/version")
	wantTooMany(t, fmt.Sprintf("connection %d of bob", server.DefaultMaxConnsPerUser+1), over)
	if !closed {
		t.Errorf("the refused connection is kept open: want Connection: close")
	}
	aliceClient := s.Client(t, alice)
	if r := get(t, aliceClient, s, alice, "/version"); r.Status != http.StatusOK {
		t.Errorf("alice while bob is at his bound: %d %s", r.Status, r.Body)
	}
	// A counted connection serves on.
	if r := get(t, clients[0], s, bob, "/version"); r.Status != http.StatusOK {
		t.Errorf("bob on a connection already counted: %d %s", r.Status, r.Body)
	}
	s.Logs.WaitFor(t, `"level":"warn"`, `"user":"bob"`, "refused a request: its user holds as many connections as one user may")

	clients[0].CloseIdleConnections()
	eventually(t, "a closed connection's place given back", func() bool {
		// Bob's but one, and alice's one.
		return localMetric(t, local, "rw_user_connections", nil) == float64(server.DefaultMaxConnsPerUser-1+1)
	})
	clients[0] = s.Client(t, bob)
	if r := get(t, clients[0], s, bob, "/version"); r.Status != http.StatusOK {
		t.Errorf("bob once a connection closed: %d %s", r.Status, r.Body)
	}
	for _, c := range append(clients, aliceClient) {
		c.CloseIdleConnections()
	}
	eventually(t, "every connection given back", func() bool {
		return localMetric(t, local, "rw_user_connections", nil) == 0
	})
}

// get sends GET path as id with c, and reads the whole answer.
func get(t *testing.T, c *http.Client, s *testenv.Server, id testenv.Identity, path string) testenv.Response {
	t.Helper()
	r, _ := getClosing(t, c, s, id, path)
	return r
}

// getClosing is get, and says whether the server closes the connection
// after its answer.
func getClosing(t *testing.T, c *http.Client, s *testenv.Server, id testenv.Identity, path string) (testenv.Response, bool) {
	t.Helper()
	req, err := http.NewRequest("GET", "https://"+s.Addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+id.Token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, resp.Close
}

// TestMaxConnsRefusesBeforeHandshake checks --max-conns: past it a new
// connection is closed before the server sends or reads a byte of TLS,
// the refusals are logged at a bounded rate, and a connection that closes
// makes room again.
func TestMaxConnsRefusesBeforeHandshake(t *testing.T) {
	const maxConns = 2
	s, local := limitedServer(t, maxConns, 0, 0)
	cfg := s.ClientTLS(t, s.IDs["bob"])
	held := make([]*tls.Conn, maxConns)
	for i := range held {
		c, err := tls.Dial("tcp", s.Addr, cfg)
		if err != nil {
			t.Fatalf("connection %d: %v\n%s", i+1, err, s.Logs.String())
		}
		defer c.Close()
		held[i] = c
	}

	// A plain TCP connection past the bound: the server resets it without
	// a byte, so soon that the reset may come before connect returns.
	// Were it served, the read would wait for the handshake.
	raw, err := net.Dial("tcp", s.Addr)
	if err == nil {
		raw.SetReadDeadline(time.Now().Add(30 * time.Second))
		var n int
		n, err = raw.Read(make([]byte, 1))
		raw.Close()
		if n != 0 || err == nil || isTimeout(err) {
			t.Errorf("read past the bound: %d bytes, %v; want the connection closed at once", n, err)
		}
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("dial past the bound: %v, want a reset or a closed connection", err)
	}
	// A TLS client past the bound fails in its handshake.
	const flood = 50
	for range flood {
		if c, err := tls.Dial("tcp", s.Addr, cfg); err == nil {
			c.Close()
			t.Fatal("a handshake past --max-conns succeeded")
		}
	}
	if got := localMetric(t, local, "rw_limit_refusals_total", map[string]string{"limit": "conns"}); got != flood+1 {
		t.Errorf("refused connections counted: %v, want %d", got, flood+1)
	}
	s.Logs.WaitFor(t, `"level":"warn"`, `"max_conns":2`, "refused a connection before its handshake")
	if n := strings.Count(s.Logs.String(), "refused a connection before its handshake"); n > 20 {
		t.Errorf("%d log lines for %d refused connections, want at most 20 per window", n, flood+1)
	}

	// Room again once one closes.
	held[0].Close()
	eventually(t, "a connection past the closed one", func() bool {
		c, err := tls.Dial("tcp", s.Addr, cfg)
		if err != nil {
			return false
		}
		defer c.Close()
		// The server may still close it if it accepted it before the
		// old one's close was counted; a request proves it is served.
		fmt.Fprintf(c, "GET /version HTTP/1.1\r\nHost: rw\r\nAuthorization: Bearer %s\r\n\r\n", s.IDs["bob"].Token)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	held[1].Close()
	eventually(t, "every connection closed", func() bool {
		return localMetric(t, local, "rw_connections", nil) == 0
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
