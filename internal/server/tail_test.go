//go:build linux

package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// getLogs reads a whole GET /logs answer with the query q.
func getLogs(t *testing.T, s *testenv.Server, id testenv.Identity, q string) testenv.Response {
	t.Helper()
	return s.Call(t, id, "GET", "/logs?"+q, "")
}

func TestLogsTailOfLargeOutput(t *testing.T) {
	jobs := testenv.JobsDir(t)
	// seq writes about 23 MiB of numbered lines.
	script := filepath.Join(jobs, "seq.sh")
	if err := errors.Join(os.WriteFile(script, []byte("#!/bin/sh\nexec seq 1 \"$1\"\n"), 0o755), os.Chmod(script, 0o755)); err != nil {
		t.Fatal(err)
	}
	s := testenv.Serve(t, worker.Config{JobsDir: jobs})
	alice := s.IDs["alice"]
	const n = 3_000_000
	job := s.StartJob(t, alice, "seq.sh", fmt.Sprint(n))
	if snap := s.Wait(t, job); snap.Status != worker.StatusFinished || snap.OutputSize < 20<<20 {
		t.Fatalf("seq.sh ended %s with %d bytes of output, want finished with over 20 MiB", snap.Status, snap.OutputSize)
	}
	var last10 strings.Builder
	for i := n - 9; i <= n; i++ {
		fmt.Fprintln(&last10, i)
	}
	tests := []struct {
		name, query, want string
	}{
		{"last 10 lines", fmt.Sprintf("id=%d&tailLines=10", job), last10.String()},
		{"last line", fmt.Sprintf("id=%d&tailLines=1", job), fmt.Sprintln(n)},
		{"no lines", fmt.Sprintf("id=%d&tailLines=0", job), ""},
		{"last 12 bytes", fmt.Sprintf("id=%d&tailBytes=12", job), "999\n3000000\n"},
		{"followed tail of an ended job", fmt.Sprintf("id=%d&tailLines=10&follow=true", job), last10.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := getLogs(t, s, alice, tt.query)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d %s, want 200", r.Status, r.Body)
			}
			if got := string(r.Body); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLogsTailFollowsARunningJob(t *testing.T) {
	jobs := testenv.JobsDir(t)
	// gate.sh writes two lines, waits for its argument to exist, writes a
	// third.
	script := filepath.Join(jobs, "gate.sh")
	body := "#!/bin/sh\necho a\necho b\nwhile [ ! -e \"$1\" ]; do sleep 0.01; done\necho c\n"
	if err := errors.Join(os.WriteFile(script, []byte(body), 0o755), os.Chmod(script, 0o755)); err != nil {
		t.Fatal(err)
	}
	s := testenv.Serve(t, worker.Config{JobsDir: jobs})
	alice := s.IDs["alice"]
	gate := filepath.Join(t.TempDir(), "gate")
	job := s.StartJob(t, alice, "gate.sh", gate)
	for {
		snap, err := s.Pool.Query(job)
		if err != nil {
			t.Fatal(err)
		}
		if snap.OutputSize == int64(len("a\nb\n")) {
			break
		}
		if snap.Status.Final() {
			t.Fatalf("gate.sh ended %s before its gate opened", snap.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp := openLogsQuery(t, s, alice, fmt.Sprintf("id=%d&tailLines=1&follow=true", job))
	defer resp.Body.Close()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "b\nc\n"; string(got) != want {
		t.Errorf("got %q, want the last line so far and then the next: %q", got, want)
	}
}

// openLogsQuery starts a GET /logs request with query q and returns the
// open response.
func openLogsQuery(t *testing.T, s *testenv.Server, id testenv.Identity, q string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "GET", "https://"+s.Addr+"/logs?"+q, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+id.Token)
	c := s.Client(t, id)
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("logs: %d %s", resp.StatusCode, b)
	}
	return resp
}

func TestLogsTailRefusesBadQueries(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice := s.IDs["alice"]
	job := s.StartJob(t, alice, "exit3.sh")
	s.Wait(t, job)
	for _, q := range []string{
		"tailLines=-1", "tailLines=x", "tailBytes=-5", "tailLines=1&tailBytes=1", "tailLines=1&offset=0",
	} {
		r := getLogs(t, s, alice, fmt.Sprintf("id=%d&%s", job, q))
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d %s, want 400", q, r.Status, r.Body)
		}
	}
}
