//go:build linux

package jobinit

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"
)

// TestSignalsAreForwarded sends each signal init forwards to init's
// process group, as the worker signals a job, and checks that the job
// receives it; SIGTERM, last, makes the job exit 0.
func TestSignalsAreForwarded(t *testing.T) {
	needRoot(t)
	t.Parallel()
	j := startIsolated(t, helperSpec("trap"), "")
	if got := j.line(); got != "ready" {
		t.Fatalf("got %q, want ready", got)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM} {
		j.signalGroup(sig)
		if got, want := j.line(), "got "+sig.String(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if rest := j.lines(); len(rest) != 0 {
		t.Errorf("output after SIGTERM %q, want none", rest)
	}
	code, ws, err := j.wait()
	if err != nil || code != 0 || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("init exited %d, job status %#x, err %v; want 0, exited 0, nil", code, ws, err)
	}
}

// TestKillInitKillsAll checks that a job that ignores SIGTERM outlives it,
// and that SIGKILL of init takes the job and its grandchild with it,
// leaving no process, zombie or not, of the namespace behind.
func TestKillInitKillsAll(t *testing.T) {
	needRoot(t)
	t.Parallel()
	j := startIsolated(t, helperSpec("ignore-term"), "")
	for seen := map[string]bool{}; !seen["job ready"] || !seen["grandchild ready"]; {
		seen[j.line()] = true
	}
	members := namespaceMembers(t, j.cmd.Process.Pid)
	if len(members) != 3 {
		t.Fatalf("the namespace holds %d processes, want init, the job and the grandchild", len(members))
	}
	j.signalGroup(syscall.SIGTERM)
	// The grandchild is in the job's group: once it has the signal, so
	// has the job, which ignores it.
	if got, want := j.line(), "grandchild got SIGTERM"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	for pid, start := range members {
		if state, started := procStat(pid); started != start || state == "Z" {
			t.Fatalf("process %d of the namespace is gone or a zombie (state %q) after SIGTERM", pid, state)
		}
	}
	j.signalGroup(syscall.SIGKILL)
	code, _, err := j.wait()
	if code != -1 || !errors.Is(err, ErrNoReport) {
		t.Errorf("init exit code %d (-1: signaled), Status.Read error %v; want -1 and ErrNoReport", code, err)
	}
	// Init is reaped only once the kernel has emptied its namespace.
	for pid, start := range members {
		if state, started := procStat(pid); started == start {
			t.Errorf("process %d of the namespace is still there, state %q", pid, state)
		}
	}
	if rest := j.lines(); len(rest) != 0 {
		t.Errorf("output after SIGKILL %q, want none", rest)
	}
}

// namespaceMembers returns the host's processes in the PID namespace of
// process init, each with its start time, which tells it from a later
// process that reuses its pid.
func namespaceMembers(t *testing.T, init int) map[int]string {
	t.Helper()
	ns, err := os.Readlink("/proc/" + strconv.Itoa(init) + "/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	members := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && link == ns {
			_, members[pid] = procStat(pid)
		}
	}
	return members
}
