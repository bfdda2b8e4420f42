//go:build linux

package worker

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// output is the output of one job: a file that only the job's copier
// appends to, up to the cap, and a ring of the most recent bytes in memory,
// past the cap too. Followers read from the ring while they keep up, and
// from the file once they fall behind it, so the disk never stands
// between a live follower and the job. Readers never block the writer:
// they are woken through a channel that the writer closes after each read
// from the pipe and replaces, so there is no polling and no per-reader
// buffer.
type output struct {
	path   string
	max    int64
	budget *diskBudget // the data directory's bound, shared by all jobs

	mu        sync.Mutex
	size      int64         // bytes kept: written to the file, a prefix of the stream
	total     int64         // bytes of the stream, kept or not: what readers may read up to
	ring      ring          // the stream's most recent bytes
	truncated bool          // output past max was dropped
	err       string        // why output was dropped, when it was not max
	closed    bool          // no more bytes will come
	wake      chan struct{} // closed on the next change of total or closed
	// last holds the last min(size, SmallTail) bytes kept, so that a
	// list of jobs shows each one's last line without reading its file.
	last []byte
	// ended, if set, is given the output's small tail when it closes, for
	// the pool to keep once the job is no longer live.
	ended func(smallTail)
	// followers are the readers in follow mode of the live output, which
	// the copier waits for before it drops bytes they have not read.
	followers map[*Reader]struct{}
	// progress, while the copier waits for followers, is closed by the
	// next follower that reads.
	progress chan struct{}
}

// SmallTail is how much of each job's output the pool keeps in memory, for
// as long as the job's record lives: enough for the line rw ls shows of a
// job (60 runes of up to 4 bytes). Longer tails are read from the file.
const SmallTail = 256

// smallTail is the end of a job's kept output: its last bytes, and how
// many bytes were kept in all.
type smallTail struct {
	b    []byte
	size int64
}

// tail returns at most the last n bytes of the output t ends, and whether
// bytes before them were left out; ok is false when t holds fewer than
// asked for and more were kept.
func (t smallTail) tail(n int64) (b []byte, cut, ok bool) {
	start := max(t.size-n, 0)
	want := t.size - start
	if want > int64(len(t.b)) {
		return nil, false, false
	}
	return slices.Clone(t.b[int64(len(t.b))-want:]), start > 0, true
}

func newOutput(path string, max int64, budget *diskBudget) *output {
	return &output{path: path, max: max, budget: budget, wake: make(chan struct{})}
}

// finishedOutput is the complete output of a job that has ended: its file,
// size bytes long, with nothing more to come.
func finishedOutput(path string, size int64) *output {
	return &output{path: path, size: size, total: size, closed: true, wake: make(chan struct{})}
}

// stat returns the current size, whether output was dropped, and why, when
// it was not the per-job cap.
func (o *output) stat() (int64, bool, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.size, o.truncated, o.err
}

// fail records why output is being dropped; the first reason stays.
func (o *output) fail(reason string) {
	o.mu.Lock()
	if o.err == "" {
		o.err = reason
	}
	o.mu.Unlock()
}

// add makes n more bytes of the stream, read into the ring's space,
// visible to readers, records kept, those of them now in the file (and
// whether some were dropped), and wakes the readers: one lock for both, so
// a reader never sees the stream and the file disagree.
func (o *output) add(n int, kept []byte, truncated bool) {
	o.mu.Lock()
	if len(o.followers) > 0 {
		// A follower that had read every byte waited for these, and
		// did not stall: its second to read them runs from now, not
		// from its last read, or a burst after a quiet spell could
		// cut it loose before it was even scheduled.
		now := time.Now()
		for f := range o.followers {
			if f.off >= o.total {
				f.moved = now
			}
		}
	}
	o.total += int64(n)
	o.size += int64(len(kept))
	if len(kept) >= SmallTail {
		o.last = append(o.last[:0], kept[len(kept)-SmallTail:]...)
	} else if len(kept) > 0 {
		if drop := len(o.last) + len(kept) - SmallTail; drop > 0 {
			o.last = append(o.last[:0], o.last[drop:]...)
		}
		o.last = append(o.last, kept...)
	}
	o.truncated = o.truncated || truncated
	close(o.wake)
	o.wake = make(chan struct{})
	o.mu.Unlock()
}

// close marks the output complete, wakes the readers for the last time and
// hands the small tail, if any, to ended.
func (o *output) close() {
	o.mu.Lock()
	o.closed = true
	close(o.wake)
	o.wake = make(chan struct{})
	if o.size == o.total {
		// Every byte is in the file: readers read it from there, and the
		// ring's memory goes now, not with the last reader.
		o.ring = ring{}
	}
	t := smallTail{b: slices.Clone(o.last), size: o.size}
	o.mu.Unlock()
	if o.ended != nil && t.size > 0 {
		// An empty tail is not worth a place: the file's absence says
		// the same.
		o.ended(t)
	}
}

// copyFrom reads pipe until EOF or an error, straight into the ring,
// appends the bytes to the output file up to the cap, then shows them to
// readers (see take); past the cap it keeps reading, so the job never blocks on a
// full pipe, and keeps the bytes in the ring only. The file is made on the
// first byte: a job that writes nothing costs no file. The runner closes
// the output once the job is final, so that a follower that sees the end
// of the output also sees the job's final status.
func (o *output) copyFrom(pipe *os.File) {
	c := copier{o: o}
	defer c.close()
	grown := false
	for {
		buf := o.space()
		n, err := pipe.Read(buf)
		if n >= defaultPipeSize && !grown {
			// The pipe was full: this job writes fast. Let it and the
			// copier work in longer strides.
			growPipe(pipe)
			grown = true
		}
		c.take(buf[:max(n, 0)])
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// drain cut the copy off. What the job wrote before its end
			// may still sit in the pipe, unread only because this
			// goroutine was not scheduled in time on a loaded machine:
			// take it, without waiting for more.
			c.takeBuffered(pipe)
		}
		if err != nil {
			return
		}
	}
}

// copier holds what copyFrom knows between reads: the output file, made
// on the first byte kept, and how much of the cap is used.
type copier struct {
	o       *output
	f       *os.File
	written int64
}

func (c *copier) close() {
	if c.f != nil {
		c.f.Close()
	}
}

// take appends what the cap and the data directory's bound allow of buf
// to the output file, then publishes buf to the readers.
func (c *copier) take(buf []byte) {
	o, n := c.o, len(buf)
	if n == 0 {
		return
	}
	keep := int64(n)
	if room := o.max - c.written; keep > room {
		keep = room
	}
	if fits := o.budget.take(keep); fits < keep {
		// The data directory is at its bound: keep what fits, drop the
		// rest.
		o.fail("dropped: the data directory reached its --max-data-size")
		c.written = o.max - fits
		keep = fits
	}
	var werr error
	if keep > 0 && c.f == nil {
		c.f, werr = o.create()
	}
	if keep > 0 && werr == nil {
		if _, err := c.f.Write(buf[:keep]); err != nil {
			werr = unwrapPathError(err)
		}
	}
	if keep > 0 && werr == nil && o.budget != nil {
		o.budget.written.Add(keep)
	}
	if werr != nil {
		// A full disk must not stall the job: drop the rest, which add
		// below records as truncation.
		o.budget.give(keep)
		o.fail(werr.Error())
		c.written = o.max
		keep = 0
	}
	c.written += keep
	// Readers see the bytes once those to be kept are in the file (the
	// page cache): a follower never sees output that a crash of the
	// server a moment later would lose. Past the cap nothing is written
	// and followers get the bytes at once.
	o.add(n, buf[:keep], keep < int64(n))
}

// takeBuffered takes the bytes already in pipe, after a read deadline
// has passed, and returns at the first read that would wait: a process
// that left the job's group may hold the pipe open and write on, and it
// must not keep the job from ending. It takes at most the pipe's largest
// size, so that such a process cannot keep it reading either.
func (c *copier) takeBuffered(pipe *os.File) {
	// The deadline would refuse every read, even of buffered bytes.
	if pipe.SetReadDeadline(time.Time{}) != nil {
		return
	}
	raw, err := pipe.SyscallConn()
	if err != nil {
		return
	}
	for left := pipeSize; left > 0; {
		buf := c.o.space()
		if len(buf) > left {
			buf = buf[:left]
		}
		var n int
		var rerr error
		// The pipe is non-blocking (os.Pipe): a read with nothing
		// buffered fails with EAGAIN, and returning true keeps the
		// poller from waiting for more.
		if err := raw.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), buf)
			return true
		}); err != nil || rerr != nil || n <= 0 {
			return
		}
		c.take(buf[:n])
		left -= n
	}
}

// create makes the output file. A missing output directory (removed under
// the server) is made again rather than losing the output.
func (o *output) create() (*os.File, error) {
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if merr := os.MkdirAll(filepath.Dir(o.path), 0o700); merr == nil {
			f, err = os.OpenFile(o.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("could not create the output file: %v", unwrapPathError(err))
	}
	return f, nil
}

// readTail returns at most the last n bytes of the output written so far and
// whether bytes before them were left out: from memory when the small tail
// holds them, else from the file.
func (o *output) readTail(n int64) ([]byte, bool, error) {
	o.mu.Lock()
	t := smallTail{b: o.last, size: o.size}
	b, cut, ok := t.tail(n)
	o.mu.Unlock()
	if ok {
		return b, cut, nil
	}
	return readFileTail(o.path, t.size, n)
}

// readFileTail returns at most the last n bytes of the first size bytes of
// the file at path, and whether bytes before them were left out.
func readFileTail(path string, size, n int64) ([]byte, bool, error) {
	if size == 0 {
		return nil, false, nil
	}
	start := max(size-n, 0)
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	buf := make([]byte, size-start)
	k, err := f.ReadAt(buf, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	return buf[:k], start > 0, nil
}
