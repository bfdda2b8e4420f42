package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestConcurrentWriters(t *testing.T) {
	for _, opts := range []Options{{}, {NoBatch: true}} {
		t.Run(fmt.Sprintf("NoBatch=%v", opts.NoBatch), func(t *testing.T) {
			testConcurrentWriters(t, opts)
		})
	}
}

func testConcurrentWriters(t *testing.T, opts Options) {
	s, _ := openTemp(t, opts)
	const writers, jobs = 16, 40
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		kept    = map[int64]string{} // id -> owner, of the records not deleted
		deleted []int64
	)
	for w := range writers {
		owner := fmt.Sprintf("user%d", w)
		wg.Go(func() {
			for i := range jobs {
				r, err := s.Create(queued(owner))
				if err != nil {
					t.Error(err)
					return
				}
				r.Status = "running"
				if err := s.Put(r); err != nil {
					t.Error(err)
					return
				}
				if err := s.Put(ended(r, StatusFinished, base.Add(time.Duration(r.ID)), 1)); err != nil {
					t.Error(err)
					return
				}
				// A write that fails, in a group with writes that do not,
				// must fail alone.
				missing := r
				missing.ID = -r.ID
				if err := s.Put(missing); !errors.Is(err, ErrNotFound) {
					t.Errorf("Put of a missing id: got %v, want ErrNotFound", err)
				}
				mu.Lock()
				if i%10 == 0 {
					deleted = append(deleted, r.ID)
				} else {
					kept[r.ID] = owner
				}
				mu.Unlock()
				if i%10 == 0 {
					if err := s.Delete(r.ID); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every id was given once: kept and deleted together are 1..n.
	all := slices.Concat(deleted, slices.Collect(maps.Keys(kept)))
	slices.Sort(all)
	if n := writers * jobs; len(all) != n || all[0] != 1 || all[n-1] != int64(n) || len(slices.Compact(all)) != n {
		t.Fatalf("ids given: %d of them from %d to %d, want 1..%d once each", len(all), all[0], all[len(all)-1], n)
	}

	s = reopen(t, s)
	count := 0
	if err := s.Scan(0, func(r Record) bool {
		count++
		if owner, ok := kept[r.ID]; !ok || r.Owner != owner || r.Status != StatusFinished {
			t.Errorf("record %d: owner %q status %q; want owner %q, finished", r.ID, r.Owner, r.Status, owner)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if count != len(kept) {
		t.Errorf("records after reopening: got %d, want %d", count, len(kept))
	}
	if st, err := s.FinalStats(); err != nil || st.Count != int64(len(kept)) || st.OutputBytes != int64(len(kept)) {
		t.Errorf("FinalStats: got %+v, %v; want %d records of 1 byte", st, err, len(kept))
	}
	if u, err := s.Unfinished(); err != nil || len(u) != 0 {
		t.Errorf("Unfinished: got %d records, %v; want none", len(u), err)
	}
}
