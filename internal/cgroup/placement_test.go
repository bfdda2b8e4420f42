//go:build linux

package cgroup

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// These tests use the host's real cgroups, as root (see hostManager).

func TestHostNoEscapeWindow(t *testing.T) {
	const n = 200
	for _, only := range hostModes(t) {
		t.Run("variant="+only, func(t *testing.T) {
			m := hostManager(t, only)
			before := threadCgroups(t)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			groups := make([]*Group, n)
			for i := range n {
				g := hostGroup(t, m, "fork-"+strconv.Itoa(i), Limits{})
				groups[i] = g
				// The shell forks at once and reports both pids.
				cmd := exec.Command("/bin/sh", "-c", `sleep 600 & echo $$ $!; wait`)
				line := firstLine(t, cmd)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := g.Start(cmd); err != nil {
						errs <- err
						return
					}
					t.Cleanup(func() {
						_ = g.Kill() // the shell waits for its sleeper
						_ = cmd.Wait()
					})
					errs <- checkPair(t, g, line)
				}()
			}
			wg.Wait()
			close(errs)
			escaped := 0
			for err := range errs {
				if err != nil {
					escaped++
					t.Error(err)
				}
			}
			if escaped > 0 {
				t.Errorf("%d of %d processes were not in their group", escaped, n)
			}
			// Every thread of this process is back where it was, once
			// the forking threads have left (as Kill, WaitEmpty and
			// Remove wait for).
			for _, g := range groups {
				g.awaitForks()
			}
			if after := threadCgroups(t); after != before {
				t.Errorf("this process's threads are in %s, were in %s", after, before)
			}
		})
	}
}

// checkPair reads "CHILD GRANDCHILD" from line and checks both are in g.
func checkPair(t *testing.T, g *Group, line func() (string, error)) error {
	s, err := line()
	if err != nil {
		return err
	}
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return errors.New("the shell did not report two pids")
	}
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return err
		}
		ok, err := inGroup(g, pid)
		if err != nil {
			return err
		}
		if !ok {
			killAtEnd(t, pid)
			return errors.New("process " + f + " is outside its group " + g.name)
		}
	}
	return nil
}

// threadCgroups returns the distinct cgroup sets of this process's threads,
// as one string.
func threadCgroups(t *testing.T) string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, task := range tasks {
		data, err := os.ReadFile("/proc/self/task/" + task.Name() + "/cgroup")
		if err != nil {
			continue // a thread that ended meanwhile
		}
		seen[string(data)] = true
	}
	var sets []string
	for s := range seen {
		sets = append(sets, s)
	}
	return strings.Join(sets, "|")
}

func TestHostStartFailure(t *testing.T) {
	for _, only := range hostModes(t) {
		t.Run("variant="+only, func(t *testing.T) {
			m := hostManager(t, only)
			g := hostGroup(t, m, "nofile", Limits{})
			before := threadCgroups(t)
			err := g.Start(exec.Command("/nonexistent/program"))
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Start: err = %v, want ErrNotExist", err)
			}
			g.awaitForks()
			if after := threadCgroups(t); after != before {
				t.Errorf("after a failed Start this process's threads are in %s, were in %s", after, before)
			}
		})
	}
}

func TestHostKillEscapees(t *testing.T) {
	for _, only := range hostModes(t) {
		t.Run("variant="+only, func(t *testing.T) {
			m := hostManager(t, only)
			g := hostGroup(t, m, "escape", Limits{})
			cmd := helperCmd("escape")
			line := firstLine(t, cmd)
			startIn(t, g, cmd)
			// "pids HELPER SETSID DAEMON"
			fields := strings.Fields(mustLine(t, line))
			if len(fields) != 4 || fields[0] != "pids" {
				t.Fatalf("helper said %q, want pids", fields)
			}
			var pids []int
			for _, f := range fields[1:] {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, pid)
				if ok, err := inGroup(g, pid); !ok || err != nil {
					killAtEnd(t, pid)
					t.Errorf("process %d is not in the group (%v)", pid, err)
				}
			}
			if err := g.Kill(); err != nil {
				t.Fatalf("Kill: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := g.WaitEmpty(ctx); err != nil {
				t.Fatalf("WaitEmpty: %v", err)
			}
			for _, pid := range pids {
				if !dead(pid) {
					t.Errorf("process %d outlived Kill and WaitEmpty", pid)
				}
			}
			if err := g.Remove(); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			for _, dir := range g.dirs() {
				if exists(dir) {
					t.Errorf("Remove left %s", dir)
				}
			}
		})
	}
}

func TestHostWaitEmpty(t *testing.T) {
	for _, only := range hostModes(t) {
		t.Run("variant="+only, func(t *testing.T) {
			m := hostManager(t, only)
			g := hostGroup(t, m, "wait", Limits{})
			cmd := helperCmd("sleep")
			line := firstLine(t, cmd)
			startIn(t, g, cmd)
			mustLine(t, line)
			// With a process inside, only the context ends the wait.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := g.WaitEmpty(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("WaitEmpty with a live process and a cancelled context: %v, want context.Canceled", err)
			}
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
				defer cancel()
				done <- g.WaitEmpty(ctx)
			}()
			if err := g.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Errorf("WaitEmpty after Kill: %v", err)
			}
			if !dead(cmd.Process.Pid) {
				t.Errorf("WaitEmpty returned with the process alive")
			}
		})
	}
}

// The forking thread leaves a group's v1 cgroups after Start has returned.
// A kill at once must wait for it: in the v1 cgroups it is this process,
// which a kill through cgroup.procs would signal, and the group cannot be
// removed while it is there. If this test fails, it may be by the test
// binary being killed.
func TestHostKillRightAfterStart(t *testing.T) {
	for _, only := range hostModes(t) {
		t.Run("variant="+only, func(t *testing.T) {
			m := hostManager(t, only)
			l := Limits{Pids: 64}
			if m.supports(l) != nil {
				l = Limits{}
			}
			for i := range 50 {
				g, err := m.Create(strconv.Itoa(i), l)
				if err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("/bin/sh", "-c", "sleep 600")
				if err := g.Start(cmd); err != nil {
					t.Fatal(err)
				}
				if !endGroup(t, g, cmd) {
					t.FailNow()
				}
			}
		})
	}
}
