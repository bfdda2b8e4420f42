//go:build linux

package worker

import "fmt"

// tailCache keeps the small tail of every ended job the pool has seen end
// or has read the tail of, so that a list of jobs reads no files: a few
// hundred bytes a job at most, for as long as its record lives.
//
// A tail is kept only if no forget came while it was taken (the
// generation of jobCache): from a file that retention or a removal is
// taking away, or from the output of a job removed as it ends, a tail
// kept after their forget would show the output they removed.
type tailCache = jobCache[smallTail]

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
