//go:build linux

package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

// These tests run against fake cgroup trees (see fakeKernel), on any host
// and as any user.

func TestUsageAndOOM(t *testing.T) {
	t.Run("v2", func(t *testing.T) {
		k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
		g, err := openFake(t, k.config("rw")).Create("1", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if g.OOMKilled() {
			t.Errorf("OOMKilled() with oom_kill 0 = true")
		}
		writeTestFile(t, filepath.Join(g.v2, "cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
		writeTestFile(t, filepath.Join(g.v2, "memory.peak"), "1234\n")
		writeTestFile(t, filepath.Join(g.v2, "memory.events"), "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n")
		checkUsage(t, g.Usage(), 2.5, 1234)
		if !g.OOMKilled() {
			t.Errorf("OOMKilled() with oom_kill 1 = false")
		}
		// A kernel without memory.peak (before 5.19) cannot say.
		os.Remove(filepath.Join(g.v2, "memory.peak"))
		if u := g.Usage(); u.MemoryPeakBytes != nil {
			t.Errorf("MemoryPeakBytes = %d without memory.peak, want nil", *u.MemoryPeakBytes)
		}
	})
	t.Run("v1", func(t *testing.T) {
		k := fakeV1(t, true)
		// A CPU limit, so that the group has a directory in the cpu and
		// cpuacct hierarchy, where its CPU time is then read.
		g, err := openFake(t, k.config("rw")).Create("1", Limits{CPUs: 1})
		if err != nil {
			t.Fatal(err)
		}
		cg := filepath.Join(k.root, "sys/fs/cgroup")
		writeTestFile(t, filepath.Join(cg, "cpu,cpuacct/svc/rw/rw-1/cpuacct.usage"), "1500000000\n")
		writeTestFile(t, filepath.Join(cg, "memory/svc/rw/rw-1/memory.max_usage_in_bytes"), "4096\n")
		checkUsage(t, g.Usage(), 1.5, 4096)
		if g.OOMKilled() {
			t.Errorf("OOMKilled() with oom_kill 0 = true")
		}
		writeTestFile(t, filepath.Join(cg, "memory/svc/rw/rw-1/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
		if !g.OOMKilled() {
			t.Errorf("OOMKilled() with oom_kill 2 = false")
		}
	})
}

func checkUsage(t *testing.T, u Usage, cpu float64, peak int64) {
	t.Helper()
	if u.CPUSeconds == nil || *u.CPUSeconds != cpu {
		t.Errorf("CPUSeconds = %v, want %v", fmtPtr(u.CPUSeconds), cpu)
	}
	if u.MemoryPeakBytes == nil || *u.MemoryPeakBytes != peak {
		t.Errorf("MemoryPeakBytes = %v, want %d", fmtPtr(u.MemoryPeakBytes), peak)
	}
}

func fmtPtr[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func TestCleanupFake(t *testing.T) {
	k := fakeV1(t, true)
	m := openFake(t, k.config("rw"))
	cg := filepath.Join(k.root, "sys/fs/cgroup")
	// A stale group made by hand in two hierarchies only, and a directory
	// that is no job's.
	for _, dir := range []string{"unified/svc/rw/rw-5", "memory/svc/rw/rw-5"} {
		if err := os.Mkdir(filepath.Join(cg, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		k.mkdir(filepath.Join(cg, dir))
	}
	if err := os.Mkdir(filepath.Join(cg, "unified/svc/rw/keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	killed, removed, err := m.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if killed != 0 || removed != 1 {
		t.Errorf("Cleanup() = %d killed, %d removed; want 0, 1", killed, removed)
	}
	for _, dir := range []string{"unified/svc/rw/rw-5", "memory/svc/rw/rw-5"} {
		if exists(filepath.Join(cg, dir)) {
			t.Errorf("Cleanup left %s", dir)
		}
	}
	if !exists(filepath.Join(cg, "unified/svc/rw/keep")) {
		t.Errorf("Cleanup removed a directory that is no job's")
	}
}

func TestParsing(t *testing.T) {
	if got, want := unescapeMount(`/mnt/a\040b\134c`), `/mnt/a b\c`; got != want {
		t.Errorf("unescapeMount = %q, want %q", got, want)
	}
	for in, want := range map[string]string{"7-rc1": "7", "18": "18", "x": ""} {
		if got := leadingDigits(in); got != want {
			t.Errorf("leadingDigits(%q) = %q, want %q", in, got, want)
		}
	}
	for cpus, want := range map[float64]int64{0.001: 1000, 0.5: 50000, 2: 200000, 1.234567: 123457} {
		if got := cpuQuota(cpus); got != want {
			t.Errorf("cpuQuota(%v) = %d, want %d", cpus, got, want)
		}
	}
}
