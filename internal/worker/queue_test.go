//go:build linux

package worker

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/store"
)

// positionOf is a snapshot's place in the queue as text, for messages.
func positionOf(s Snapshot) string {
	if s.QueuePosition == nil {
		return "none"
	}
	return strconv.Itoa(*s.QueuePosition)
}

func TestQueuedJobsSayHowManyAreAhead(t *testing.T) {
	var mu sync.Mutex
	reportedQueued := map[int64]bool{} // the jobs reported queued
	p := newPool(t, Config{Workers: 1, QueueSize: 4, OnChange: func(s Snapshot) {
		mu.Lock()
		defer mu.Unlock()
		if s.Status == StatusQueued && s.QueuePosition != nil {
			reportedQueued[s.ID] = true
		}
	}})
	busy := start(t, p, "sleep", "1h")
	waitForLine(t, p, busy, "ready")
	queued := []int64{start(t, p, "echo", "a"), start(t, p, "echo", "b"), start(t, p, "echo", "c")}

	check := func(when string, want map[int64]int) {
		t.Helper()
		for id, ahead := range want {
			s, err := p.Query(id)
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != StatusQueued || s.QueuePosition == nil || *s.QueuePosition != ahead {
				t.Errorf("%s: job %d is %s with %q ahead; want queued with %d ahead", when, id, s.Status, positionOf(s), ahead)
			}
		}
		// A list says the same as a query.
		for _, s := range p.List() {
			if ahead, ok := want[s.ID]; ok && (s.QueuePosition == nil || *s.QueuePosition != ahead) {
				t.Errorf("%s: the list shows job %d with %q ahead, want %d", when, s.ID, positionOf(s), ahead)
			}
		}
	}
	check("three queued", map[int64]int{queued[0]: 0, queued[1]: 1, queued[2]: 2})
	if s, _ := p.Query(busy); s.Status != StatusRunning || s.QueuePosition != nil {
		t.Errorf("the running job: %s with %q ahead; want running, and no place in the queue", s.Status, positionOf(s))
	}

	// A job stopped in the queue leaves it: the ones behind move up.
	if s, err := p.Stop(context.Background(), queued[1]); err != nil || s.Status != StatusStopped || s.QueuePosition != nil {
		t.Fatalf("stop of a queued job: %s with %q ahead, %v", s.Status, positionOf(s), err)
	}
	check("the middle one stopped", map[int64]int{queued[0]: 0, queued[2]: 1})

	p.Stop(context.Background(), busy)
	for _, id := range []int64{queued[0], queued[2]} {
		if s := wait(t, p, id); s.Status != StatusFinished || s.QueuePosition != nil {
			t.Errorf("job %d: %s with %q ahead, want finished", id, s.Status, positionOf(s))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range append(queued, busy) {
		if !reportedQueued[id] {
			t.Errorf("job %d was never reported queued", id)
		}
	}
}

func TestQueuedJobIsRecoveredAsFailed(t *testing.T) {
	// A server that died with a job queued left its record so.
	data := t.TempDir()
	st, err := store.Open(filepath.Join(data, StoreFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Create(store.Record{Owner: "alice", Path: helperName, Status: string(StatusQueued), CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	p := newPool(t, Config{DataDir: data})
	if got := p.Recovered(); got.Jobs != 1 || got.Killed != 0 {
		t.Errorf("Recovered() = %+v, want 1 job and nothing killed", got)
	}
	s, err := p.Query(r.ID)
	if err != nil || s.Status != StatusFailed || s.Reason != ReasonServerRestarted || !strings.Contains(s.Error, "queued") || !s.StartedAt.IsZero() {
		t.Errorf("the queued job after recovery: %s, %s, %q, started %v, %v; want failed, server-restarted, saying it was queued, never started",
			s.Status, s.Reason, s.Error, s.StartedAt, err)
	}
}

// TestWaitStartedWaitsOnlyForAFreeWorker checks that WaitStarted returns a
// job a free worker took once it runs, and one that waits behind a busy
// worker at once, queued, without waiting for its context to end.
func TestWaitStartedWaitsOnlyForAFreeWorker(t *testing.T) {
	p := newPool(t, Config{Workers: 1, QueueSize: 4})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	busy := start(t, p, "sleep", "1h")
	s, err := p.WaitStarted(ctx, busy)
	if err != nil || s.Status != StatusRunning || s.PID == 0 {
		t.Fatalf("the job the free worker took: %s, pid %d, %v; want running with a pid", s.Status, s.PID, err)
	}
	for ahead := range 2 {
		id := start(t, p, "echo", "a")
		s, err := p.WaitStarted(ctx, id)
		if err != nil || ctx.Err() != nil || s.Status != StatusQueued || s.QueuePosition == nil || *s.QueuePosition != ahead {
			t.Errorf("job %d behind the busy worker: %s with %q ahead, %v, context %v; want queued with %d ahead at once",
				id, s.Status, positionOf(s), err, ctx.Err(), ahead)
		}
	}

	// A job that has ended is returned as it ended, from memory or the
	// store.
	if _, err := p.Stop(ctx, busy); err != nil {
		t.Fatal(err)
	}
	if s, err := p.WaitStarted(ctx, busy); err != nil || s.Status != StatusStopped {
		t.Errorf("the stopped job: %s, %v; want stopped", s.Status, err)
	}
	if _, err := p.WaitStarted(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("a job that does not exist: %v, want ErrNotFound", err)
	}
}
