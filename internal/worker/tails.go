//go:build linux

package worker

import (
	"fmt"
	"sync"
)

// tailCache keeps the small tail of every ended job the pool has seen end
// or has read the tail of, so that a list of jobs reads no files: a few
// hundred bytes a job at most, for as long as its record lives.
//
// A tail is kept only if no forget came while it was taken (the
// generation, as in finalCache): from a file that retention or a removal
// is taking away, or from the output of a job removed as it ends, a tail
// kept after their forget would show the output they removed.
type tailCache struct {
	mu    sync.Mutex
	tails map[int64]smallTail
	gen   uint64 // moved on by every forget
}

// generation is what put must be given for a tail taken after this
// call.
func (c *tailCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps t, job id's tail taken at generation gen, unless a forget
// came since.
func (c *tailCache) put(id int64, t smallTail, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.tails == nil {
		c.tails = make(map[int64]smallTail)
	}
	c.tails[id] = t
}

func (c *tailCache) get(id int64) (smallTail, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tails[id]
	return t, ok
}

func (c *tailCache) forget(id int64) {
	c.mu.Lock()
	c.gen++
	delete(c.tails, id)
	c.mu.Unlock()
}

// Tail returns at most the last n bytes of job id's output so far, and
// whether earlier bytes were left out. Up to SmallTail bytes come from
// memory; a longer tail is read from the output file. For an ended job it
// reads neither the record nor, for a small tail, the file: a list of
// jobs asks for each one's tail, and has their records already. An id
// with no output has none.
func (p *Pool) Tail(id int64, n int64) ([]byte, bool, error) {
	if o := p.liveOutput(id); o != nil {
		b, cut, err := o.readTail(n)
		if err != nil {
			return nil, false, fmt.Errorf("read output of job %d: %w", id, err)
		}
		return b, cut, nil
	}
	t, ok := p.tails.get(id)
	if ok {
		if b, cut, ok := t.tail(n); ok {
			return b, cut, nil
		}
	} else {
		// Ended before this pool started: read it once.
		gen := p.tails.generation()
		o, err := p.endedOutput(id)
		if err != nil {
			return nil, false, err
		}
		size, _, _ := o.stat()
		b, _, err := readFileTail(o.path, size, SmallTail)
		if err != nil {
			return nil, false, fmt.Errorf("read output of job %d: %w", id, err)
		}
		t = smallTail{b: b, size: size}
		if size > 0 {
			// Not an empty one: that may be of a job being removed.
			p.tails.put(id, t, gen)
		}
		if b, cut, ok := t.tail(n); ok {
			return b, cut, nil
		}
	}
	b, cut, err := readFileTail(p.outputPath(id), t.size, n)
	if err != nil {
		return nil, false, fmt.Errorf("read output of job %d: %w", id, err)
	}
	return b, cut, nil
}
