package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv, when set, makes the test binary run a helper (the os/exec
// helper-process pattern) instead of the tests: its value names which.
const helperEnv = "RW_STORE_TEST_HELPER"

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name, os.Args[1:]))
	}
	code := m.Run()
	if code == 0 {
		// Every goroutine the store starts (batch commits, checks) must
		// have ended once the stores are closed.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// runHelper runs the helper name with args and returns its exit code.
func runHelper(name string, args []string) int {
	switch name {
	case "create-loop":
		return createLoop(args)
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
	return 2
}

// openTemp opens a new store in a temporary directory and closes it when
// the test ends.
func openTemp(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// reopen closes s and opens its file again.
func reopen(t testing.TB, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err := Open(s.Path(), Options{})
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// base is a time to build records' times from. Times in the store lose
// their monotonic reading and their location, so tests compare them with
// Equal.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// queued is a new job's record as a worker would create it.
func queued(owner string) Record {
	return Record{
		Owner:     owner,
		Path:      "add.exe",
		Args:      []string{"8", "10"},
		Status:    "starting",
		CreatedAt: base,
		Limits:    Limits{MemoryBytes: 64 << 20, CPUs: 0.5, Pids: 32},
		Timeout:   90 * time.Second,
	}
}

// ended is r made final with status at the given time.
func ended(r Record, status string, at time.Time, output int64) Record {
	code := 0
	if status != StatusFinished {
		code = 1
	}
	r.Status = status
	r.ExitCode = &code
	r.Reason = "exited"
	r.StartedAt = at.Add(-time.Second)
	r.EndedAt = at
	r.OutputSize = output
	return r
}

// mustCreate creates r and fails the test if it cannot.
func mustCreate(t testing.TB, s *Store, r Record) Record {
	t.Helper()
	got, err := s.Create(r)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return got
}

// mustPut puts r and fails the test if it cannot.
func mustPut(t testing.TB, s *Store, r Record) {
	t.Helper()
	if err := s.Put(r); err != nil {
		t.Fatalf("Put(%d): %v", r.ID, err)
	}
}

// ids lists the ids Scan gives after after.
func ids(t testing.TB, s *Store, after int64) []int64 {
	t.Helper()
	var got []int64
	if err := s.Scan(after, func(r Record) bool {
		got = append(got, r.ID)
		return true
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return got
}
