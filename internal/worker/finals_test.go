//go:build linux

package worker

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func finalSnapshot(id int64) Snapshot {
	code := 0
	return Snapshot{ID: id, Owner: "alice", Args: []string{"a", strconv.FormatInt(id, 10)}, Status: StatusFinished, ExitCode: &code}
}

// TestFinalCacheIsBounded keeps many more snapshots than the cache holds,
// forgetting and keeping some again on the way (which leaves ids in the
// ring that are no longer kept), and checks that it never holds more than
// finalCacheSize and keeps the newest.
func TestFinalCacheIsBounded(t *testing.T) {
	c := newFinalCache()
	for id := int64(1); id <= 5*finalCacheSize; id++ {
		c.put(finalSnapshot(id), c.generation())
		if id%3 == 0 {
			c.forget(id - 1)
			c.put(finalSnapshot(id-1), c.generation())
		}
		if n := c.len(); n > finalCacheSize {
			t.Fatalf("after %d puts the cache holds %d snapshots, want at most %d", id, n, finalCacheSize)
		}
	}
	last := int64(5 * finalCacheSize)
	if s, ok := c.get(last); !ok || s.ID != last {
		t.Errorf("the newest snapshot (%d): %v, %v; want it kept", last, s.ID, ok)
	}
	if _, ok := c.get(1); ok {
		t.Errorf("the oldest snapshot is still kept")
	}
}

// TestFinalCacheDropsAReadThatRacedAForget checks that a snapshot read
// before a change of its record is not kept after the change.
func TestFinalCacheDropsAReadThatRacedAForget(t *testing.T) {
	c := newFinalCache()
	gen := c.generation()
	stale := finalSnapshot(7)
	c.forget(7) // the record changes after the read, before the put
	c.put(stale, gen)
	if _, ok := c.get(7); ok {
		t.Errorf("a snapshot read before its record changed was kept")
	}
	c.put(finalSnapshot(7), c.generation())
	if _, ok := c.get(7); !ok {
		t.Errorf("a snapshot read after the change was not kept")
	}
}

// TestFinalCacheHandsOutCopies checks that changing a snapshot the cache
// returned does not change what it returns next.
func TestFinalCacheHandsOutCopies(t *testing.T) {
	c := newFinalCache()
	s := finalSnapshot(3)
	c.put(s, c.generation())
	s.Args[0], *s.ExitCode = "changed", 9
	got, _ := c.get(3)
	got.Args[1], *got.ExitCode = "changed", 9
	again, ok := c.get(3)
	if !ok || again.Args[0] != "a" || again.Args[1] != "3" || *again.ExitCode != 0 {
		t.Errorf("cached snapshot after its copies changed: args %q, exit code %d; want [a 3], 0", again.Args, *again.ExitCode)
	}
}

// TestQueryOfAFinalJobSeesItsRecordChange queries ended jobs (which keeps
// them in the cache), then changes their records the two ways a final
// record changes, and checks that queries see the change: retention
// dropping the output, and removal.
func TestQueryOfAFinalJobSeesItsRecordChange(t *testing.T) {
	p := sizeBoundPool(t)
	query := func(id int64) {
		t.Helper()
		// An ended job leaves the live ones a moment after Wait returns;
		// only then is it read from the store.
		for deadline := time.Now().Add(time.Minute); p.liveJob(id) != nil; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("job %d is still live a minute after it ended", id)
			}
		}
		if s, err := p.Query(id); err != nil || !s.Status.Final() {
			t.Fatalf("Query(%d): %v, %v; want a final job", id, s.Status, err)
		}
		if _, ok := p.finals.get(id); !ok {
			t.Fatalf("job %d is not cached after a query", id)
		}
	}
	// Two jobs' output is under the bound, so retention changes no record
	// while they are queried: a change would keep a read from the cache.
	ids := []int64{flooded(t, p), flooded(t, p)}
	query(ids[0])
	query(ids[1])
	// The third passes it: the sweep drops the oldest output (or the one
	// the third job's end woke has dropped it already); a sweep after it
	// changes nothing.
	ids = append(ids, flooded(t, p))
	p.sweep(time.Now())
	query(ids[2])
	if s, err := p.Query(ids[0]); err != nil || s.OutputSize != 0 || !strings.Contains(s.OutputError, "removed") {
		t.Errorf("the oldest job after its output was dropped: %d bytes, %q, %v; want 0 bytes, and why", s.OutputSize, s.OutputError, err)
	}
	if err := p.Remove(ids[1]); err != nil {
		t.Fatalf("Remove(%d): %v", ids[1], err)
	}
	if _, err := p.Query(ids[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Query of a removed job: %v, want ErrNotFound", err)
	}
	if s, err := p.Query(ids[2]); err != nil || s.ID != ids[2] {
		t.Errorf("Query(%d), untouched: %v, %v", ids[2], s.ID, err)
	}
}

// TestFinalCacheKeepsOnlySmallSnapshots checks that a snapshot holding
// more than finalEntryMaxBytes (a job with arguments near the API's bound)
// is not kept, so that the cache's memory has a bound of its own, and that
// a job of ordinary size still is.
func TestFinalCacheKeepsOnlySmallSnapshots(t *testing.T) {
	c := newFinalCache()
	big := finalSnapshot(1)
	big.Args = make([]string, 1024)
	for i := range big.Args {
		big.Args[i] = strings.Repeat("x", 63) // 80 KiB in all, near the API's bound
	}
	c.put(big, c.generation())
	if _, ok := c.get(1); ok {
		t.Errorf("a snapshot holding %d bytes was kept; want at most %d bytes a snapshot", big.heldBytes(), finalEntryMaxBytes)
	}
	c.put(finalSnapshot(2), c.generation())
	if _, ok := c.get(2); !ok {
		t.Errorf("a snapshot of %d bytes was not kept", finalSnapshot(2).heldBytes())
	}
}
