package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestGroupCommit holds the write lock while writes queue up, then checks
// that the writes that queued behind the first one were committed together,
// and that one failing write among them failed alone.
func TestGroupCommit(t *testing.T) {
	s, _ := openTemp(t, Options{})
	hold, err := s.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	const n, failing = 8, 5
	errFail := errors.New("this write fails")
	var (
		wg    sync.WaitGroup
		txids [n]int
		errs  [n]error
	)
	write := func(i int) {
		errs[i] = s.group.do(func(tx *bolt.Tx) error {
			txids[i] = tx.ID()
			if err := tx.Bucket(bucketMeta).Put(fmt.Appendf(nil, "test%d", i), []byte("x")); err != nil {
				return err
			}
			if i == failing {
				return errFail
			}
			return nil
		})
	}
	// The first write leads and waits for the lock; the others queue.
	wg.Go(func() { write(0) })
	waitPending(t, &s.group, 0)
	for i := 1; i < n; i++ {
		wg.Go(func() { write(i) })
	}
	waitPending(t, &s.group, n-1)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	for i := range n {
		want := error(nil)
		if i == failing {
			want = errFail
		}
		if !errors.Is(errs[i], want) {
			t.Errorf("write %d: got %v, want %v", i, errs[i], want)
		}
	}
	for i := 2; i < n; i++ {
		if i != failing && txids[i] != txids[1] {
			t.Errorf("write %d committed in transaction %d, write 1 in %d: want one transaction for the queued writes", i, txids[i], txids[1])
		}
	}
	if txids[0] == txids[1] {
		t.Errorf("the first write shares transaction %d with the queued ones: it should have committed alone", txids[0])
	}
	s.db.View(func(tx *bolt.Tx) error {
		for i := range n {
			got := tx.Bucket(bucketMeta).Get(fmt.Appendf(nil, "test%d", i))
			if (got != nil) != (i != failing) {
				t.Errorf("write %d: stored %q; want it stored only if it did not fail", i, got)
			}
		}
		return nil
	})
}

// waitPending waits until a write leads and n writes wait behind it.
func waitPending(t *testing.T, c *committer, n int) {
	t.Helper()
	for {
		c.mu.Lock()
		leading, pending := c.leading, len(c.pending)
		c.mu.Unlock()
		if leading && pending == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
