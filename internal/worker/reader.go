//go:build linux

package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// ErrOutputDropped is what a follower reads when the bytes it needs next
// were past the job's output cap (so never kept in the file) and were
// dropped from memory before it read them: it had read nothing for a
// while, and the job was not held up for it any longer.
var ErrOutputDropped = errors.New("the output past the job's output cap was dropped before this reader read it: it read nothing for a second, and the job was not held up for it longer")

// Reader reads a job's output from an offset. In follow mode it waits for new
// bytes until the job has ended and every byte was delivered; otherwise it
// ends at the bytes written so far. A Reader must be closed.
type Reader struct {
	ctx    context.Context
	out    *output
	f      *os.File // the output file, opened once there are bytes to read in it
	follow bool
	// late is set for a reader opened after the output ended: it reads
	// only the kept bytes, as a reader does once the job has left the
	// pool's memory, so what it gets does not depend on that moment.
	late bool

	// gapAt, for a follower that began while the job ran past the output
	// cap with bytes after the kept ones already gone from memory, is
	// where that gap begins (the kept size); otherwise -1. Such a
	// follower reads the kept bytes, then goes on from the oldest byte
	// still in memory, so that it can follow the job live.
	gapAt int64

	// Guarded by out.mu, for the copier to see where a follower is.
	off   int64
	moved time.Time // when a follower last read, opened, or had caught up and got more
	cut   bool      // the copier no longer waits for this follower
}

// GapAt says whether this follower skips output: it began while the job
// ran past the output cap, after bytes that followed the kept ones had
// left memory, so it reads the kept bytes and then the output from the
// oldest byte still in memory, the bytes between them never. It returns
// where the gap begins, the number of bytes kept, or -1 when there is no
// gap and every byte from the reader's offset on is read.
func (r *Reader) GapAt() int64 { return r.gapAt }

func (o *output) open(ctx context.Context, offset int64, follow bool) (*Reader, error) {
	r := &Reader{ctx: ctx, out: o, off: offset, follow: follow, gapAt: -1}
	if err := r.openFile(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// No file: nothing was kept yet (the copier makes it on the first
	// byte), or it was removed by retention. Read opens it once it needs
	// bytes that are only in the file.
	o.mu.Lock()
	if o.closed {
		// Nothing more will come, and bytes past the cap that left
		// memory were gone before this reader began: it did not fall
		// behind, so it reads the kept bytes and then ends.
		r.late, r.follow = true, false
	} else if follow {
		// The ring holds no byte past total, so bytes past the cap
		// have left it exactly when its oldest is past the kept ones.
		if o.ring.start > o.size && offset < o.ring.start {
			r.gapAt = o.size
		}
		if o.followers == nil {
			o.followers = make(map[*Reader]struct{})
		}
		r.moved = time.Now()
		o.followers[r] = struct{}{}
	}
	o.mu.Unlock()
	return r, nil
}

// openFile opens the output file for r.
func (r *Reader) openFile() error {
	f, err := os.Open(r.out.path)
	if err != nil {
		return err
	}
	r.f = f
	return nil
}

// Read implements io.Reader. It reads from the ring of recent output while
// the reader keeps up with the job, and from the file once it fell behind.
// It returns io.EOF at the end of the output, the context's error if the
// context ends while it waits, and ErrOutputDropped if a follower needs
// bytes that were neither kept nor are still in memory because it read
// nothing for too long. A reader that does not follow ends there instead,
// and so does a follower opened after the job's output ended (it reads
// what was kept); a follower with a gap (GapAt) skips those bytes.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	o := r.out
	for {
		o.mu.Lock()
		end := o.total
		if r.late {
			end = o.size
		}
		if r.off < end {
			if n, ok := o.readRing(p[:min(int64(len(p)), end-r.off)], r.off); ok {
				o.moved(r, r.off+int64(n))
				o.mu.Unlock()
				return n, nil
			}
			size, held := o.size, o.ring.start
			if r.off >= size && r.follow && r.gapAt >= 0 && !r.cut {
				// Gone before this follower began: go on from
				// the oldest byte still held, as GapAt says.
				o.moved(r, held)
				o.mu.Unlock()
				continue
			}
			o.mu.Unlock()
			if r.off < size {
				return r.readFile(p, size)
			}
			if !r.follow {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("bytes %d to %d: %w", r.off, held, ErrOutputDropped)
		}
		closed, wake := o.closed, o.wake
		o.mu.Unlock()
		if closed || !r.follow {
			return 0, io.EOF
		}
		select {
		case <-wake:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// readFile reads into p from the output file, up to size, the bytes kept.
func (r *Reader) readFile(p []byte, size int64) (int, error) {
	if r.f == nil {
		if err := r.openFile(); err != nil {
			return 0, err
		}
	}
	if rest := size - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.f.ReadAt(p, r.off)
	if n > 0 {
		r.out.mu.Lock()
		r.out.moved(r, r.off+int64(n))
		r.out.mu.Unlock()
	}
	if n > 0 || err == nil {
		return n, nil
	}
	return 0, err
}

// Close releases the reader's file, and the copier from waiting for it.
func (r *Reader) Close() error {
	o := r.out
	if r.follow {
		o.mu.Lock()
		delete(o.followers, r)
		o.moved(r, r.off)
		o.mu.Unlock()
	}
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}
