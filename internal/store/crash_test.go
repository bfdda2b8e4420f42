package store

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKillDurability runs a writer process (the test binary as a helper)
// that creates and finishes jobs from several goroutines and prints each
// write once it has returned; it is killed with SIGKILL at a random moment,
// and every write it printed must be in the file. Rounds on the same file
// also check that ids keep growing across crashes.
func TestKillDurability(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	var last int64
	for round := range 3 {
		created, finished := killWriter(t, path, 50+rand.IntN(400))
		if len(created) == 0 {
			t.Fatalf("round %d: the writer printed nothing", round)
		}
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
		}
		for _, id := range created {
			if id <= last {
				t.Errorf("round %d: id %d given again (ids up to %d were given before)", round, id, last)
			}
			if _, err := s.Get(id); err != nil {
				t.Errorf("round %d: job %d was created before the kill: %v", round, id, err)
			}
		}
		for _, id := range finished {
			if r, err := s.Get(id); err != nil || r.Status != StatusFinished {
				t.Errorf("round %d: job %d was finished before the kill: got status %q, %v", round, id, r.Status, err)
			}
		}
		var top int64
		s.Scan(0, func(r Record) bool { top = r.ID; return true })
		last = max(last, top)
		t.Logf("round %d: %d jobs created, %d finished before the kill", round, len(created), len(finished))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// killWriter runs the create-loop helper on path, kills it with SIGKILL
// once it has printed after lines, and returns the ids it printed as
// created and as finished.
func killWriter(t *testing.T, path string, after int) (created, finished []int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], path, "4")
	cmd.Env = append(os.Environ(), helperEnv+"=create-loop")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The lines printed after the kill was decided are read too: the
	// process printed them, so their writes returned.
	var bad []string
	lines := bufio.NewScanner(out)
	for n := 0; lines.Scan(); n++ {
		if n == after {
			cmd.Process.Signal(syscall.SIGKILL)
		}
		what, num, _ := strings.Cut(lines.Text(), " ")
		id, err := strconv.ParseInt(num, 10, 64)
		switch {
		case err != nil:
			bad = append(bad, lines.Text())
		case what == "created":
			created = append(created, id)
		case what == "finished":
			finished = append(finished, id)
		default:
			bad = append(bad, lines.Text())
		}
	}
	// Should the writer have stopped printing early, it is killed now.
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	if len(bad) > 0 {
		t.Fatalf("the writer printed lines that are not writes: %q", bad)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the writer ended with %v before it was killed; its stderr:\n%s", err, stderr.Bytes())
	}
	return created, finished
}

// createLoop is the writer that TestKillDurability kills: it opens the store
// at args[0] and, from args[1] goroutines, creates and finishes jobs until
// it is killed, printing "created ID" and "finished ID" once each write
// has returned.
func createLoop(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: create-loop PATH WRITERS")
		return 2
	}
	writers, err := strconv.Atoi(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := Open(args[0], Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var (
		mu sync.Mutex // one whole line per write to stdout
		wg sync.WaitGroup
	)
	say := func(what string, id int64) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, "%s %d\n", what, id)
		mu.Unlock()
	}
	for range writers {
		wg.Go(func() {
			for {
				r, err := s.Create(queued("alice"))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				say("created", r.ID)
				if err := s.Put(ended(r, StatusFinished, time.Now(), 18)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				say("finished", r.ID)
			}
		})
	}
	wg.Wait() // never: the loop ends when the process is killed
	return 0
}
