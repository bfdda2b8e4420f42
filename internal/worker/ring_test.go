//go:build linux

package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// copying runs o's copier on a pipe, as the pool does, and returns the
// pipe's write end, for the test to write the job's output into, and a
// function that ends the output (the job ending) once everything written
// was copied.
func copying(t *testing.T, o *output) (*os.File, func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		o.copyFrom(r)
	}()
	end := func() {
		w.Close()
		<-copied
		r.Close()
		o.close()
	}
	t.Cleanup(func() {
		select {
		case <-copied:
		default:
			end()
		}
	})
	return w, end
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// readAll reads r with buffers of random sizes.
func readAll(rng *rand.Rand, r io.Reader) ([]byte, error) {
	var got []byte
	for {
		buf := make([]byte, 1+rng.IntN(100<<10))
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
	}
}

// TestFollowersGetEveryByteOnceInOrder writes 8 MiB, eight times the ring,
// in writes of random sizes, while one follower reads along and another
// starts only once the job has ended: that one falls behind the ring at
// once and reads the file until it catches up with it. Both get every
// byte, once, in order.
func TestFollowersGetEveryByteOnceInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	want := randomBytes(rng, 8*ringMax)
	o := newOutput(filepath.Join(t.TempDir(), "1.out"), 1<<30, nil)
	w, end := copying(t, o)

	live, err := o.open(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	type result struct {
		b   []byte
		err error
	}
	followed := make(chan result, 1)
	go func() {
		b, err := readAll(rand.New(rand.NewPCG(5, 6)), live)
		followed <- result{b, err}
	}()
	for rest := want; len(rest) > 0; {
		k := min(1+rng.IntN(200<<10), len(rest))
		if _, err := w.Write(rest[:k]); err != nil {
			t.Fatal(err)
		}
		rest = rest[k:]
	}
	end()
	if r := <-followed; r.err != nil || !bytes.Equal(r.b, want) {
		t.Errorf("the live follower: %d bytes, %v; want the %d written", len(r.b), r.err, len(want))
	}

	late, err := o.open(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if got, err := readAll(rng, late); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the late follower: %d bytes, %v; want the %d written", len(got), err, len(want))
	}
	if size, truncated, _ := o.stat(); size != int64(len(want)) || truncated {
		t.Errorf("kept %d bytes, truncated %v; want all %d", size, truncated, len(want))
	}
}

// TestFollowerPastTheCapGetsEveryByte checks that the cap bounds what is
// kept, not what is streamed: a follower that keeps up gets all 16 MiB a
// job writes while the file keeps the first 1 MiB, the cap. The follower
// reads each write before the next is made, so it never falls behind. A
// follower that comes late reads what was kept, then learns that the rest
// was dropped; a reader that does not follow ends at what was kept.
func TestFollowerPastTheCapGetsEveryByte(t *testing.T) {
	const max, chunk, chunks = 1 << 20, 64 << 10, 256
	rng := rand.New(rand.NewPCG(7, 8))
	path := filepath.Join(t.TempDir(), "1.out")
	o := newOutput(path, max, nil)
	w, end := copying(t, o)
	f, err := o.open(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kept []byte
	got := make([]byte, chunk)
	for i := range chunks {
		b := randomBytes(rng, chunk)
		if len(kept) < max {
			kept = append(kept, b...)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(f, got); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("write %d: the follower read %v, not the bytes written", i, err)
		}
	}
	end()
	if n, err := f.Read(got); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("after the end: %d bytes, %v; want io.EOF", n, err)
	}
	if size, truncated, _ := o.stat(); size != max || !truncated {
		t.Errorf("kept %d bytes, truncated %v; want %d, true", size, truncated, max)
	}
	if file, err := os.ReadFile(path); err != nil || !bytes.Equal(file, kept) {
		t.Errorf("the file holds %d bytes, %v; want the first %d written", len(file), err, max)
	}

	late, err := o.open(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	// It began after the job ended, so it fell behind nothing: it reads
	// the kept bytes and ends, as it would once the job left memory.
	b, err := readAll(rng, late)
	if err != nil || !bytes.Equal(b, kept) {
		t.Errorf("a follower opened after the end: %d bytes, %v; want the %d kept, then EOF", len(b), err, max)
	}
	once, err := o.open(context.Background(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer once.Close()
	if b, err := readAll(rng, once); err != nil || !bytes.Equal(b, kept) {
		t.Errorf("a reader that does not follow: %d bytes, %v; want the %d kept", len(b), err, max)
	}
}

// TestStuckFollowerPastTheCap checks that a follower that stops reading
// holds a job whose output is past the cap up only for a while: the job's
// output is copied to its end, and the follower, once it reads again,
// gets what was kept and then ErrOutputDropped.
func TestStuckFollowerPastTheCap(t *testing.T) {
	const max = 64 << 10
	rng := rand.New(rand.NewPCG(9, 10))
	o := newOutput(filepath.Join(t.TempDir(), "1.out"), max, nil)
	w, end := copying(t, o)
	stuck, err := o.open(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	want := randomBytes(rng, 4*ringMax)
	if _, err := w.Write(want); err != nil {
		t.Fatal(err)
	}
	end()
	b, err := readAll(rng, stuck)
	if !bytes.Equal(b, want[:max]) || !errors.Is(err, ErrOutputDropped) {
		t.Errorf("the stuck follower: %d bytes, %v; want the %d kept, then ErrOutputDropped", len(b), err, max)
	}
}

// TestFollowerJoiningPastTheCap checks what a follower that begins while a
// job runs past the cap reads, once bytes after the kept ones have left
// memory: the kept bytes, then the output from the oldest byte still in
// memory, live to the end, with GapAt saying where the gap is. It does not
// fail for bytes it could never have had, nor hold the job up while it
// reads the kept ones.
func TestFollowerJoiningPastTheCap(t *testing.T) {
	const max = 64 << 10
	rng := rand.New(rand.NewPCG(11, 12))
	o := newOutput(filepath.Join(t.TempDir(), "1.out"), max, nil)
	w, end := copying(t, o)
	want := randomBytes(rng, 4*ringMax)
	writeCopied(t, o, w, want, len(want))
	f, err := o.open(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.GapAt() != max {
		t.Errorf("GapAt %d, want %d, the bytes kept", f.GapAt(), max)
	}
	// Kept bytes first, read to their end.
	head := make([]byte, max)
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, want[:max]) {
		t.Fatalf("the kept bytes: %v", err)
	}
	// More output while the follower has yet to reach what is held: the
	// copier does not wait for it.
	more := randomBytes(rng, 2*ringMax)
	all := append(want, more...)
	writeCopied(t, o, w, more, len(all))
	// Then what is held, live, and the bytes written while it follows.
	last := randomBytes(rng, 3*ringMax)
	done := writeThenEnd(w, last, end)
	rest, err := readAll(rng, f)
	if err != nil {
		t.Fatalf("after the kept bytes: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	all = append(all, last...)
	if len(rest) == 0 || len(rest) > ringMax+len(last) || !bytes.Equal(rest, all[len(all)-len(rest):]) {
		t.Errorf("after the kept bytes, %d bytes that are not the end of the output (want from the oldest held byte, at most %d, to the end)", len(rest), ringMax+len(last))
	}
}

// writeCopied writes b to the job's end of the pipe, w, and waits until
// o's copier has read total bytes of the stream, the last of b among them,
// into the ring.
func writeCopied(t *testing.T, o *output, w io.Writer, b []byte, total int) {
	t.Helper()
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		o.mu.Lock()
		read := o.total
		o.mu.Unlock()
		if read == int64(total) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the copier read %d bytes of the %d written in a minute", read, total)
		}
	}
}

// writeThenEnd writes b to w, the job's end of the pipe, on a goroutine
// of its own (a write past what the copier takes at once blocks until a
// follower reads), then calls end. The channel returned gets the write's
// error once end has returned.
func writeThenEnd(w io.Writer, b []byte, end func()) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(b)
		end()
		done <- err
	}()
	return done
}

// TestCaughtUpFollowerIsNotCutByABurst checks that a follower which had
// read every byte and waited long for more is not cut loose by the burst
// that ends its wait before it has had a chance to read: its second runs
// from when there were bytes for it to read, not from its last read.
func TestCaughtUpFollowerIsNotCutByABurst(t *testing.T) {
	const max = 64 << 10
	rng := rand.New(rand.NewPCG(13, 14))
	o := newOutput(filepath.Join(t.TempDir(), "1.out"), max, nil)
	w, end := copying(t, o)
	head := randomBytes(rng, 2*ringMax)
	writeCopied(t, o, w, head, len(head))
	f, err := o.open(context.Background(), int64(len(head)), true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// It has waited a minute for more, as a follower of a quiet job does.
	o.mu.Lock()
	f.moved = time.Now().Add(-time.Minute)
	o.mu.Unlock()
	burst := randomBytes(rng, 3*ringMax)
	done := writeThenEnd(w, burst, end)
	// It reads only once the copier waits for it, or cut it loose: a
	// follower not yet scheduled when the burst came.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		o.mu.Lock()
		waited, cut := o.progress != nil, f.cut
		o.mu.Unlock()
		if waited || cut {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the copier neither waited for the follower nor cut it loose in a minute")
		}
	}
	got, err := readAll(rng, f)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil || !bytes.Equal(got, burst) {
		t.Errorf("the follower read %d bytes of the %d-byte burst, %v; want every byte", len(got), len(burst), err)
	}
}
