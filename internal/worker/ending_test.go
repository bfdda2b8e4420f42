//go:build linux

package worker

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// A job whose process is gone but whose end is held up (here its output,
// by a process that left its group, within a long DrainTimeout) does not
// hold its worker: the next job runs to its end meanwhile, and the first
// ends when the output is let go.
func TestJobEndDoesNotHoldItsWorker(t *testing.T) {
	p := newPool(t, Config{Workers: 1, DrainTimeout: time.Hour})
	held, release := startEscapedWriter(t, p)

	next := start(t, p, "echo", "next")
	if s := wait(t, p, next); s.Status != StatusFinished {
		t.Fatalf("the next job: %s (%s), want finished", s.Status, s.Error)
	}
	if s, _ := p.Query(held); s.Status.Final() {
		t.Fatalf("the held job is %s while its output is held, want it not final yet", s.Status)
	}

	release()
	if s := wait(t, p, held); s.Status != StatusFinished {
		t.Errorf("the held job: %s (%s), want finished", s.Status, s.Error)
	}
}

// Shutdown waits for the ends that run after their workers: once it
// returns, every job's cgroup is gone and every job's final record is on
// disk, however many jobs had just ended.
func TestShutdownFinishesEveryEnd(t *testing.T) {
	data := t.TempDir()
	p := cgroupPool(t, Config{DataDir: data, Workers: 4, QueueSize: 256})
	const jobs = 100
	ids := make([]int64, jobs)
	for i := range ids {
		ids[i] = startLimited(t, p, LimitsRequest{}, "exit", "0")
	}
	// Let some jobs run and end, so that their ends are under way.
	wait(t, p, ids[jobs/4])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if left := jobCgroups(p, id); len(left) > 0 {
			t.Errorf("job %d left %v after Shutdown", id, left)
		}
	}
	if left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", p.cfg.Cgroups.Parent(), "rw-*")); len(left) > 0 {
		t.Errorf("cgroups left after Shutdown: %v", left)
	}
	again := newPool(t, Config{DataDir: data})
	if r := again.Recovered(); r.Jobs != 0 {
		t.Errorf("Shutdown left %d jobs unfinished in the store", r.Jobs)
	}
	for _, id := range ids {
		if s, err := again.Query(id); err != nil || !s.Status.Final() {
			t.Errorf("job %d after Shutdown: %s, %v; want final", id, s.Status, err)
		}
	}
}
