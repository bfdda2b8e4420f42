//go:build linux

package worker

import "sync"

// jobCache keeps a value per job id that a change to the job's record or
// output makes stale. Every forget moves the cache's generation on, and a
// value computed before it is not kept after it: a read that raced with a
// change (retention taking the output away, a removal) cannot bring the
// old value back. With a bound above zero, the oldest entry goes first
// once the cache holds that many. The zero value is an empty, unbounded
// cache.
type jobCache[V any] struct {
	mu      sync.Mutex
	entries map[int64]V
	gen     uint64  // moved on by every forget
	bound   int     // the most entries kept, or 0 for no bound
	order   []int64 // with a bound: ids in the order they were kept; a ring
	next    int     // where the next id goes in order
}

// generation is what put must be given for a value computed after this
// call.
func (c *jobCache[V]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns job id's value, if it is kept.
func (c *jobCache[V]) get(id int64) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[id]
	return v, ok
}

// put keeps v, job id's value computed at generation gen, unless a forget
// came since or id is kept already.
func (c *jobCache[V]) put(id int64, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.entries[id]; ok {
		return
	}
	if c.entries == nil {
		c.entries = make(map[int64]V)
		if c.bound > 0 {
			c.order = make([]int64, c.bound)
		}
	}
	if c.bound > 0 {
		// The id whose place this is goes, whether or not the cache
		// is full: so every id kept has a place, and the cache never
		// holds more than the ring has places. (An id forgotten and
		// kept again has two; the older one evicts it early, which
		// costs only a recomputation.) Job ids start at 1: an empty
		// place evicts nothing.
		delete(c.entries, c.order[c.next])
		c.order[c.next] = id
		c.next = (c.next + 1) % c.bound
	}
	c.entries[id] = v
}

// forget drops job id, whose record or output has just changed or gone.
func (c *jobCache[V]) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}

// len is how many values the cache holds.
func (c *jobCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
