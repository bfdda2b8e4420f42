//go:build linux

package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/cgroup"
)

// cgroupPool starts a pool whose jobs run in cgroups under a parent of the
// test's own, or skips the test where this host or user cannot have them.
// Every test here runs its jobs under limits of their own.
func cgroupPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cgroups need root: run the tests as root to check containment")
	}
	var b [6]byte
	rand.Read(b[:])
	m, err := cgroup.Open(cgroup.Config{Parent: "rwtest-" + hex.EncodeToString(b[:])})
	if err != nil {
		t.Fatal(err)
	}
	if m.Mode() == cgroup.ModeNone {
		t.Skipf("no usable cgroups on this host: %s", m.Reason())
	}
	// Registered before the pool's, so it runs after the pool's shutdown.
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close the cgroup manager: %v", err)
		}
	})
	cfg.Cgroups = m
	if cfg.DefaultLimits == (Limits{}) {
		cfg.DefaultLimits = Limits{MemoryBytes: 256 << 20, Pids: 256}
	}
	var mu sync.Mutex
	cfg.OnError = func(id int64, err error) {
		mu.Lock()
		defer mu.Unlock()
		t.Errorf("job %d: %v", id, err)
	}
	return newPool(t, cfg)
}

func startLimited(t *testing.T, p *Pool, l LimitsRequest, args ...string) int64 {
	t.Helper()
	id, err := p.Start(Spec{Owner: "alice", Path: helperName, Args: args, Limits: l})
	if err != nil {
		t.Fatalf("Start(%q): %v", args, err)
	}
	return id
}

// jobCgroups returns the cgroup directories of p's job id that exist now.
// Only p's parent counts: other test processes may run jobs of the same
// id at the same time.
func jobCgroups(p *Pool, id int64) []string {
	parent := p.cfg.Cgroups.Parent()
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup/%s/rw-%d", "/sys/fs/cgroup/*/%s/rw-%d", "/sys/fs/cgroup/*/*/*/%s/rw-%d"} {
		found, _ := filepath.Glob(fmt.Sprintf(pattern, parent, id))
		dirs = append(dirs, found...)
	}
	return dirs
}

func TestCgroupOOMIsNamed(t *testing.T) {
	p := cgroupPool(t, Config{})
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		// The leader itself allocates past its limit: it dies of SIGKILL.
		{"the main process", []string{"alloc", "64"}, 137},
		// A child does, and the leader exits 0: still reported.
		{"a child while the main process exits 0", []string{"oom-child", "64"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := startLimited(t, p, LimitsRequest{MemoryBytes: i64(32 << 20)}, tc.args...)
			s := wait(t, p, id)
			if s.Status != StatusFailed || s.Reason != ReasonOOMKilled || s.ExitCode == nil || *s.ExitCode != tc.wantCode {
				t.Errorf("got %s, %s, exit %v (%s); want failed, oom-killed, exit %d\noutput: %s",
					s.Status, s.Reason, fmtCode(s.ExitCode), s.Error, tc.wantCode, readOutput(t, p, id))
			}
			if s.Usage.MemoryPeakBytes == nil || *s.Usage.MemoryPeakBytes < 16<<20 || *s.Usage.MemoryPeakBytes > 33<<20 {
				t.Errorf("memory peak %v, want about the 32 MiB limit", s.Usage.MemoryPeakBytes)
			}
		})
	}
}

func fmtCode(c *int) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprint(*c)
}

func TestCgroupStopKillsWhatLeftTheGroup(t *testing.T) {
	p := cgroupPool(t, Config{StopTimeout: time.Second})
	tests := []struct {
		name string
		args []string
	}{
		{"a setsid sleeper", []string{"setsid-child"}},
		{"a double-forked daemon", []string{"daemon"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := startLimited(t, p, LimitsRequest{}, tc.args...)
			out := waitForLine(t, p, id, "ready")
			pids := pidsIn(t, out)
			if len(pids) == 0 {
				t.Fatalf("no pid in %q", out)
			}
			if _, err := p.Stop(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			for _, pid := range pids {
				if !gone(pid) {
					t.Errorf("pid %d outside the job's process group outlived the stop", pid)
				}
			}
		})
	}
}

func TestCgroupEndOfMainKillsTheRest(t *testing.T) {
	p := cgroupPool(t, Config{})
	// The leader starts a setsid child that holds the output, then exits.
	id := startLimited(t, p, LimitsRequest{}, "escape")
	s := wait(t, p, id)
	pids := pidsIn(t, string(readOutput(t, p, id)))
	if s.Status != StatusFinished || len(pids) != 1 {
		t.Fatalf("job %s with pids %v", s.Status, pids)
	}
	if !gone(pids[0]) {
		t.Errorf("the setsid child %d outlived its job", pids[0])
	}
}

func TestCgroupPidsLimitBoundsAForkLoop(t *testing.T) {
	p := cgroupPool(t, Config{})
	id := startLimited(t, p, LimitsRequest{Pids: i64(32)}, "fork-loop", "1000")
	// The server side answers while the job forks.
	if _, err := p.Query(id); err != nil {
		t.Fatal(err)
	}
	s := wait(t, p, id)
	out := string(readOutput(t, p, id))
	var started int
	if _, err := fmt.Sscanf(out[strings.Index(out, "started"):], "started %d", &started); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if started >= 32 || started == 0 {
		t.Errorf("%d children started under pids 32", started)
	}
	if s.Limits.Pids != 32 {
		t.Errorf("limits %+v, want pids 32", s.Limits)
	}
}

// TestCgroupCPULimit checks that a CPU limit reaches the job's cgroup and
// holds the job to it. The job does a fixed amount of work, 0.4 s of CPU
// on two threads, rather than spinning for a fixed time: the host's load
// can only lower the share of a CPU it gets, so the upper bound holds at
// any load, where a lower bound on what it got would not. That the limit
// is not tighter than asked is read from the cgroup itself.
func TestCgroupCPULimit(t *testing.T) {
	p := cgroupPool(t, Config{})
	id := startLimited(t, p, LimitsRequest{CPUs: f64(0.2)}, "spin", "2", "400ms")
	line := waitForLine(t, p, id, "spun")
	// The job waits for SIGUSR1 now, so its cgroup is still there.
	if got, ok := cpuLimitOf(t, p, id); !ok {
		t.Errorf("job %d has no CPU limit in its cgroups %v", id, jobCgroups(p, id))
	} else if got < 0.199 || got > 0.201 {
		t.Errorf("job %d's cgroup allows %.3f of a CPU, want 0.2", id, got)
	}
	var cpu, wall float64
	if _, err := fmt.Sscanf(line[strings.Index(line, "cpu "):], "cpu %g wall %g", &cpu, &wall); err != nil {
		t.Fatalf("output %q: %v", line, err)
	}
	s, err := p.Query(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.PID, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	s = wait(t, p, id)
	if s.Status != StatusFinished {
		t.Fatalf("job %s (%s): %s", s.Status, s.Error, readOutput(t, p, id))
	}
	// Two threads that could each use a whole CPU used 0.2 of one; a
	// period's quota at the start is all the slack the kernel gives.
	if share := cpu / wall; share > 0.25 {
		t.Errorf("the job used %.2f s of CPU in %.2f s: %.2f of a CPU, want at most 0.25 (the 0.2 limit and its slack)", cpu, wall, share)
	}
	if s.Usage.CPUSeconds == nil {
		t.Skip("this host does not report CPU usage")
	}
	// The cgroup counts the job's start and end too, so at least what the
	// job counted itself.
	if *s.Usage.CPUSeconds < cpu {
		t.Errorf("the job's usage says %.2f s of CPU; the job itself counted %.2f s", *s.Usage.CPUSeconds, cpu)
	}
}

// cpuLimitOf returns the share of a CPU that job id's cgroup allows, from
// the v2 cpu.max or the v1 quota and period, and whether one was set.
func cpuLimitOf(t *testing.T, p *Pool, id int64) (float64, bool) {
	t.Helper()
	for _, dir := range jobCgroups(p, id) {
		var quota, period float64
		if b, err := os.ReadFile(filepath.Join(dir, "cpu.max")); err == nil {
			if _, err := fmt.Sscanf(string(b), "%g %g", &quota, &period); err != nil {
				continue // "max": no limit in this hierarchy
			}
		} else if b, err := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us")); err == nil {
			if _, err := fmt.Sscan(string(b), &quota); err != nil || quota < 0 {
				continue // -1: no limit
			}
			b, err := os.ReadFile(filepath.Join(dir, "cpu.cfs_period_us"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Sscan(string(b), &period); err != nil {
				t.Fatalf("%s/cpu.cfs_period_us %q: %v", dir, b, err)
			}
		} else {
			continue
		}
		return quota / period, true
	}
	return 0, false
}

func TestCgroupIOWriteLimit(t *testing.T) {
	p := cgroupPool(t, Config{})
	if strings.Contains(p.cfg.Cgroups.Reason(), "IO limits off") {
		t.Skipf("no disk to throttle here: %s", p.cfg.Cgroups.Reason())
	}
	// The file is on the disk of the test's temporary directory, which the
	// pool throttles unless it is not a disk (a tmpfs, say).
	file := filepath.Join(t.TempDir(), "direct")
	id := startLimited(t, p, LimitsRequest{IOWriteBytesPerSec: i64(1 << 20)}, "direct-write", file, "2")
	s := wait(t, p, id)
	if s.ExitCode != nil && *s.ExitCode == 3 {
		t.Skipf("no direct IO on the temporary directory's filesystem: %s", readOutput(t, p, id))
	}
	if s.Status != StatusFinished {
		t.Fatalf("job %s: %s", s.Status, readOutput(t, p, id))
	}
	// 2 MiB at 1 MiB/s: about 2 s. Unthrottled, the disk takes a few ms.
	if took := s.EndedAt.Sub(s.StartedAt); took < 1500*time.Millisecond {
		t.Errorf("2 MiB of direct writes took %v under a 1 MiB/s limit, want about 2 s", took)
	}
}

func TestCgroupChildrenForkedAtOnceStayInside(t *testing.T) {
	p := cgroupPool(t, Config{Workers: 8, QueueSize: 256})
	const jobs = 200
	ids := make([]int64, jobs)
	for i := range ids {
		ids[i] = startLimited(t, p, LimitsRequest{}, "fork-cgroups")
	}
	escaped := 0
	for _, id := range ids {
		s := wait(t, p, id)
		out := string(readOutput(t, p, id))
		if s.Status != StatusFinished {
			t.Fatalf("job %d: %s (%s): %s", id, s.Status, s.Error, out)
		}
		main, child := cgroupLines(out, "main"), cgroupLines(out, "child")
		placed := 0
		for hier, path := range main {
			if !strings.HasSuffix(path, fmt.Sprintf("/rw-%d", id)) {
				continue // a hierarchy rw does not use
			}
			placed++
			if child[hier] != path {
				escaped++
				t.Errorf("job %d: its child is in %s%s, not %s", id, hier, child[hier], path)
			}
		}
		if placed == 0 {
			t.Fatalf("job %d is in no cgroup of its own:\n%s", id, out)
		}
	}
	if escaped != 0 {
		t.Errorf("%d children outside their job's cgroup", escaped)
	}
}

// cgroupLines reads the /proc/PID/cgroup lines that the fork-cgroups
// helper printed for who, as hierarchy ("N:controllers:") to path.
func cgroupLines(out, who string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, who+" "); ok {
			i := strings.LastIndexByte(rest, ':') + 1
			m[rest[:i]] = rest[i:]
		}
	}
	return m
}

func TestCgroupsAreRemoved(t *testing.T) {
	p := cgroupPool(t, Config{Workers: 8, QueueSize: 512})
	const jobs = 500
	ids := make([]int64, jobs)
	for i := range ids {
		ids[i] = startLimited(t, p, LimitsRequest{MemoryBytes: i64(64 << 20), Pids: i64(32), CPUs: f64(1)}, "exit", "0")
	}
	for _, id := range ids {
		if s := wait(t, p, id); s.Status != StatusFinished {
			t.Fatalf("job %d: %s (%s)", id, s.Status, s.Error)
		}
	}
	for _, id := range ids {
		if left := jobCgroups(p, id); len(left) > 0 {
			t.Fatalf("job %d left %v", id, left)
		}
	}
}
