package store

import (
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many writes share one transaction, so that one
// commit never grows without end under a flood of writes.
const maxGroup = 1000

// committer shares commits between concurrent writers (group commit): a
// write that finds no commit under way commits at once, alone; writes that
// arrive while a commit is under way wait, and the next commit takes all of
// them in one transaction and one fsync.
//
// bbolt's DB.Batch shares commits too, but it gathers writes for a fixed
// delay (10 ms by default) before it commits, also when a write is alone:
// on a disk that syncs in under a millisecond that delay, not the disk, sets
// the rate (see docs/store.md for the measurements). Here the commit under
// way is the delay, so it follows the disk.
//
// The committer starts no goroutine: the writer that commits (the leader)
// is one of the callers, and it hands leadership to a waiting writer when
// its group is committed, so that no caller commits for others for ever.
type committer struct {
	db *bolt.DB

	mu      sync.Mutex
	pending []*write // writes waiting for the next commit
	leading bool     // a caller is committing, or has been asked to
}

// write is one caller's write: fn to run in the shared transaction, and a
// channel for its result (or errLead).
type write struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// errLead tells a waiting writer that it is now the leader.
var errLead = errors.New("lead the next commit")

// do runs fn in a read-write transaction, shared with the writes of other
// callers, and returns when the transaction is committed (nil) or has
// failed. fn may run more than once, in transactions that are rolled back,
// if another write in the group fails.
func (c *committer) do(fn func(*bolt.Tx) error) error {
	w := &write{fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, w)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if lead {
		c.lead()
	}
	for {
		err := <-w.done
		if err != errLead {
			return err
		}
		c.lead()
	}
}

// lead commits the writes pending now, then hands leadership to the first
// write that came meanwhile, if any.
func (c *committer) lead() {
	c.mu.Lock()
	n := min(len(c.pending), maxGroup)
	group := c.pending[:n:n]
	c.pending = c.pending[n:]
	c.mu.Unlock()

	c.commit(group)

	c.mu.Lock()
	if len(c.pending) == 0 {
		c.leading = false
		c.mu.Unlock()
		return
	}
	next := c.pending[0]
	c.mu.Unlock()
	next.done <- errLead
}

// commit runs the group's writes in one transaction, in order, as if one
// after another. A write that fails gets its error, and the others are run
// again without it, so that its partial writes are not committed.
func (c *committer) commit(group []*write) {
	for len(group) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, w := range group {
				if err := w.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			// Committed, or the commit itself failed: the same for all.
			for _, w := range group {
				w.done <- err
			}
			return
		}
		group[failed].done <- err
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}
