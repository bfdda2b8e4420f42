//go:build linux

package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pidsIn returns the pids a tree helper printed as "pid N" lines.
func pidsIn(t *testing.T, out string) []int {
	t.Helper()
	var pids []int
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "pid "); ok {
			pid, err := strconv.Atoi(rest)
			if err != nil {
				t.Fatalf("bad pid line %q", line)
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid is a live process. A zombie is dead: it only
// waits for a parent that is not rw (grandchildren are reparented) to reap it.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may hold
	// spaces, so look after the last ')'.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// gone waits for pid to die. SIGKILL cannot be caught or ignored, but the
// kernel delivers it at its own pace to processes that are not our children,
// which we cannot wait for; the bound is for liveness, not speed: it only
// ends a test whose process never dies, so it is generous enough for the
// most loaded host.
func gone(pid int) bool {
	deadline := time.Now().Add(time.Minute)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func TestStopRunningTree(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantReason string
		wantCode   int
	}{
		{"all exit on SIGTERM", []string{"tree"}, "stopped on request", 128 + int(syscall.SIGTERM)},
		// The leader exits on SIGTERM; the children that ignore it are
		// killed with the group once the leader is gone.
		{"children ignore SIGTERM", []string{"tree", "ignore-term"}, "stopped on request", 128 + int(syscall.SIGTERM)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, Config{StopTimeout: time.Minute})
			id := start(t, p, tc.args...)
			pids := pidsIn(t, waitForLine(t, p, id, "ready"))
			if len(pids) != 3 {
				t.Fatalf("want 3 pids (job, child, grandchild), got %v", pids)
			}
			s, err := p.Stop(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != StatusStopped || s.Error != tc.wantReason || s.Reason != ReasonStopped {
				t.Errorf("status %s, reason %q; want stopped, %q", s.Status, s.Error, tc.wantReason)
			}
			if s.ExitCode == nil || *s.ExitCode != tc.wantCode {
				t.Errorf("exit code %v, want %d", s.ExitCode, tc.wantCode)
			}
			if alive(pids[0]) {
				t.Errorf("the job's own process %d alive after Stop returned", pids[0])
			}
			for _, pid := range pids[1:] {
				if !gone(pid) {
					t.Errorf("pid %d still alive after Stop returned", pid)
				}
			}
		})
	}
}

func TestStopKillsAfterGracePeriod(t *testing.T) {
	p := newPool(t, Config{StopTimeout: 200 * time.Millisecond})
	id := start(t, p, "ignore-term")
	waitForLine(t, p, id, "ready")
	s, err := p.Stop(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusStopped || s.ExitCode == nil || *s.ExitCode != 137 {
		t.Fatalf("got %s, code %v; want stopped with 137", s.Status, s.ExitCode)
	}
	if !strings.Contains(s.Error, "killed with SIGKILL") {
		t.Errorf("reason %q does not say the job was killed", s.Error)
	}
	if !gone(s.PID) {
		t.Errorf("pid %d alive after Stop", s.PID)
	}
}

func TestStopIsIdempotent(t *testing.T) {
	p := newPool(t, Config{})
	running := start(t, p, "sleep", "1h")
	waitForLine(t, p, running, "ready")
	first, err := p.Stop(context.Background(), running)
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Stop(context.Background(), running)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != StatusStopped || second.Status != first.Status || !second.EndedAt.Equal(first.EndedAt) || second.Error != first.Error {
		t.Errorf("second Stop changed the job: %+v then %+v", first, second)
	}

	finished := start(t, p, "exit", "0")
	before := wait(t, p, finished)
	after, err := p.Stop(context.Background(), finished)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != StatusFinished || !after.EndedAt.Equal(before.EndedAt) {
		t.Errorf("Stop of a finished job changed it: %+v", after)
	}
}

func TestStopQueuedJobNeverStarts(t *testing.T) {
	p := newPool(t, Config{Workers: 1, QueueSize: 2})
	busy := start(t, p, "sleep", "1h")
	waitForLine(t, p, busy, "ready")
	queued := start(t, p, "echo", "must not run")
	s, err := p.Stop(context.Background(), queued)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusStopped || s.Reason != ReasonStopped || s.ExitCode != nil || !s.StartedAt.IsZero() || s.PID != 0 {
		t.Errorf("stopped queued job: %+v", s)
	}
	// Its place in the queue is free again.
	a := start(t, p, "echo", "a")
	b := start(t, p, "echo", "b")
	if _, err := p.Start(Spec{Path: helperName}); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third queued Start: %v, want ErrQueueFull", err)
	}
	p.Stop(context.Background(), busy)
	for _, id := range []int64{a, b} {
		if s := wait(t, p, id); s.Status != StatusFinished {
			t.Errorf("job %d: %s", id, s.Status)
		}
	}
	if s, _ := p.Query(queued); s.Status != StatusStopped || len(readOutput(t, p, queued)) != 0 {
		t.Errorf("the stopped job ran after all: %+v", s)
	}
}

func TestStopContextEnds(t *testing.T) {
	p := newPool(t, Config{StopTimeout: 300 * time.Millisecond})
	id := start(t, p, "ignore-term")
	waitForLine(t, p, id, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Stop(ctx, id); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a done context: %v", err)
	}
	// The stop goes on without the caller.
	if s := wait(t, p, id); s.Status != StatusStopped {
		t.Errorf("status %s, want stopped", s.Status)
	}
}

func TestGrandchildHoldingOutputDoesNotKeepJobAlive(t *testing.T) {
	p := newPool(t, Config{})
	id := start(t, p, "orphan")
	s := wait(t, p, id)
	if s.Status != StatusFinished {
		t.Errorf("status %s (%s), want finished", s.Status, s.Error)
	}
	// The grandchild was in the job's group and went with it; a process
	// that left the group is cut off after the drain timeout.
	id = start(t, p, "escape")
	s = wait(t, p, id)
	pids := pidsIn(t, string(readOutput(t, p, id)))
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if s.Status != StatusFinished || len(pids) != 1 {
		t.Errorf("status %s (%s), pids %v", s.Status, s.Error, pids)
	}
}

func TestShutdown(t *testing.T) {
	data := t.TempDir()
	p, err := New(Config{JobsDir: jobsDir, DataDir: data, Workers: 2, QueueSize: 4, StopTimeout: 300 * time.Millisecond, Env: []string{testEnv}})
	if err != nil {
		t.Fatal(err)
	}
	a := start(t, p, "sleep", "1h")
	b := start(t, p, "ignore-term")
	q1 := start(t, p, "echo", "never")
	q2 := start(t, p, "echo", "never")
	waitForLine(t, p, a, "ready")
	waitForLine(t, p, b, "ready")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The records outlive the pool: the next one on the data directory
	// finds every job stopped.
	next := newPool(t, Config{DataDir: data})
	if r := next.Recovered(); r.Jobs != 0 {
		t.Errorf("a clean shutdown left %d jobs to recover", r.Jobs)
	}
	for _, id := range []int64{a, b, q1, q2} {
		s, _ := next.Query(id)
		if s.Status != StatusStopped {
			t.Errorf("job %d: %s, want stopped", id, s.Status)
		}
		if s.PID != 0 && alive(s.PID) {
			t.Errorf("job %d: pid %d alive after Shutdown", id, s.PID)
		}
	}
	if _, err := p.Start(Spec{Path: helperName}); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Start after Shutdown: %v", err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestKillSkipsTheGracePeriod(t *testing.T) {
	p := newPool(t, Config{StopTimeout: time.Hour})
	id := start(t, p, "ignore-term")
	waitForLine(t, p, id, "ready")
	stopped := make(chan Snapshot, 1)
	go func() {
		s, _ := p.Stop(context.Background(), id)
		stopped <- s
	}()
	// Stop is now waiting out an hour's grace period; Kill ends it.
	p.Kill()
	s := <-stopped
	if s.Status != StatusStopped || s.ExitCode == nil || *s.ExitCode != 137 {
		t.Fatalf("after Kill: %s, code %v", s.Status, s.ExitCode)
	}
	// Later stops skip the grace period too.
	id = start(t, p, "ignore-term")
	waitForLine(t, p, id, "ready")
	if s, _ := p.Stop(context.Background(), id); s.Status != StatusStopped || *s.ExitCode != 137 {
		t.Fatalf("stop after Kill: %s", s.Status)
	}
}

func TestKilledByAnOutsideSignal(t *testing.T) {
	p := newPool(t, Config{})
	id := start(t, p, "sleep", "1h")
	waitForLine(t, p, id, "ready")
	s, _ := p.Query(id)
	if err := syscall.Kill(s.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s = wait(t, p, id)
	if s.Status != StatusFailed || s.ExitCode == nil || *s.ExitCode != 143 || s.Error != "killed by signal 15 (SIGTERM)" {
		t.Errorf("got %s, code %v, reason %q; want failed, 143, killed by SIGTERM", s.Status, s.ExitCode, s.Error)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

func TestNoFileDescriptorLeaks(t *testing.T) {
	before := openFDs(t)
	p, err := New(Config{JobsDir: jobsDir, DataDir: t.TempDir(), Workers: 2, QueueSize: 8, StopTimeout: 100 * time.Millisecond, Env: []string{testEnv}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, args := range [][]string{{"echo", "x"}, {"exit", "3"}, {"kill-self"}, {"sleep", "1h"}, {"ignore-term"}, {"orphan"}, {"echo", "queued"}, {"echo", "queued"}} {
		ids = append(ids, start(t, p, args...))
	}
	if _, err := p.Start(Spec{Path: "missing"}); err == nil {
		t.Fatal("missing file started")
	}
	// Readers left open by their users are theirs to close; these close.
	for _, id := range ids[:3] {
		readOutput(t, p, id)
	}
	p.Stop(context.Background(), ids[6])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d file descriptors open after Shutdown, %d before", after, before)
	}
}

// waitStatus polls job id until it is in status want.
func waitStatus(t *testing.T, p *Pool, id int64, want Status) Snapshot {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := p.Query(id)
		if err == nil && s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s (%v), never %s", id, s.Status, err, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStopShowsStoppingAndASecondStopShortensTheGrace(t *testing.T) {
	p := newPool(t, Config{StopTimeout: time.Hour})
	id := start(t, p, "ignore-term")
	waitForLine(t, p, id, "ready")
	first := make(chan Snapshot, 1)
	go func() {
		s, _ := p.Stop(context.Background(), id)
		first <- s
	}()
	// The job ignores SIGTERM: it stays stopping for the hour's grace
	// period, unless a shorter stop cuts it.
	waitStatus(t, p, id, StatusStopping)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := p.StopWithin(ctx, id, 0)
	if err != nil {
		t.Fatalf("a second stop with no grace period: %v", err)
	}
	if s.Status != StatusStopped || s.ExitCode == nil || *s.ExitCode != 137 || !strings.Contains(s.Error, "SIGKILL") {
		t.Errorf("after the second stop: %s, code %v, %q; want stopped, 137, killed with SIGKILL", s.Status, fmtCode(s.ExitCode), s.Error)
	}
	if s := <-first; s.Status != StatusStopped {
		t.Errorf("the first stop returned %s, want stopped", s.Status)
	}
	// A longer grace period does not lengthen a shorter one under way,
	// and a stop of an ended job leaves it as it was.
	if again, err := p.StopWithin(ctx, id, time.Hour); err != nil || again.Status != StatusStopped || !again.EndedAt.Equal(s.EndedAt) {
		t.Errorf("stop of the stopped job: %s, %v", again.Status, err)
	}
}

func TestStopWithNoGraceSendsSIGKILLAlone(t *testing.T) {
	p := newPool(t, Config{StopTimeout: time.Hour})
	// "sleep" dies of SIGTERM (143): 137 says it got SIGKILL first.
	id := start(t, p, "sleep", "1h")
	waitForLine(t, p, id, "ready")
	s, err := p.StopWithin(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusStopped || s.Reason != ReasonStopped || s.ExitCode == nil || *s.ExitCode != 137 {
		t.Errorf("got %s, %s, code %v; want stopped, stopped, 137", s.Status, s.Reason, fmtCode(s.ExitCode))
	}
}

func TestStopWithinRefusesAGraceOverThePools(t *testing.T) {
	p := newPool(t, Config{StopTimeout: 2 * time.Second})
	id := start(t, p, "sleep", "1h")
	waitForLine(t, p, id, "ready")
	for _, grace := range []time.Duration{-time.Second, 3 * time.Second} {
		_, err := p.StopWithin(context.Background(), id, grace)
		if !errors.Is(err, ErrInvalidTimeout) || !strings.Contains(err.Error(), "2s") {
			t.Errorf("StopWithin(%v): %v, want ErrInvalidTimeout naming the maximum, 2s", grace, err)
		}
	}
	if s, _ := p.Query(id); s.Status != StatusRunning {
		t.Errorf("a refused stop changed the job: %s", s.Status)
	}
	if s, err := p.StopWithin(context.Background(), id, 2*time.Second); err != nil || s.Status != StatusStopped {
		t.Errorf("StopWithin the maximum: %s, %v", s.Status, err)
	}
}
