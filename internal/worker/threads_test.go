//go:build linux

package worker

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// osThreads counts this process's OS threads.
func osThreads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip("no /proc/self/task")
	}
	return len(tasks)
}

// TestRunningJobsDoNotHoldThreads checks that waiting for a running job
// takes no OS thread: 200 sleeping jobs leave the process with a few
// dozen threads at most, not one each. It is a resource check: the jobs
// are started one at a time, so that no burst of blocking starts leaves
// idle threads behind to count.
func TestRunningJobsDoNotHoldThreads(t *testing.T) {
	const jobs = 200
	dir := t.TempDir()
	copyFile(t, "/bin/sleep", filepath.Join(dir, "sleep"), 0o755)
	// A job may be seen running twice: by Start's own change, when a
	// worker was quicker, and by the worker's.
	running := make(chan int64, jobs)
	var mu sync.Mutex
	seen := map[int64]bool{}
	p := newPool(t, Config{JobsDir: dir, Workers: jobs, QueueSize: jobs, OnChange: func(s Snapshot) {
		mu.Lock()
		first := s.Status == StatusRunning && !seen[s.ID]
		seen[s.ID] = seen[s.ID] || first
		mu.Unlock()
		if first {
			running <- s.ID
		}
	}})
	for range jobs {
		if _, err := p.Start(Spec{Owner: "alice", Path: "sleep", Args: []string{"3600"}}); err != nil {
			t.Fatal(err)
		}
		<-running
	}
	if got, most := osThreads(t), 30; got >= most {
		t.Errorf("%d OS threads with %d jobs running; want fewer than %d", got, jobs, most)
	}
}
