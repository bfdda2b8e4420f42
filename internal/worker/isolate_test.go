//go:build linux

package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

func isolatedPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	if !CanIsolate() {
		t.Skip("isolating jobs needs root")
	}
	cfg.Isolate = true
	return newPool(t, cfg)
}

func TestIsolatedJobSeesItsOwnWorld(t *testing.T) {
	p := isolatedPool(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	id := start(t, p, "ns", ln.Addr().String())
	s := wait(t, p, id)
	out := string(readOutput(t, p, id))
	want := fmt.Sprintf("ppid 1\nprocs 2\nifaces lo:up\nhostname rw-%d\ndial false\n", id)
	if s.Status != StatusFinished || !s.Isolated || out != want {
		t.Errorf("isolated job %s (isolated %v) said:\n%s\nwant:\n%s", s.Status, s.Isolated, out, want)
	}
}

func TestIsolatedExitStatusPassesThrough(t *testing.T) {
	p := isolatedPool(t, Config{})
	tests := []struct {
		name   string
		args   []string
		code   int
		reason Reason
	}{
		{"exit 3", []string{"exit", "3"}, 3, ReasonExited},
		{"killed by SIGKILL", []string{"kill-self"}, 137, ReasonSignaled},
		{"exit 137 by itself", []string{"exit", "137"}, 137, ReasonExited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := wait(t, p, start(t, p, tc.args...))
			if s.ExitCode == nil || *s.ExitCode != tc.code || s.Reason != tc.reason {
				t.Errorf("exit %v, reason %s (%s); want %d, %s", fmtCode(s.ExitCode), s.Reason, s.Error, tc.code, tc.reason)
			}
		})
	}
}

// TestStopIsolated stops isolated jobs: one whose children and
// grandchildren ignore SIGTERM, and one that ignores it itself. Either way
// nothing of the job's namespace is left after the stop, zombies included.
//
// The first job's leader exits on SIGTERM, which a loaded host may take
// more than a moment to deliver through the job's init: its grace period
// is a minute, which only a hung stop runs out, so that its stop ends
// without SIGKILL whatever the load. The second must be killed, so its
// grace period is short.
func TestStopIsolated(t *testing.T) {
	p := isolatedPool(t, Config{StopTimeout: time.Minute})
	tests := []struct {
		name      string
		args      []string
		minProcs  int
		grace     time.Duration
		wantError string
	}{
		{"a tree whose children ignore SIGTERM", []string{"tree", "ignore-term"}, 3, time.Minute, "stopped on request"},
		{"a job that ignores SIGTERM", []string{"ignore-term"}, 1, 500 * time.Millisecond, "stopped on request: killed with SIGKILL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := start(t, p, tc.args...)
			waitForLine(t, p, id, "ready")
			snap, _ := p.Query(id)
			inside := namespaceProcs(t, snap.PID)
			if len(inside()) < tc.minProcs {
				t.Fatalf("%d processes in the job's namespace, want at least %d", len(inside()), tc.minProcs)
			}
			s, err := p.StopWithin(context.Background(), id, tc.grace)
			if err != nil || s.Status != StatusStopped || s.Error != tc.wantError {
				t.Fatalf("stop: %s, %q, %v; want stopped, %q", s.Status, s.Error, err, tc.wantError)
			}
			for _, pid := range inside() {
				if !gone(pid) {
					t.Errorf("pid %d of the stopped job's namespace is still there", pid)
				}
			}
		})
	}
}

// namespaceProcs returns a func that lists the processes, other than init
// itself, in the PID namespace whose init is pid.
func namespaceProcs(t *testing.T, init int) func() []int {
	t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid_for_children", init))
	if err != nil {
		t.Fatal(err)
	}
	return func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			var pid int
			if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == init {
				continue
			}
			if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && link == ns {
				pids = append(pids, pid)
			}
		}
		return pids
	}
}

func TestIsolationNeedsRoot(t *testing.T) {
	if CanIsolate() {
		t.Skip("as root, isolation is available")
	}
	p := newPool(t, Config{})
	isolate := true
	if _, err := p.Start(Spec{Path: helperName, Args: []string{"exit", "0"}, Isolate: &isolate}); !errors.Is(err, ErrCannotIsolate) {
		t.Errorf("isolate without root: %v, want ErrCannotIsolate", err)
	}
}
