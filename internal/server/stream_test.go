//go:build linux

package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
)

// openLogs starts a GET /logs request and returns the open response.
func openLogs(t *testing.T, ctx context.Context, s *testenv.Server, id testenv.Identity, job int64, follow bool) *http.Response {
	t.Helper()
	url := fmt.Sprintf("https://%s/logs?id=%d&follow=%v", s.Addr, job, follow)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+id.Token)
	c := s.Client(t, id)
	c.Timeout = 0 // a follow stream lasts as long as the job
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("logs: %d %s", resp.StatusCode, b)
	}
	return resp
}

func TestFollowWithConcurrentReaders(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice := s.IDs["alice"]
	const lines = 100
	job := s.StartJob(t, alice, "lines.sh", fmt.Sprint(lines))
	var want bytes.Buffer
	for i := range lines {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	const readers = 8
	got := make([][]byte, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			resp := openLogs(t, context.Background(), s, alice, job, true)
			defer resp.Body.Close()
			got[i], _ = io.ReadAll(resp.Body)
		})
	}
	wg.Wait()
	for i, g := range got {
		if !bytes.Equal(g, want.Bytes()) {
			t.Errorf("reader %d got %d bytes, want the %d the job wrote", i, len(g), want.Len())
		}
	}
}

func TestFollowDeliversBytesAsTheyAreWritten(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice := s.IDs["alice"]
	job := s.StartJob(t, alice, "sleep.sh")
	resp := openLogs(t, context.Background(), s, alice, job, true)
	defer resp.Body.Close()
	// "ready" arrives while the job is still running: the stream is
	// flushed as output comes, not at the end.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if snap, _ := s.Pool.Query(job); snap.Status != worker.StatusRunning {
		t.Fatalf("job is %s, want running", snap.Status)
	}
	s.Call(t, alice, "POST", "/stop", fmt.Sprintf(`{"id": %d}`, job))
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Errorf("after stop: %q, %v; want a clean end", rest, err)
	}
}

func TestClientLeavesMidStream(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice := s.IDs["alice"]
	job := s.StartJob(t, alice, "sleep.sh")
	ctx, cancel := context.WithCancel(context.Background())
	resp := openLogs(t, ctx, s, alice, job, true)
	if line, _ := bufio.NewReader(resp.Body).ReadString('\n'); line != "ready\n" {
		t.Fatalf("first line %q", line)
	}
	cancel()
	resp.Body.Close()
	// The handler notices and returns: its access line is written on
	// return. goleak in TestMain checks that nothing is left behind.
	s.Logs.WaitFor(t, `"message":"request"`, fmt.Sprintf(`"path":"/logs?id=%d&follow=true"`, job))
	if snap, _ := s.Pool.Query(job); snap.Status != worker.StatusRunning {
		t.Errorf("job is %s after its reader left", snap.Status)
	}
}

// TestClientLeavesDuringStop checks that a request whose client went away
// before its answer is logged as that (499, client_gone), not as the 503
// shutting_down of a server that is not stopping. The grace period is a
// minute, so that the job is still stopping when the client leaves however
// slow the machine; a kill ends it after.
func TestClientLeavesDuringStop(t *testing.T) {
	s := testenv.Serve(t, worker.Config{StopTimeout: time.Minute})
	alice := s.IDs["alice"]
	job := s.StartJob(t, alice, "ignore.sh")
	waitOutput(t, s, job, "ignoring\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "https://"+s.Addr+"/stop", strings.NewReader(fmt.Sprintf(`{"id":%d}`, job)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	done := make(chan error, 1)
	go func() {
		resp, err := s.Client(t, alice).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// The job ignores SIGTERM, so the stop waits out its grace period:
	// leave while it does.
	waitStopping(t, s, job)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the canceled stop was answered")
	}
	line := s.Logs.WaitFor(t, `"message":"request"`, `"path":"/stop"`)
	if !strings.Contains(line, `"status":499`) || !strings.Contains(line, `"client_gone":true`) {
		t.Errorf("the request whose client left is logged as %s; want status 499 and client_gone", line)
	}
	// The stop goes on without its client.
	if snap, _ := s.Pool.Query(job); snap.Status != worker.StatusStopping {
		t.Errorf("the job is %s after the client of its stop left; want stopping", snap.Status)
	}
	if _, err := s.Pool.StopWithin(context.Background(), job, 0); err != nil {
		t.Fatal(err)
	}
	if snap := s.Wait(t, job); snap.Status != worker.StatusStopped {
		t.Errorf("the job is %s after the stop whose client left; want stopped", snap.Status)
	}
}

// waitStopping waits until job is stopping: a stop of it is under way.
func waitStopping(t *testing.T, s *testenv.Server, job int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if snap, _ := s.Pool.Query(job); snap.Status == worker.StatusStopping {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job never began to stop")
		}
	}
}

// TestShutdownDuringStop checks that a stop cut short by the server's
// shutdown is logged with the 503 it is answered, not as a client that went
// away: both end the request's context.
func TestShutdownDuringStop(t *testing.T) {
	s := testenv.Serve(t, worker.Config{StopTimeout: time.Minute})
	alice := s.IDs["alice"]
	job := s.StartJob(t, alice, "ignore.sh")
	waitOutput(t, s, job, "ignoring\n")
	req, err := http.NewRequest("POST", "https://"+s.Addr+"/stop", strings.NewReader(fmt.Sprintf(`{"id":%d}`, job)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	type answer struct {
		status int
		err    error
	}
	done := make(chan answer, 1)
	client := s.Client(t, alice)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		resp.Body.Close()
		done <- answer{status: resp.StatusCode}
	}()
	waitStopping(t, s, job)
	s.Signal()
	if a := <-done; a.err != nil || a.status != http.StatusServiceUnavailable {
		t.Errorf("the stop cut short by the shutdown: %d, %v; want 503", a.status, a.err)
	}
	line := s.Logs.WaitFor(t, `"message":"request"`, `"path":"/stop"`)
	if !strings.Contains(line, `"status":503`) || strings.Contains(line, "client_gone") {
		t.Errorf("the stop cut short by the shutdown is logged as %s; want status 503 and no client_gone", line)
	}
	// The second signal kills the job instead of waiting out its minute.
	s.SignalAgain(t)
}

func TestShutdownWithRunningJobsAndOpenStreams(t *testing.T) {
	s := testenv.Serve(t, worker.Config{StopTimeout: 2 * time.Second})
	alice := s.IDs["alice"]
	var streams []*http.Response
	var jobs []int64
	for range 3 {
		job := s.StartJob(t, alice, "sleep.sh")
		jobs = append(jobs, job)
		resp := openLogs(t, context.Background(), s, alice, job, true)
		if line, _ := bufio.NewReader(resp.Body).ReadString('\n'); line != "ready\n" {
			t.Fatalf("first line %q", line)
		}
		streams = append(streams, resp)
	}
	done := make(chan struct{})
	go func() {
		s.Stop()
		close(done)
	}()
	for _, resp := range streams {
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("shutdown did not finish")
	}
	for _, id := range jobs {
		snap := s.Recorded(t, id)
		if snap.Status != worker.StatusStopped {
			t.Errorf("job %d: %s after shutdown", id, snap.Status)
		}
	}
}

// TestWithCurl drives the API with curl, a client nobody here wrote.
func TestWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed: .ci/run installs it; install it to run this test")
	}
	s := testenv.Serve(t, worker.Config{})
	certPath, keyPath, _ := pki.ClientFiles("alice")
	run := func(args ...string) (string, string) {
		t.Helper()
		base := []string{"-sS", "--cacert", filepath.Join(s.Dir, pki.ServerCACert),
			"--cert", filepath.Join(s.Dir, certPath), "--key", filepath.Join(s.Dir, keyPath),
			"-w", "\n%{http_code}"}
		out, err := exec.Command(curl, append(base, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		// -w puts the status after the last newline.
		i := strings.LastIndexByte(string(out), '\n')
		return strings.TrimSpace(string(out[:i])), string(out[i+1:])
	}
	url := "https://localhost:" + s.Addr[strings.LastIndexByte(s.Addr, ':')+1:]
	auth := "Authorization: Bearer " + s.IDs["alice"].Token

	body, code := run("-H", auth, "-d", `{"filePath": "add.exe", "args": [8, 10]}`, url+"/start")
	if code != "200" || !strings.Contains(body, `"id":1`) {
		t.Fatalf("start: %s %s", code, body)
	}
	s.Wait(t, 1)
	if body, code = run("-H", auth, url+"/query?id=1"); code != "200" || !strings.Contains(body, `"output":"18\n"`) {
		t.Errorf("query: %s %s", code, body)
	}
	if body, code = run("-H", auth, "-N", url+"/logs?id=1&follow=true"); code != "200" || body != "18" {
		t.Errorf("logs: %s %q", code, body)
	}
	if _, code = run(url + "/query"); code != "401" {
		t.Errorf("no token: %s", code)
	}
	// curl refuses to go below TLS 1.3 with --tls-max 1.2: the server
	// refuses the handshake.
	out, err := exec.Command(curl, "-sS", "--tls-max", "1.2", "--cacert", filepath.Join(s.Dir, pki.ServerCACert),
		"--cert", filepath.Join(s.Dir, certPath), "--key", filepath.Join(s.Dir, keyPath), url+"/query").CombinedOutput()
	if err == nil {
		t.Errorf("TLS 1.2 accepted: %s", out)
	}
	// Without a client certificate the handshake fails.
	out, err = exec.Command(curl, "-sS", "--cacert", filepath.Join(s.Dir, pki.ServerCACert), "-H", auth, url+"/query").CombinedOutput()
	if err == nil {
		t.Errorf("no client certificate accepted: %s", out)
	}
}

// TestStreamOutlivesWriteTimeout checks that a follow stream is not cut by
// the write deadline of ordinary responses, however long the job stays
// silent. That deadline is a nanosecond, so that it has passed whatever
// the machine's load by the time the stream writes its header: the job is
// started through the pool, as no ordinary response could be written.
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	s := testenv.Serve(t, worker.Config{}, func(c *server.RunConfig) { c.WriteTimeout = time.Nanosecond })
	alice := s.IDs["alice"]
	job, err := s.Pool.Start(worker.Spec{Owner: alice.Name, Path: "slow.sh"})
	if err != nil {
		t.Fatal(err)
	}
	resp := openLogs(t, context.Background(), s, alice, job, true)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != "before\nafter\n" {
		t.Fatalf("stream: %q, %v", got, err)
	}
}
