//go:build linux

package worker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRecordsOutliveThePool(t *testing.T) {
	data := t.TempDir()
	a, err := New(Config{JobsDir: jobsDir, DataDir: data, Env: []string{testEnv}})
	if err != nil {
		t.Fatal(err)
	}
	first := start(t, a, "echo", "kept")
	wait(t, a, first)
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	b := newPool(t, Config{DataDir: data})
	s, err := b.Query(first)
	if err != nil || s.Status != StatusFinished || s.Owner != "alice" {
		t.Fatalf("job %d in the next pool: %+v, %v", first, s, err)
	}
	if out := string(readOutput(t, b, first)); out != "kept\n" {
		t.Errorf("its output in the next pool: %q", out)
	}
	if tail, _, err := b.Tail(first, 3); err != nil || string(tail) != "pt\n" {
		t.Errorf("its tail: %q, %v", tail, err)
	}
	if next := start(t, b, "exit", "0"); next <= first {
		t.Errorf("the next pool gave id %d after %d", next, first)
	}
}

// serveForCrash is the test binary as a server that dies with SIGKILL: it
// runs a pool on the data directory in RW_WORKER_TEST_CRASH, starts a job
// that sleeps, prints its id and pid once the job's running record (with
// that pid) is committed, and waits to be killed.
//
// The job printing "ready" does not say that: the record is committed on
// a goroutine of its own while the job runs, and a server killed before
// it leaves no pid for the next one to kill.
func serveForCrash(data string) {
	recorded := make(chan Snapshot, 1)
	p, err := New(Config{JobsDir: jobsDir, DataDir: data, Env: []string{testEnv},
		// Called once the running record is committed.
		OnChange: func(s Snapshot) {
			if s.Status == StatusRunning {
				recorded <- s
			}
		}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	id, err := p.Start(Spec{Owner: "alice", Path: helperName, Args: []string{"sleep", "1h"}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	r, _ := p.Follow(context.Background(), id, 0, true)
	line, _ := bufio.NewReader(r).ReadString('\n')
	s := <-recorded
	fmt.Printf("job %d pid %d %s", id, s.PID, line)
	select {}
}

func TestRecoveryAfterTheServerWasKilled(t *testing.T) {
	jobs := t.TempDir()
	copyFile(t, os.Args[0], jobs+"/"+helperName, 0o755)
	data := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RW_WORKER_TEST_CRASH="+data, "RW_WORKER_TEST_JOBS="+jobs)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	var id int64
	var pid int
	if _, perr := fmt.Sscanf(line, "job %d pid %d ready", &id, &pid); err != nil || perr != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the server said %q, %v", line, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !alive(pid) {
		t.Fatalf("the job %d died with its server: nothing to recover", pid)
	}

	p := newPool(t, Config{DataDir: data})
	if r := p.Recovered(); r.Jobs != 1 || r.Killed != 1 {
		t.Errorf("Recovered() = %+v, want 1 job and 1 process group killed", r)
	}
	if !gone(pid) {
		t.Errorf("the job's process %d outlived the recovery", pid)
	}
	s, err := p.Query(id)
	if err != nil || s.Status != StatusFailed || s.Reason != ReasonServerRestarted || s.ExitCode != nil {
		t.Errorf("the job after recovery: %s, %s, exit %v, %v; want failed, server-restarted, no exit code", s.Status, s.Reason, fmtCode(s.ExitCode), err)
	}
	if out := string(readOutput(t, p, id)); out != "ready\n" {
		t.Errorf("its output so far: %q, want it kept", out)
	}
	if next := start(t, p, "exit", "0"); next <= id {
		t.Errorf("id %d given after %d", next, id)
	}
}

func TestRetention(t *testing.T) {
	t.Run("by age", func(t *testing.T) {
		p := newPool(t, Config{Retain: time.Hour})
		id := start(t, p, "echo", "old")
		wait(t, p, id)
		p.sweep(time.Now())
		if _, err := p.Query(id); err != nil {
			t.Fatalf("a job that ended just now is gone: %v", err)
		}
		p.sweep(time.Now().Add(2 * time.Hour))
		if _, err := p.Query(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("a job that ended two hours ago under a 1h retention: %v", err)
		}
		if _, err := os.Stat(p.outputPath(id)); !os.IsNotExist(err) {
			t.Errorf("its output file: %v", err)
		}
	})
	t.Run("by count", func(t *testing.T) {
		p := newPool(t, Config{RetainJobs: 2})
		var ids []int64
		for range 4 {
			id := start(t, p, "exit", "0")
			wait(t, p, id)
			ids = append(ids, id)
		}
		p.sweep(time.Now())
		for i, id := range ids {
			_, err := p.Query(id)
			if kept := err == nil; kept != (i >= 2) {
				t.Errorf("job %d (of 4, 2 kept): kept %v", id, kept)
			}
		}
	})
	t.Run("by size", func(t *testing.T) {
		p := sizeBoundPool(t)
		ids := []int64{flooded(t, p), flooded(t, p)}
		// The third passes the bound: what it writes past it is dropped.
		s := wait(t, p, start(t, p, "flood", strconv.Itoa(floodSize)))
		if !s.OutputTruncated || !strings.Contains(s.OutputError, "max-data-size") {
			t.Errorf("a job past the data directory's bound: truncated %v, %q", s.OutputTruncated, s.OutputError)
		}
		// The sweep makes room: the oldest output goes first.
		p.sweep(time.Now())
		s, _ = p.Query(ids[0])
		if s.OutputSize != 0 || !strings.Contains(s.OutputError, "removed") {
			for _, x := range p.List() {
				t.Logf("job %d: ended %v size %d err %q", x.ID, x.EndedAt.Format(time.StampMicro), x.OutputSize, x.OutputError)
			}
			t.Logf("budget used %d", p.budget.used.Load())
			t.Errorf("the oldest job's output: %d bytes, %q; want it removed, and said so", s.OutputSize, s.OutputError)
		}
		if s, _ := p.Query(ids[1]); s.OutputSize != 8<<10 {
			t.Errorf("the newer job's output: %d bytes, want it kept", s.OutputSize)
		}
	})
}

func TestOutputWriteErrorIsRecorded(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a small tmpfs for a full disk needs root")
	}
	data := t.TempDir()
	if err := syscall.Mount("tmpfs", data, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(data, syscall.MNT_DETACH) })
	p := newPool(t, Config{DataDir: data})
	id := start(t, p, "flood", strconv.Itoa(4<<20))
	s := wait(t, p, id)
	if s.Status != StatusFinished || !s.OutputTruncated || !strings.Contains(s.OutputError, "no space left on device") {
		t.Errorf("a job whose output filled the disk: %s, truncated %v, %q; want finished, truncated, no space left", s.Status, s.OutputTruncated, s.OutputError)
	}
	// The pool goes on serving.
	if _, err := p.Query(id); err != nil {
		t.Errorf("query after the disk filled: %v", err)
	}
}

func TestDataDirectoryRemovedWhileServing(t *testing.T) {
	data := t.TempDir()
	var problems []string
	var mu sync.Mutex
	p := newPool(t, Config{DataDir: data, OnError: func(id int64, err error) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, err.Error())
	}})
	wait(t, p, start(t, p, "exit", "0"))
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	_, err := p.Start(Spec{Owner: "alice", Path: helperName, Args: []string{"exit", "0"}})
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "restart rw serve") {
		t.Errorf("a start with the store removed: %v, want ErrStorage saying what to do", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) == 0 {
		t.Errorf("the removed store was not reported")
	}
}

// TestSameProcess checks how recovery tells the job's process from an
// unrelated one that was given its pid later, against a real process with
// the times a record could hold. A spawn on a loaded host may take seconds
// before its start is recorded; the process is still the job's.
func TestSameProcess(t *testing.T) {
	before := time.Now()
	cmd := exec.Command("/bin/sleep", "1h")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := cmd.Process.Pid
	tests := []struct {
		name             string
		created, started time.Time
		want             bool
	}{
		{"started as recorded", before, after, true},
		{"a spawn that took a minute to return", before, after.Add(time.Minute), true},
		{"a job queued for an hour", before.Add(-time.Hour), after, true},
		{"a process that began after the job's start", before.Add(-2 * time.Hour), before.Add(-time.Hour), false},
		{"a process that began before the job was made", after.Add(time.Hour), after.Add(2 * time.Hour), false},
		{"a record with no start", before, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameProcess(pid, tc.created, tc.started); got != tc.want {
				t.Errorf("sameProcess(created %v, started %v before the process) = %v, want %v",
					before.Sub(tc.created).Round(time.Second), before.Sub(tc.started).Round(time.Second), got, tc.want)
			}
		})
	}
	if sameProcess(-1, before, after) {
		t.Errorf("sameProcess of no process = true, want false")
	}
}

// floodSize is the output of a job flooded runs: two such jobs' output
// stays under sizeBoundPool's bound, a third passes it.
const floodSize = 8 << 10

// sizeBoundPool is a pool whose data directory may hold 20 KiB of output,
// which logs the errors its jobs report.
func sizeBoundPool(t *testing.T) *Pool {
	t.Helper()
	return newPool(t, Config{MaxDataSize: 20 << 10, OnError: func(id int64, err error) { t.Logf("job %d: %v", id, err) }})
}

// flooded runs a job that writes floodSize bytes of output in p, and
// returns its id once it has ended.
func flooded(t *testing.T, p *Pool) int64 {
	t.Helper()
	id := start(t, p, "flood", strconv.Itoa(floodSize))
	wait(t, p, id)
	return id
}
