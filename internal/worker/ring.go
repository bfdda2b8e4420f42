//go:build linux

package worker

import "time"

// ring holds the most recent bytes of a job's output stream: byte x of the
// stream is at buf[x%len(buf)] for start <= x < the output's total. It
// starts small and doubles as the stream fills it, up to ringMax, so a job
// that writes little holds little.
type ring struct {
	buf   []byte
	start int64 // the oldest stream offset still held
}

const (
	// ringMin is the ring's first size; ringMax the most it grows to:
	// a follower up to that far behind the job reads from memory.
	ringMin = 4 << 10
	ringMax = 1 << 20
	// readMax is the most the copier reads from the pipe at once: a
	// quarter of a grown pipe, so that a job writing fast and its copier
	// work in long strides.
	readMax = 256 << 10
)

// space returns where the copier reads the next bytes of the stream into:
// the ring's room from total on, up to where it wraps and at most readMax.
// The bytes that room held leave the ring first, so that no reader sees
// them change; they are in the file, unless they were past the cap. Only
// the copier calls it, and only it writes into the ring.
func (o *output) space() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := &o.ring
	if n := int64(len(r.buf)); n < ringMax && o.total >= n {
		r.resize(max(ringMin, min(2*n, ringMax)), o.total)
	}
	n := int64(len(r.buf))
	w := o.total % n
	end := min(n, w+readMax)
	if start := o.total + (end - w) - n; start > r.start {
		if start > o.size {
			// Bytes past the cap leave the ring for good.
			o.waitForFollowers(start)
		}
		r.start = start
	}
	return r.buf[w:end]
}

// followerStall is how long the copier waits for a follower that reads
// nothing before it drops bytes that follower has not read yet.
const followerStall = time.Second

// waitForFollowers waits until every follower has read the stream up to
// before, the bytes that are about to leave the ring without having been
// kept: a follower that keeps reading gets every byte, past the cap too,
// and paces the job there, as a pipe to a slow reader does. A follower that
// read nothing for followerStall while there were bytes for it (see add)
// is cut loose instead (its next read past what was kept fails with
// ErrOutputDropped), so a stuck reader holds the job up for a second at
// most. The caller holds o.mu, which is released
// while it waits.
func (o *output) waitForFollowers(before int64) {
	for {
		var slowest *Reader
		for f := range o.followers {
			// A follower with a gap that has not reached what is
			// held skips to it, wherever it is by then: it needs
			// no byte that leaves.
			skips := f.gapAt >= 0 && f.off < o.ring.start
			if !f.cut && !skips && f.off < before && (slowest == nil || f.moved.Before(slowest.moved)) {
				slowest = f
			}
		}
		if slowest == nil {
			return
		}
		left := followerStall - time.Since(slowest.moved)
		if left <= 0 {
			slowest.cut = true
			continue
		}
		progress := make(chan struct{})
		o.progress = progress
		o.mu.Unlock()
		t := time.NewTimer(left)
		select {
		case <-progress:
		case <-t.C:
		}
		t.Stop()
		o.mu.Lock()
	}
}

// moved records that follower r read up to off, and wakes the copier if it
// waits for followers. The caller holds o.mu.
func (o *output) moved(r *Reader, off int64) {
	r.off = off
	if r.follow {
		r.moved = time.Now()
	}
	if o.progress != nil {
		close(o.progress)
		o.progress = nil
	}
}

// resize moves the ring's bytes, up to total, into a buffer of size n.
func (r *ring) resize(n, total int64) {
	buf := make([]byte, n)
	for x := r.start; x < total; {
		// Copy in runs that wrap in neither buffer.
		i, j := x%int64(len(r.buf)), x%n
		k := min(total-x, int64(len(r.buf))-i, n-j)
		copy(buf[j:j+k], r.buf[i:i+k])
		x += k
	}
	r.buf = buf
}

// readRing copies into p the stream's bytes from off on, as many as the
// ring holds in one run, and reports whether it holds the byte at off.
// The caller holds o.mu.
func (o *output) readRing(p []byte, off int64) (int, bool) {
	r := &o.ring
	if off < r.start || off >= o.total || len(r.buf) == 0 {
		return 0, false
	}
	n := int64(len(r.buf))
	i := off % n
	k := min(int64(len(p)), o.total-off, n-i)
	copy(p, r.buf[i:i+k])
	return int(k), true
}
