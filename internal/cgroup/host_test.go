//go:build linux

package cgroup

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests in this file use the host's real cgroups. They need root, and
// skip with a message as any other user or where the host has no cgroups.
// Each works in a parent of its own ("rwtest-" plus random hex, which
// Cleanup's "rw-*" never matches) and removes everything it made.

// waitLimit bounds every wait for processes to die in these tests; it is a
// safety net against a hung test, not a timing assertion.
const waitLimit = time.Minute

// hostManager opens the host's cgroups with a fresh parent. variant is ""
// for the host's own mode, "v1" or "v2" to force the v1 or v2 code on a
// hybrid host, or "nokill" to act as a kernel without cgroup.kill. It skips
// the test where that cannot be had.
func hostManager(t *testing.T, variant string) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create cgroups")
	}
	b := make([]byte, 6)
	rand.Read(b)
	cfg := Config{Parent: "rwtest-" + hex.EncodeToString(b)}
	switch variant {
	case "v1", "v2":
		cfg.only = variant
	case "nokill":
		cfg.noKill = true
	}
	m, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if m.Mode() == ModeNone {
		t.Skipf("skipped: no usable cgroups here (%s)", m.Reason())
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, h := range m.hierarchies() {
			if exists(h.parent) {
				t.Errorf("the test left %s", h.parent)
			}
		}
	})
	return m
}

// hostModes are the variants (see hostManager) the host tests run the
// kill and placement code in: the host's own mode, the same without
// cgroup.kill and, on a hybrid host, forced v1 and v2.
func hostModes(t *testing.T) []string {
	modes := []string{"", "nokill"}
	if exists("/sys/fs/cgroup/unified/cgroup.procs") {
		modes = append(modes, "v1", "v2")
	}
	return modes
}

// hostGroup creates a group and registers its removal, after killing
// whatever is left in it.
func hostGroup(t *testing.T, m *Manager, name string, l Limits) *Group {
	t.Helper()
	g, err := m.Create(name, l)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	t.Cleanup(func() { endGroup(t, g, nil) })
	return g
}

// endGroup kills g, reaps cmd unless it is nil, waits for g to be empty
// and removes it. It reports whether Remove succeeded.
func endGroup(t *testing.T, g *Group, cmd *exec.Cmd) bool {
	t.Helper()
	if err := g.Kill(); err != nil {
		t.Errorf("Kill: %v", err)
	}
	if cmd != nil {
		_ = cmd.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.WaitEmpty(ctx); err != nil {
		t.Errorf("WaitEmpty: %v", err)
	}
	if err := g.Remove(); err != nil {
		t.Errorf("Remove: %v", err)
		return false
	}
	return true
}

// startIn starts cmd in g and registers its reaping.
func startIn(t *testing.T, g *Group, cmd *exec.Cmd) {
	t.Helper()
	if err := g.Start(cmd); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// firstLine connects cmd's stdout and returns a function that reads its
// first line, once cmd has started.
func firstLine(t *testing.T, cmd *exec.Cmd) func() (string, error) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	return func() (string, error) {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("read the process's first line: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
}

// mustLine calls line, and ends the test if it fails.
func mustLine(t *testing.T, line func() (string, error)) string {
	t.Helper()
	s, err := line()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// inGroup reports whether process pid is in every directory of g, as its
// /proc/PID/cgroup says.
func inGroup(g *Group, pid int) (bool, error) {
	cgs, err := readProcCgroup("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false, err
	}
	check := func(h *hierarchy, want string) (bool, error) {
		cg, ok := cgroupOf(cgs, h)
		if !ok {
			return false, nil
		}
		dir, err := h.dir(cg)
		return dir == want, err
	}
	if g.v2 != "" {
		if ok, err := check(g.m.v2, g.v2); !ok || err != nil {
			return false, err
		}
	}
	for i, h := range g.m.v1 {
		if g.v1[i] == "" {
			continue // a hierarchy the group's limits do not need
		}
		if ok, err := check(h, g.v1[i]); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// killAtEnd kills process pid when the test ends. It is for a process
// found outside its group, which the group's kill would miss; such a
// process sleeps until then, so its pid cannot have been reused.
func killAtEnd(t *testing.T, pid int) {
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
}

// dead reports whether process pid has died: it is gone, or a zombie
// waiting for its parent.
func dead(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	// The state follows the command name, which is in parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func TestHostDetectsHybrid(t *testing.T) {
	if !exists("/sys/fs/cgroup/unified/cgroup.procs") || !exists("/sys/fs/cgroup/memory/tasks") {
		t.Skip("skipped: this host is not hybrid (no cgroup2 mount at /sys/fs/cgroup/unified beside v1 memory)")
	}
	m := hostManager(t, "")
	if m.Mode() != ModeHybrid {
		t.Fatalf("Mode() = %q, want %q (reason %q)", m.Mode(), ModeHybrid, m.Reason())
	}
	// The memory hierarchy's parent is under this process's own memory
	// cgroup, which need not be the root.
	self, err := readProcCgroup("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	h := m.v1Hierarchy("memory")
	own, _ := cgroupOf(self, h)
	if got, want := h.parent, filepath.Join("/sys/fs/cgroup/memory", own, m.cfg.Parent); got != want {
		t.Errorf("memory parent = %s, want %s", got, want)
	}
}

func TestHostUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to run a helper as another user")
	}
	// A copy of the test binary that user nobody can run.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "cgroup.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "open", "rwtest-unprivileged")
	cmd.Env = []string{helperEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v: %s", err, out)
	}
	mode, reason, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if Mode(mode) != ModeNone {
		t.Errorf("as nobody, Mode() = %q, want %q", mode, ModeNone)
	}
	if !strings.Contains(reason, "run rw serve as root") {
		t.Errorf("as nobody, Reason() = %q, want a hint to run as root", reason)
	}
}

func TestHostMemoryLimit(t *testing.T) {
	m := hostManager(t, "")
	if m.mode != ModeV2 && m.v1Hierarchy("memory") == nil || m.mode == ModeV2 && !m.v2Controllers["memory"] {
		t.Skipf("skipped: no memory controller (%s)", m.Reason())
	}
	// Over the limit: the kernel kills the process, and the group says
	// so. Within it: the process lives, and the group says nothing.
	tests := []struct {
		name      string
		limit     int64
		alloc     string
		wantOOM   bool
		wantAlive bool
	}{
		{"over", 32 << 20, "64", true, false},
		{"within", 256 << 20, "16", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := hostGroup(t, m, "mem-"+tt.name, Limits{MemoryBytes: tt.limit})
			cmd := helperCmd("alloc", tt.alloc)
			var out strings.Builder
			cmd.Stdout = &out
			if err := g.Start(cmd); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			survived := strings.Contains(out.String(), "survived")
			if survived != tt.wantAlive {
				t.Errorf("survived = %v (wait: %v), want %v", survived, err, tt.wantAlive)
			}
			if !tt.wantAlive {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Errorf("wait: %v, want death by SIGKILL", err)
				}
			}
			if got := g.OOMKilled(); got != tt.wantOOM {
				t.Errorf("OOMKilled() = %v, want %v", got, tt.wantOOM)
			}
			// The kernel charges in batches, so a peak may pass the
			// limit by a few pages: only its presence is checked.
			if u := g.Usage(); u.MemoryPeakBytes == nil || *u.MemoryPeakBytes <= 0 {
				t.Errorf("MemoryPeakBytes = %v, want a positive count", fmtPtr(u.MemoryPeakBytes))
			}
		})
	}
}

func TestHostPidsLimit(t *testing.T) {
	m := hostManager(t, "")
	dir := ""
	if m.mode == ModeV2 && m.v2Controllers["pids"] {
		dir = "v2"
	} else if m.mode != ModeV2 && m.v1Hierarchy("pids") != nil {
		dir = "v1"
	} else {
		t.Skipf("skipped: no pids controller (%s)", m.Reason())
	}
	g := hostGroup(t, m, "pids", Limits{Pids: 32})
	if dir == "v2" {
		dir = g.v2
	} else {
		dir = g.v1Dir("pids")
	}
	// A shell that tries to start 100 sleepers: the kernel refuses the
	// forks past the limit, and the shell gives up.
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 100 ]; do sleep 600 & i=$((i+1)); done`)
	startIn(t, g, cmd)
	_ = cmd.Wait()
	pids, err := treePids(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) > 32 {
		t.Errorf("%d processes in the group, want at most 32", len(pids))
	}
	refused, err := readKeyed(filepath.Join(dir, "pids.events"), "max")
	if err != nil {
		t.Fatal(err)
	}
	if refused == 0 {
		t.Errorf("pids.events max = 0: no fork was refused, so the test proved nothing")
	}
}

func TestHostUsage(t *testing.T) {
	m := hostManager(t, "")
	g := hostGroup(t, m, "spin", Limits{})
	cmd := helperCmd("spin", "200ms")
	if err := g.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	// The group counts all the helper's CPU time, and more (its start).
	u := g.Usage()
	if u.CPUSeconds == nil || *u.CPUSeconds < 0.2 {
		t.Errorf("CPUSeconds = %v after a 0.2 s spin, want at least 0.2", fmtPtr(u.CPUSeconds))
	}
}

func TestHostCleanup(t *testing.T) {
	m := hostManager(t, "")
	// A stale group made by hand, as a server that died would leave it:
	// a sleeper inside, and directories in only some hierarchies.
	sleeper := exec.Command("sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
	})
	var dirs []string
	for i, h := range m.hierarchies() {
		if i > 1 {
			break // the first two hierarchies only
		}
		dir := filepath.Join(h.parent, "rw-99")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.rmdir(dir) })
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(sleeper.Process.Pid)); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	keep := filepath.Join(m.hierarchies()[0].parent, "keep")
	if err := os.Mkdir(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.rmdir(keep) })

	// While the first server lives, no other may use its parent.
	if other, err := Open(m.cfg); !errors.Is(err, ErrParentInUse) {
		if other != nil {
			other.Close()
		}
		t.Fatalf("a second Open of a parent in use: %v, want ErrParentInUse", err)
	}
	// The first server dies: the kernel drops its lock. The next server
	// opens the same parent, and cleans up.
	unix.Close(m.lockFD)
	m.lockFD = 0
	next, err := Open(m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { next.Close() })
	killed, removed, err := next.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if killed != 1 || removed != 1 {
		t.Errorf("Cleanup() = %d killed, %d removed; want 1, 1", killed, removed)
	}
	err = sleeper.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the stale group's sleeper: %v, want killed", err)
	}
	for _, dir := range dirs {
		if exists(dir) {
			t.Errorf("Cleanup left %s", dir)
		}
	}
	if !exists(keep) {
		t.Errorf("Cleanup removed %s, which is no job's", keep)
	}
}

func TestHostCreateRemoveCycles(t *testing.T) {
	m := hostManager(t, "")
	l := Limits{MemoryBytes: 64 << 20, CPUs: 0.5, Pids: 64}
	if err := m.supports(l); err != nil {
		l = Limits{}
	}
	for i := range 500 {
		g, err := m.Create(strconv.Itoa(i), l)
		if err != nil {
			t.Fatalf("cycle %d: Create: %v", i, err)
		}
		if err := g.Remove(); err != nil {
			t.Fatalf("cycle %d: Remove: %v", i, err)
		}
	}
	for _, h := range m.hierarchies() {
		entries, err := os.ReadDir(h.parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				t.Errorf("%s is left in %s", e.Name(), h.parent)
			}
		}
	}
}
