//go:build linux

package worker

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDrainTimeoutConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  time.Duration
		want time.Duration
	}{
		{"unset is the default", 0, DefaultDrainTimeout},
		{"negative is the default", -time.Second, DefaultDrainTimeout},
		{"set is kept", 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, Config{DrainTimeout: tc.set})
			if got := p.cfg.DrainTimeout; got != tc.want {
				t.Errorf("DrainTimeout %v, want %v", got, tc.want)
			}
		})
	}
}

// A process that left the job's group keeps the output open after the job's
// own process is gone; what it writes within DrainTimeout is the job's, and
// the job ends when it lets go of the output.
func TestDrainTimeoutKeepsReadingAnEscapedWriter(t *testing.T) {
	p := newPool(t, Config{DrainTimeout: time.Hour})
	id, release := startEscapedWriter(t, p)
	if s, _ := p.Query(id); !gone(s.PID) {
		t.Fatalf("the job's own process %d did not exit", s.PID)
	}
	// Give a drain that ignored DrainTimeout the time to end the job.
	time.Sleep(DefaultDrainTimeout * 3 / 2)
	if s, _ := p.Query(id); s.Status != StatusRunning {
		t.Fatalf("status %s (%s) while the escaped process holds the output, want running", s.Status, s.Error)
	}
	release()
	s := wait(t, p, id)
	out := string(readOutput(t, p, id))
	if s.Status != StatusFinished || !strings.HasSuffix(out, "ready\nlate\n") {
		t.Errorf("status %s (%s), output %q; want finished, ending in the late line", s.Status, s.Error, out)
	}
}

// startEscapedWriter starts the escape-late job in p, whose process leaves
// the job's group holding its output open once the job's own process is
// gone, and returns its id and a function that lets that process write its
// late line and go. A process not let go is killed at cleanup, which runs
// before the pool's Shutdown (cleanups run last first): Shutdown would
// otherwise wait out a long DrainTimeout.
func startEscapedWriter(t *testing.T, p *Pool) (int64, func()) {
	t.Helper()
	id := start(t, p, "escape-late")
	pids := pidsIn(t, waitForLine(t, p, id, "ready"))
	if len(pids) != 1 {
		t.Fatalf("want the pid of the escaped process, got %v", pids)
	}
	released := false
	t.Cleanup(func() {
		if !released {
			syscall.Kill(pids[0], syscall.SIGKILL)
		}
	})
	return id, func() {
		t.Helper()
		if err := syscall.Kill(pids[0], syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		released = true
	}
}
