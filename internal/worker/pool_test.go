//go:build linux

package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newPool starts a pool on the test jobs directory and shuts it down when
// the test ends.
func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	if cfg.JobsDir == "" {
		cfg.JobsDir = jobsDir
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Env == nil {
		// A race-enabled helper sleeps a second before exiting with code 0
		// unless told not to.
		cfg.Env = append(slices.Clone(DefaultEnv), testEnv)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return p
}

// testEnv is added to the environment of the test jobs.
const testEnv = "GORACE=atexit_sleep_ms=0"

func start(t testing.TB, p *Pool, args ...string) int64 {
	t.Helper()
	id, err := p.Start(Spec{Owner: "alice", Path: helperName, Args: args})
	if err != nil {
		t.Fatalf("Start(%q): %v", args, err)
	}
	return id
}

func wait(t testing.TB, p *Pool, id int64) Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := p.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%d): %v", id, err)
	}
	return s
}

// readOutput reads the whole output of a job, following it until it ends.
func readOutput(t testing.TB, p *Pool, id int64) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := p.Follow(ctx, id, 0, true)
	if err != nil {
		t.Fatalf("Follow(%d): %v", id, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read output of %d: %v", id, err)
	}
	return b
}

// waitForLine follows a job's output until a line equal to want appears and
// returns the output up to there.
func waitForLine(t testing.TB, p *Pool, id int64, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := p.Follow(ctx, id, 0, true)
	if err != nil {
		t.Fatalf("Follow(%d): %v", id, err)
	}
	defer r.Close()
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		for _, line := range strings.Split(string(got), "\n") {
			if line == want {
				return string(got)
			}
		}
		if err != nil {
			t.Fatalf("job %d ended before printing %q: %v; output %q", id, want, err, got)
		}
	}
}

func TestJobOutcomes(t *testing.T) {
	p := newPool(t, Config{})
	tests := []struct {
		name       string
		args       []string
		wantStatus Status
		wantCode   int
		wantError  string
		wantReason Reason
		wantOut    string
	}{
		{"exit 0 with output", []string{"echo", "out", "err", "out2"}, StatusFinished, 0, "", ReasonExited, "out\nerr\nout2\n"},
		{"non-zero exit", []string{"exit", "3"}, StatusFailed, 3, "exited with code 3", ReasonExited, "exiting with 3\n"},
		{"killed by an outside signal", []string{"kill-self"}, StatusFailed, 137, "killed by signal 9 (SIGKILL)", ReasonSignaled, ""},
		{"unknown helper command", []string{"nope"}, StatusFailed, 2, "exited with code 2", ReasonExited, "helper: unknown command nope\n"},
		{"stdin is /dev/null", []string{"stdin"}, StatusFinished, 0, "", ReasonExited, "stdin 0 bytes err=<nil>\n"},
		{"arguments passed as they are", []string{"args", "", " a b ", "$HOME", "'\"", "--x"}, StatusFinished, 0, "", ReasonExited,
			"5\n\"\"\n\" a b \"\n\"$HOME\"\n\"'\\\"\"\n\"--x\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := start(t, p, tc.args...)
			s := wait(t, p, id)
			if s.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s (reason %q)", s.Status, tc.wantStatus, s.Error)
			}
			if s.ExitCode == nil || *s.ExitCode != tc.wantCode {
				t.Errorf("exit code = %v, want %d", s.ExitCode, tc.wantCode)
			}
			if s.Error != tc.wantError || s.Reason != tc.wantReason {
				t.Errorf("error, reason = %q, %q; want %q, %q", s.Error, s.Reason, tc.wantError, tc.wantReason)
			}
			if got := string(readOutput(t, p, id)); got != tc.wantOut {
				t.Errorf("output = %q, want %q", got, tc.wantOut)
			}
			if s.CreatedAt.IsZero() || s.StartedAt.Before(s.CreatedAt) || s.EndedAt.Before(s.StartedAt) {
				t.Errorf("times out of order: created %v started %v ended %v", s.CreatedAt, s.StartedAt, s.EndedAt)
			}
			if s.Owner != "alice" || s.Path != helperName {
				t.Errorf("owner, path = %q, %q, want alice, %s", s.Owner, s.Path, helperName)
			}
		})
	}
}

func TestEnvironmentIsNotInherited(t *testing.T) {
	t.Setenv("RW_SECRET_FOR_TEST", "leak")
	p := newPool(t, Config{})
	id := start(t, p, "env")
	wait(t, p, id)
	got := strings.Split(strings.TrimSpace(string(readOutput(t, p, id))), "\n")
	// HOME is the job's own working directory, and is where it runs.
	var home string
	got = slices.DeleteFunc(got, func(kv string) bool {
		v, ok := strings.CutPrefix(kv, "HOME=")
		if ok {
			home = v
		}
		return ok
	})
	want := append(append([]string{}, DefaultEnv...), testEnv, "RW_JOB_ID="+strconv.FormatInt(id, 10))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("environment = %q, want %q and HOME", got, want)
	}
	if !strings.HasPrefix(home, filepath.Join(p.workRoot, fmt.Sprintf("job-%d-", id))) {
		t.Errorf("HOME = %q, want the job's directory in %s", home, p.workRoot)
	}
}

func TestJobRunsInADirectoryOfItsOwn(t *testing.T) {
	p := newPool(t, Config{})
	a, b := start(t, p, "cwd"), start(t, p, "cwd")
	wa, wb := strings.TrimSpace(string(readOutput(t, p, a))), strings.TrimSpace(string(readOutput(t, p, b)))
	if wa == wb || !strings.HasPrefix(wa, p.workRoot+"/") || !strings.HasPrefix(wb, p.workRoot+"/") {
		t.Errorf("working directories %q and %q, want two of their own in %s", wa, wb, p.workRoot)
	}
	info, err := os.Stat(wa)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("%s has mode %v, want 0700", wa, info.Mode().Perm())
	}
	// Others may enter the parent, to reach their own, but not list it.
	if info, err := os.Stat(p.workRoot); err != nil || info.Mode().Perm() != 0o711 {
		t.Errorf("%s: %v, %v; want mode 0711", p.workRoot, info.Mode(), err)
	}
}

func TestStartRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	mustWrite := func(name string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(name, []byte("#!/bin/sh\necho hi\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(dir, "plain.txt"), 0o644)
	mustWrite(filepath.Join(dir, "ok.sh"), 0o755)
	mustWrite(filepath.Join(outside, "evil.sh"), 0o755)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(filepath.Join(dir, "sub", "inner.sh"), 0o755)
	for name, target := range map[string]string{
		"abs-link":    filepath.Join(outside, "evil.sh"),
		"rel-link":    filepath.Join("..", filepath.Base(outside), "evil.sh"),
		"dir-link":    outside,
		"inside-link": "ok.sh",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	p := newPool(t, Config{JobsDir: dir})

	tests := []struct {
		path string
		want error
	}{
		{"missing.sh", ErrNoSuchFile},
		{"sub/missing.sh", ErrNoSuchFile},
		{"plain.txt", ErrNotAllowed},
		{"sub", ErrNotAllowed},
		{".", ErrNotAllowed},
		{"", ErrNotAllowed},
		{"../" + filepath.Base(outside) + "/evil.sh", ErrNotAllowed},
		{"sub/../../x", ErrNotAllowed},
		{filepath.Join(outside, "evil.sh"), ErrNotAllowed},
		{"/bin/sh", ErrNotAllowed},
		{"abs-link", ErrNotAllowed},
		{"rel-link", ErrNotAllowed},
		{"dir-link/evil.sh", ErrNotAllowed},
		{"ok\x00.sh", ErrNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			id, err := p.Start(Spec{Path: tc.path})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Start(%q) = %d, %v; want %v", tc.path, id, err, tc.want)
			}
		})
	}
	if got := len(p.List()); got != 0 {
		t.Errorf("refused starts created %d jobs", got)
	}

	// The allowed ones run: a script through its interpreter, one in a
	// subdirectory and one through a symlink that stays inside.
	for _, path := range []string{"ok.sh", "sub/inner.sh", "inside-link"} {
		id, err := p.Start(Spec{Path: path})
		if err != nil {
			t.Fatalf("Start(%q): %v", path, err)
		}
		if s := wait(t, p, id); s.Status != StatusFinished {
			t.Errorf("%s: status %s (%s), want finished", path, s.Status, s.Error)
		}
		if got := string(readOutput(t, p, id)); got != "hi\n" {
			t.Errorf("%s: output %q, want %q", path, got, "hi\n")
		}
	}
}

func TestStartRefusesNULInArgs(t *testing.T) {
	p := newPool(t, Config{})
	if _, err := p.Start(Spec{Path: helperName, Args: []string{"a\x00b"}}); !errors.Is(err, ErrInvalidArgs) {
		t.Fatalf("Start with NUL in an argument: %v, want ErrInvalidArgs", err)
	}
}

func TestIDsStartAtOneAndAreNotReused(t *testing.T) {
	p := newPool(t, Config{Workers: 1, QueueSize: 1})
	long := start(t, p, "sleep", "1h")
	waitForLine(t, p, long, "ready")
	queued := start(t, p, "echo")
	if _, err := p.Start(Spec{Path: helperName}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Start on a full queue: %v, want ErrQueueFull", err)
	}
	if _, err := p.Start(Spec{Path: "missing"}); !errors.Is(err, ErrNoSuchFile) {
		t.Fatalf("Start of a missing file: %v", err)
	}
	if long != 1 || queued != 2 {
		t.Fatalf("ids = %d, %d; want 1, 2", long, queued)
	}
	if _, err := p.Stop(context.Background(), long); err != nil {
		t.Fatal(err)
	}
	wait(t, p, queued)
	if next := start(t, p, "echo"); next != 3 {
		t.Errorf("next id = %d, want 3 (refused starts take no id)", next)
	}
	if _, err := p.Query(0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Query(0): %v, want ErrNotFound", err)
	}
	if _, err := p.Query(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Query(99): %v, want ErrNotFound", err)
	}
	if _, err := p.Stop(context.Background(), 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stop(99): %v, want ErrNotFound", err)
	}
	if _, err := p.Follow(context.Background(), 99, 0, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("Follow(99): %v, want ErrNotFound", err)
	}
}

func TestSnapshotsAreCopies(t *testing.T) {
	p := newPool(t, Config{})
	args := []string{"echo", "x"}
	id, err := p.Start(Spec{Path: helperName, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	args[1] = "changed by the caller"
	s := wait(t, p, id)
	s.Args[0] = "changed by a reader"
	*s.ExitCode = 99
	again, _ := p.Query(id)
	if again.Args[0] != "echo" || again.Args[1] != "x" || *again.ExitCode != 0 {
		t.Errorf("snapshot shares memory with the pool: %+v", again)
	}
	if got := string(readOutput(t, p, id)); got != "x\n" {
		t.Errorf("output = %q, the job saw the caller's later change", got)
	}
}

func TestAllByteValuesRoundTrip(t *testing.T) {
	p := newPool(t, Config{})
	id := start(t, p, "bytes", "100")
	wait(t, p, id)
	var want bytes.Buffer
	for range 100 {
		for b := range 256 {
			want.WriteByte(byte(b))
		}
	}
	if got := readOutput(t, p, id); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("output differs: got %d bytes, want %d", len(got), want.Len())
	}
	tail, cut, err := p.Tail(id, 300)
	if err != nil || !cut || !bytes.Equal(tail, want.Bytes()[want.Len()-300:]) {
		t.Errorf("Tail(300) = %d bytes, cut %v, err %v", len(tail), cut, err)
	}
}

func TestStartFailedReason(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "badinterp.sh"), []byte("#!/nonexistent/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := newPool(t, Config{JobsDir: dir})
	id, err := p.Start(Spec{Owner: "alice", Path: "badinterp.sh"})
	if err != nil {
		t.Fatal(err)
	}
	s := wait(t, p, id)
	want := "could not start: interpreter /nonexistent/sh named by badinterp.sh's #! line does not exist: no such file or directory"
	if s.Status != StatusFailed || s.Reason != ReasonStartFailed || s.ExitCode != nil || s.Error != want {
		t.Errorf("job whose interpreter is missing: %s, %q, %v, %q; want failed, start-failed, no exit code, %q", s.Status, s.Reason, s.ExitCode, s.Error, want)
	}
	// Neither a binary nor a script.
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), []byte("\x00\x01 not a program\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	id, err = p.Start(Spec{Owner: "alice", Path: "data.bin"})
	if err != nil {
		t.Fatal(err)
	}
	s = wait(t, p, id)
	if want := "could not start: data.bin: exec format error: not a binary this host runs, and no #! line"; s.Error != want {
		t.Errorf("a file that is no program: %q, want %q", s.Error, want)
	}
}

func TestJobsPerUser(t *testing.T) {
	p := newPool(t, Config{Workers: 1, QueueSize: 8, MaxJobsPerUser: 2, StopTimeout: time.Second})
	start := func(owner string) (int64, error) {
		return p.Start(Spec{Owner: owner, Path: helperName, Args: []string{"sleep", "1h"}})
	}
	a1, err := start("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := start("alice"); !errors.Is(err, ErrUserBusy) {
		t.Fatalf("alice's third job: %v, want ErrUserBusy", err)
	}
	// Another user is not held back by alice.
	if _, err := start("bob"); err != nil {
		t.Fatalf("bob's first job while alice is at her bound: %v", err)
	}
	// One of alice's ends: she may start another.
	if _, err := p.Stop(context.Background(), a1); err != nil {
		t.Fatal(err)
	}
	if _, err := start("alice"); err != nil {
		t.Errorf("alice's job after one of hers ended: %v", err)
	}
}
