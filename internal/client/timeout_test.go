//go:build linux

package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/pki"
)

// silentListener accepts TCP connections and never says a word, as a port
// that is not a TLS server may; it returns the address. Every connection is
// closed when the test ends.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // the listener is closed
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestHandshakeTimeoutIsUnreachable checks that a server which takes the
// TCP connection but never completes the TLS handshake is unreachable, not
// slow: the request never had a connection to be slow on.
func TestHandshakeTimeoutIsUnreachable(t *testing.T) {
	e := newEnv(t, 0)
	addr := silentListener(t)
	tests := []struct {
		name        string
		dialTimeout time.Duration // bounds the TCP connection and the handshake
		deadline    time.Duration // of the request's context; none if zero
	}{
		{"the dial timeout ends the handshake", 200 * time.Millisecond, 0},
		{"the request's deadline comes first", time.Minute, 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config(t, "alice", addr, pki.ServerCACert)
			cfg.DialTimeout = tc.dialTimeout
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			_, err = c.List(ctx)
			if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrTimeout) {
				t.Errorf("got %v, want ErrUnreachable", err)
			}
		})
	}
}

// TestSlowAnswerIsTimeout checks that a real server which is up but answers
// after the request's deadline gives ErrTimeout, not ErrUnreachable: here a
// stop of a job that ignores SIGTERM, which takes the server's grace period
// of a minute, under a context that allows far less.
func TestSlowAnswerIsTimeout(t *testing.T) {
	e := newEnv(t, time.Minute)
	c := e.client(t, "alice", e.addr, pki.ServerCACert)
	job := startIgnoring(t, c)
	// The stop must have its connection before its short deadline: a
	// handshake on a loaded machine may take longer, and a deadline that
	// passes before the connection is made means unreachable. The follow
	// stream startIgnoring left closed its connection; a query, read to
	// its end, leaves one idle for the stop.
	if _, err := c.Query(context.Background(), job.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Stop(ctx, job.ID, time.Second, StopOptions{})
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnreachable) {
		t.Errorf("got %v, want ErrTimeout", err)
	}
	// Kill it now rather than have the server's shutdown wait out the
	// minute of grace.
	kill := time.Duration(0)
	if _, err := c.Stop(context.Background(), job.ID, 10*time.Second, StopOptions{Grace: &kill}); err != nil {
		t.Errorf("kill the job: %v", err)
	}
}

// startIgnoring starts ignore.sh and returns once it ignores SIGTERM, which
// it says with its first line.
func startIgnoring(t *testing.T, c *Client) api.Job {
	t.Helper()
	ctx := context.Background()
	job, err := c.Start(ctx, "ignore.sh", nil, StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Logs(ctx, job.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ignoring\n" {
		t.Fatalf("ignore.sh said %q, %v", line, err)
	}
	return job
}

// deadlineRecorder passes requests on to next and records the deadline of
// each one's context, by method and path.
type deadlineRecorder struct {
	next      http.RoundTripper
	mu        sync.Mutex
	deadlines map[string]time.Time
}

func (d *deadlineRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	deadline, _ := req.Context().Deadline()
	d.mu.Lock()
	d.deadlines[req.Method+" "+req.URL.Path] = deadline
	d.mu.Unlock()
	return d.next.RoundTrip(req)
}

// CloseIdleConnections lets the client's Close reach next.
func (d *deadlineRecorder) CloseIdleConnections() {
	if c, ok := d.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// TestStopWaitsForTheGracePeriod checks that Stop waits for the grace
// period the server announces, on top of the request timeout: the job
// ignores SIGTERM, so the answer comes only after the grace period.
//
// Whether the answer comes in time depends on the machine's load, so the
// timeout is generous and the grace period is checked where it is added:
// the stop's deadline is the grace period later than that of the query
// Stop sends first under the timeout alone, or more, as the stop's
// context is made after the query's.
func TestStopWaitsForTheGracePeriod(t *testing.T) {
	const grace, timeout = 1500 * time.Millisecond, 30 * time.Second
	e := newEnv(t, grace)
	c := e.client(t, "alice", e.addr, pki.ServerCACert)
	rec := &deadlineRecorder{next: c.http.Transport, deadlines: map[string]time.Time{}}
	c.http.Transport = rec
	job := startIgnoring(t, c)
	job, err := c.Stop(context.Background(), job.ID, timeout, StopOptions{})
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if job.Status != api.StatusStopped || job.ExitCode == nil || *job.ExitCode != 128+9 {
		t.Errorf("Stop: status %s, exit code %v; want stopped by SIGKILL", job.Status, job.ExitCode)
	}
	rec.mu.Lock()
	query, stop := rec.deadlines["GET "+api.PathQuery], rec.deadlines["POST "+api.PathStop]
	rec.mu.Unlock()
	if query.IsZero() || stop.Sub(query) < grace {
		t.Errorf("the stop's deadline is %v after the query's (%v, %v), want at least the grace period, %v",
			stop.Sub(query), query, stop, grace)
	}

	// A job the caller may not see is refused before any wait.
	bob := e.client(t, "bob", e.addr, pki.ServerCACert)
	if _, err := bob.Stop(context.Background(), job.ID, timeout, StopOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob stops alice's job: %v, want ErrNotFound", err)
	}
}

func TestStopTimeoutHeader(t *testing.T) {
	tests := []struct {
		name   string
		header []string // values of api.HeaderStopTimeout
		want   time.Duration
	}{
		{"announced", []string{"10s"}, 10 * time.Second},
		{"fractional", []string{"1.5s"}, 1500 * time.Millisecond},
		{"missing: an older server", nil, FallbackStopTimeout},
		{"empty", []string{""}, FallbackStopTimeout},
		{"not a duration", []string{"ten seconds"}, FallbackStopTimeout},
		{"a bare number", []string{"10"}, FallbackStopTimeout},
		{"zero", []string{"0s"}, FallbackStopTimeout},
		{"negative", []string{"-5s"}, FallbackStopTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.header {
				h.Add(api.HeaderStopTimeout, v)
			}
			if got := stopTimeout(h); got != tc.want {
				t.Errorf("stopTimeout(%q) = %v, want %v", tc.header, got, tc.want)
			}
		})
	}
}

// TestStopWithAGraceOfItsOwn checks that Stop's own grace period reaches
// the server and bounds the wait: the server's is a minute, the request's
// bound is the one asked for plus the timeout, so only a stop that kills
// at once answers in time. The timeout is half the server's grace period,
// to leave a loaded machine time. One over the server's is refused.
func TestStopWithAGraceOfItsOwn(t *testing.T) {
	e := newEnv(t, time.Minute)
	c := e.client(t, "alice", e.addr, pki.ServerCACert)
	job := startIgnoring(t, c)

	over := 2 * time.Minute
	if _, err := c.Stop(context.Background(), job.ID, 30*time.Second, StopOptions{Grace: &over}); !errors.Is(err, ErrUnprocessable) {
		t.Errorf("a grace period over the server's: %v, want ErrUnprocessable", err)
	}

	var none time.Duration
	var told []time.Duration
	job, err := c.Stop(context.Background(), job.ID, 30*time.Second, StopOptions{
		Grace:   &none,
		Sending: func(grace time.Duration) { told = append(told, grace) },
	})
	if err != nil {
		t.Fatalf("Stop with no grace period: %v", err)
	}
	if job.Status != api.StatusStopped || job.ExitCode == nil || *job.ExitCode != 128+9 {
		t.Errorf("Stop: status %s, exit code %v; want stopped by SIGKILL", job.Status, job.ExitCode)
	}
	if len(told) != 1 || told[0] != 0 {
		t.Errorf("Sending was told %v, want [0s]", told)
	}
}

// lateTransport answers every request once its context has ended, with
// the 503 a server gives a request whose client went away: the answer
// that can reach a client in the moment after its deadline.
type lateTransport struct{}

func (lateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	body := `{"error": {"code": "shutting_down", "message": "the server is shutting down"}}`
	return &http.Response{
		StatusCode: http.StatusServiceUnavailable,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}, nil
}

// TestAnswerAfterTheDeadlineIsTimeout checks that an error answer that
// arrives after the caller's deadline is reported as the timeout it
// follows from, not as what the server said to a client already gone.
func TestAnswerAfterTheDeadlineIsTimeout(t *testing.T) {
	c := &Client{server: "localhost:3000", token: "t", http: &http.Client{Transport: lateTransport{}}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Query(ctx, 1)
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnavailable) {
		t.Errorf("got %v, want ErrTimeout", err)
	}
}
