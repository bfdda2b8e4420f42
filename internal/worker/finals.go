//go:build linux

package worker

import (
	"slices"
	"sync"
)

// finalCacheSize bounds the final jobs whose snapshots are kept.
const finalCacheSize = 512

// finalEntryMaxBytes bounds the strings one kept snapshot holds (its
// arguments, owner, path and messages), so that the cache stays small
// whatever the jobs: a job's arguments alone may take 64 KiB in 1024
// strings, and 512 such snapshots would hold some 45 MiB for as long as
// the server runs, twice the whole server's idle memory. With the bound,
// a full cache holds at most about 750 KiB (the bound and some 450 bytes
// of snapshot and map a job); a job of a few arguments takes a few
// hundred. A larger snapshot is read from the store every time, as
// before the cache.
const finalEntryMaxBytes = 1 << 10

// finalCache keeps the snapshots of final jobs read lately, so that a
// client asking again and again for a job that has ended (GET /query?id=N
// over a keep-alive connection) is answered without a store transaction
// and the decoding of its record every time: they were most of what such
// a query cost. A final record changes only when retention drops its
// output, and goes when the job is removed; both forget the entry here,
// after the store. Every forget moves the generation on, and a snapshot
// read from the store before it is not kept after it: a read that raced
// with a change cannot bring the old record back. The oldest entry goes
// first when the cache is full. The zero value is an empty cache.
type finalCache struct {
	mu      sync.Mutex
	entries map[int64]Snapshot
	order   []int64 // ids in the order they were kept; a ring
	next    int     // where the next id goes in order
	gen     uint64  // moved on by every forget
}

// generation is what put must be given for a snapshot read from the
// store after this call.
func (c *finalCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns a copy of job id's snapshot, if it is kept.
func (c *finalCache) get(id int64) (Snapshot, bool) {
	c.mu.Lock()
	s, ok := c.entries[id]
	c.mu.Unlock()
	if !ok {
		return Snapshot{}, false
	}
	return s.clone(), true
}

// put keeps s, a final job's snapshot read from the store at generation
// gen, unless a forget came since or s holds more than finalEntryMaxBytes.
func (c *finalCache) put(s Snapshot, gen uint64) {
	if s.heldBytes() > finalEntryMaxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.entries[s.ID]; ok {
		return
	}
	if c.entries == nil {
		c.entries = make(map[int64]Snapshot)
		c.order = make([]int64, finalCacheSize)
	}
	// The id whose place this is goes, whether or not the cache is full:
	// so every id kept has a place, and the cache never holds more than
	// the ring has places. (An id forgotten and kept again has two; the
	// older one evicts it early, which costs only a store read.) Job ids
	// start at 1: an empty place evicts nothing.
	delete(c.entries, c.order[c.next])
	c.entries[s.ID] = s.clone()
	c.order[c.next] = s.ID
	c.next = (c.next + 1) % finalCacheSize
}

// forget drops job id, whose record has just changed or gone.
func (c *finalCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}

// len is how many snapshots the cache holds.
func (c *finalCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// heldBytes is about how much memory s's strings take besides s itself:
// their bytes, and a string header for each argument.
func (s Snapshot) heldBytes() int {
	n := len(s.Owner) + len(s.Path) + len(s.Status) + len(s.Reason) + len(s.Error) + len(s.OutputError)
	for _, a := range s.Args {
		n += 16 + len(a) // a string header is 16 bytes on 64-bit hosts
	}
	return n
}

// clone is s with its own copies of what it points to, as every snapshot
// the pool hands out has: a caller may change its copy.
func (s Snapshot) clone() Snapshot {
	s.Args = slices.Clone(s.Args)
	s.QueuePosition = clonePtr(s.QueuePosition)
	s.ExitCode = clonePtr(s.ExitCode)
	s.Usage.CPUSeconds = clonePtr(s.Usage.CPUSeconds)
	s.Usage.MemoryPeakBytes = clonePtr(s.Usage.MemoryPeakBytes)
	return s
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
