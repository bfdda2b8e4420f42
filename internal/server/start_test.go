//go:build linux

package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// waitForSpawns lets POST /start wait up to a minute for a spawn instead of
// DefaultStartWait, for tests that hold its answer to what the spawn did:
// on a loaded machine a spawn can take longer than a second, and the
// answer would be starting. The minute only bounds a hung spawn.
func waitForSpawns(c *server.RunConfig) { c.StartWait = time.Minute }

// startJob sends POST /start for body and returns the job of its answer.
func startJob(t *testing.T, s *testenv.Server, body string) api.Job {
	t.Helper()
	r := s.Call(t, s.IDs["alice"], "POST", "/start", body)
	if r.Status != 200 {
		t.Fatalf("start %s: %d %s", body, r.Status, r.Body)
	}
	var j api.Job
	r.Decode(t, &j)
	return j
}

// TestStartAnswersOnceSpawned checks that POST /start answers with a job a
// free worker took once it runs or could not be started, so that a client
// learns either from the one answer.
func TestStartAnswersOnceSpawned(t *testing.T) {
	jobs := testenv.JobsDir(t)
	bad := filepath.Join(jobs, "badinterp.sh")
	if err := os.WriteFile(bad, []byte("#!/bin/nosuch\necho never\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := testenv.Serve(t, worker.Config{JobsDir: jobs, Workers: 2}, waitForSpawns)

	running := startJob(t, s, `{"filePath": "sleep.sh"}`)
	if running.Status != api.StatusRunning || running.StartedAt == nil || running.QueuePosition != nil {
		t.Errorf("a job a free worker took: %+v; want it running, with a start time and no place in the queue", running)
	}

	failed := startJob(t, s, `{"filePath": "badinterp.sh"}`)
	if failed.Status != api.StatusFailed || failed.Reason != "start-failed" || !strings.Contains(failed.Error, "/bin/nosuch") || failed.EndedAt == nil {
		t.Errorf("a job that cannot spawn: status %s, reason %q, error %q; want failed, start-failed, naming the interpreter",
			failed.Status, failed.Reason, failed.Error)
	}
}

// TestStartAnswersQueuedAtOnce checks that a job no worker is free for is
// answered queued, with its place, without waiting for a worker.
func TestStartAnswersQueuedAtOnce(t *testing.T) {
	s := testenv.Serve(t, worker.Config{Workers: 1}, waitForSpawns)
	if j := startJob(t, s, `{"filePath": "sleep.sh"}`); j.Status != api.StatusRunning {
		t.Fatalf("the first job: status %s, want running", j.Status)
	}
	for want := range 2 {
		j := startJob(t, s, `{"filePath": "add.exe", "args": [8, 10]}`)
		if j.Status != api.StatusQueued || j.QueuePosition == nil || *j.QueuePosition != want || j.StartedAt != nil {
			t.Errorf("job %d with the one worker busy: %+v; want it queued with %d ahead", j.ID, j, want)
		}
	}
}
