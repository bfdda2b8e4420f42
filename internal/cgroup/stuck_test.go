//go:build linux

package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests use the host's real cgroups, as root (see hostManager). They
// are about a thread of the server left in a group's v1 cgroups: what
// Start's forking thread is when it cannot move back. If one fails, it
// may be by the test binary being killed.

// A group whose cgroup.procs lists the server itself, because a thread of
// it is in the group, is killed all the same, and the server is spared.
func TestHostKillSparesTheServer(t *testing.T) {
	for _, only := range hostModes(t) {
		t.Run("variant="+only, func(t *testing.T) {
			m := hostManager(t, only)
			g := hostGroup(t, m, "stuck", Limits{})
			if g.v1Track() == "" {
				t.Skip("skipped: no v1 cgroup for a thread to stay in")
			}
			cmd := exec.Command("/bin/sh", "-c", "sleep 600")
			startIn(t, g, cmd)

			entered := make(chan error)
			release := make(chan struct{})
			left := make(chan error)
			go stayIn(g, entered, release, left)
			if err := <-entered; err != nil {
				t.Fatal(err)
			}
			err := g.Kill()
			close(release)
			if err != nil {
				t.Errorf("Kill: %v", err)
			}
			if err := <-left; err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Errorf("the job's process ended with %v, want killed by SIGKILL", cmd.ProcessState)
			}
		})
	}
}

// stayIn moves the current thread into g's v1 cgroups, as Start's forking
// thread does, reports on entered, waits for release and moves the thread
// back, reporting on left. A thread it could not move back dies with the
// goroutine.
func stayIn(g *Group, entered chan<- error, release <-chan struct{}, left chan<- error) {
	runtime.LockOSThread()
	tid := strconv.Itoa(unix.Gettid())
	back, moved, err := g.enterV1(tid)
	entered <- err
	<-release
	if g.leaveV1(tid, back, moved) {
		left <- fmt.Errorf("thread %s could not leave the group's cgroups", tid)
		return
	}
	runtime.UnlockOSThread()
	left <- nil
}

// A forking thread that cannot move back to the cgroups it came from
// (gone, say) goes to the server's own instead: left in the job's, it
// would keep the group from being removed until the Go runtime destroys
// it, and the main thread, which the runtime never destroys, for good.
func TestHostForkingThreadThatCannotMoveBack(t *testing.T) {
	for _, only := range hostModes(t) {
		t.Run("variant="+only, func(t *testing.T) {
			before := threadCgroups(t)
			m := hostManager(t, only)
			// The forking thread reads where to move back from this
			// file: cgroups below its own that do not exist.
			b := make([]byte, 6)
			rand.Read(b)
			self, err := os.ReadFile("/proc/thread-self/cgroup")
			if err != nil {
				t.Fatal(err)
			}
			var fake strings.Builder
			for line := range strings.Lines(string(self)) {
				fake.WriteString(strings.TrimSuffix(line, "\n"))
				fake.WriteString("/rwtest-gone-" + hex.EncodeToString(b) + "\n")
			}
			m.root = t.TempDir()
			writeTestFile(t, filepath.Join(m.root, "proc/thread-self/cgroup"), fake.String())

			for i := range 20 {
				g, err := m.Create(strconv.Itoa(i), Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if g.v1Track() == "" {
					t.Skip("skipped: no v1 cgroup for the forking thread to join")
				}
				cmd := exec.Command("/bin/sh", "-c", "sleep 600")
				if err := g.Start(cmd); err != nil {
					t.Fatalf("Start: %v", err)
				}
				g.awaitForks()
				for _, dir := range g.v1 {
					if dir == "" {
						continue
					}
					for _, tid := range readTestPids(t, filepath.Join(dir, "tasks")) {
						if exists("/proc/self/task/" + strconv.Itoa(tid)) {
							t.Errorf("thread %d of this process is still in %s after Start", tid, dir)
						}
					}
				}
				if !endGroup(t, g, cmd) {
					t.FailNow()
				}
			}
			if after := threadCgroups(t); after != before {
				t.Errorf("this process's threads are in %s, were in %s", after, before)
			}
		})
	}
}

// readTestPids reads a tasks or cgroup.procs file; a file gone reads as
// empty.
func readTestPids(t *testing.T, file string) []int {
	t.Helper()
	pids, err := readPids(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return pids
}
