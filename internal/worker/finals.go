//go:build linux

package worker

import "slices"

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
// after the store (the generation of jobCache keeps a read that raced
// with them from bringing the old record back). The oldest entry goes
// first when the cache is full. Use newFinalCache.
type finalCache struct {
	jobCache[Snapshot]
}

func newFinalCache() *finalCache {
	return &finalCache{jobCache[Snapshot]{bound: finalCacheSize}}
}

// get returns a copy of job id's snapshot, if it is kept.
func (c *finalCache) get(id int64) (Snapshot, bool) {
	s, ok := c.jobCache.get(id)
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
	c.jobCache.put(s.ID, s.clone(), gen)
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
