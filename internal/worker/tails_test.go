//go:build linux

package worker

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestSmallTailFollowsTheOutput writes random chunks through output.grow
// and checks the small tail against the bytes written, for every tail
// length around SmallTail.
func TestSmallTailFollowsTheOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	o := newOutput("", 1<<30, nil)
	var all []byte
	for i := range 200 {
		chunk := make([]byte, rng.IntN(2*SmallTail))
		for k := range chunk {
			chunk[k] = byte(rng.IntN(256))
		}
		o.add(len(chunk), chunk, false)
		all = append(all, chunk...)
		for _, n := range []int64{0, 1, 17, SmallTail - 1, SmallTail} {
			b, cut, err := o.readTail(n)
			start := max(int64(len(all))-n, 0)
			if err != nil || !bytes.Equal(b, all[start:]) || cut != (start > 0) {
				t.Fatalf("write %d, tail %d: %d bytes, cut %v, %v; want %d bytes, cut %v",
					i, n, len(b), cut, err, len(all)-int(start), start > 0)
			}
		}
	}
}

// TestTailsComeFromMemory checks that tails up to SmallTail bytes, of
// live and of ended jobs, are served without the output file (removed
// behind the pool's back here), and that a longer tail reads it.
func TestTailsComeFromMemory(t *testing.T) {
	data := t.TempDir()
	a, err := New(Config{JobsDir: jobsDir, DataDir: data, Env: []string{testEnv}})
	if err != nil {
		t.Fatal(err)
	}
	const size = 1000
	flood := start(t, a, "flood", strconv.Itoa(size))
	short := start(t, a, "echo", "short")
	wait(t, a, flood)
	wait(t, a, short)
	want := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), size/26+1)[:size]
	cases := []struct {
		id   int64
		n    int64
		want []byte
		cut  bool
	}{
		{flood, SmallTail, want[size-SmallTail:], true},
		{flood, 5, want[size-5:], true},
		{short, SmallTail, []byte("short\n"), false},
		{short, 3, []byte("rt\n"), true},
	}
	check := func(p *Pool, when string) {
		t.Helper()
		for _, c := range cases {
			b, cut, err := p.Tail(c.id, c.n)
			if err != nil || !bytes.Equal(b, c.want) || cut != c.cut {
				t.Errorf("%s: tail %d of job %d: %q, cut %v, %v; want %q, cut %v", when, c.n, c.id, b, cut, err, c.want, c.cut)
			}
		}
	}
	check(a, "read with the files there")
	// A larger tail still reads the file.
	if b, cut, err := a.Tail(flood, 600); err != nil || !bytes.Equal(b, want[size-600:]) || !cut {
		t.Errorf("tail 600: %d bytes, cut %v, %v", len(b), cut, err)
	}
	hide := func() {
		t.Helper()
		for _, id := range []int64{flood, short} {
			if err := os.Rename(a.outputPath(id), a.outputPath(id)+".hidden"); err != nil {
				t.Fatal(err)
			}
		}
	}
	unhide := func() {
		t.Helper()
		for _, id := range []int64{flood, short} {
			if err := os.Rename(a.outputPath(id)+".hidden", a.outputPath(id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	hide()
	check(a, "with the files gone")
	if _, _, err := a.Tail(flood, 600); err == nil {
		t.Errorf("tail 600 with the file gone: no error, so it was not read from the file")
	}
	unhide()
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The next pool reads each file once, then answers from memory.
	b := newPool(t, Config{DataDir: data})
	check(b, "in the next pool")
	hide()
	check(b, "in the next pool with the files gone")
	unhide()
}

// TestTailOfDroppedOutputIsGone checks that once retention drops an ended
// job's output to keep the data directory under MaxDataSize, its tail is
// gone too: the tail kept in memory must not show output that no longer
// exists, which GET /query would answer as the job's output.
func TestTailOfDroppedOutputIsGone(t *testing.T) {
	p := sizeBoundPool(t)
	// Two jobs' output is under the bound: retention leaves it.
	ids := []int64{flooded(t, p), flooded(t, p)}
	if b, _, err := p.Tail(ids[0], SmallTail); err != nil || len(b) != SmallTail {
		t.Fatalf("tail of job %d before the sweep: %d bytes, %v; want %d", ids[0], len(b), err, SmallTail)
	}
	// The third passes it: the sweep drops the oldest output (or the
	// one the third job's end woke has dropped it already).
	flooded(t, p)
	p.sweep(time.Now())
	if s, err := p.Query(ids[0]); err != nil || s.OutputSize != 0 {
		t.Fatalf("job %d after the sweep: %d bytes of output, %v; want its output dropped", ids[0], s.OutputSize, err)
	}
	for _, n := range []int64{SmallTail, 1 << 10} {
		if b, cut, err := p.Tail(ids[0], n); err != nil || len(b) != 0 || cut {
			t.Errorf("tail %d of job %d after its output was dropped: %q, cut %v, %v; want nothing", n, ids[0], b, cut, err)
		}
	}
}

// TestTailReadBeforeAForgetIsNotKept checks that a tail read from a file
// before the job's output was removed (and its tail forgotten) is not
// kept after: it would show the removed output from then on.
func TestTailReadBeforeAForgetIsNotKept(t *testing.T) {
	var c tailCache
	gen := c.generation()
	read := smallTail{b: []byte("removed\n"), size: 8}
	c.forget(4) // the output goes after the read, before the put
	c.put(4, read, gen)
	if got, ok := c.get(4); ok {
		t.Errorf("a tail read before its output was removed was kept: %q", got.b)
	}
	c.put(4, read, c.generation())
	if _, ok := c.get(4); !ok {
		t.Errorf("a tail read after the last forget was not kept")
	}
}

// TestRemoveAJobAsItEnds removes a job in the moment between its final
// record and its announcement, when a client may see it final already
// and remove it: from OnError, which record calls then for a job whose
// output the data directory's bound cut. The removal must succeed, and
// the job's tail, which record keeps as it announces the job, must not
// come back after it.
func TestRemoveAJobAsItEnds(t *testing.T) {
	type removal struct {
		j   *job
		err error
	}
	removed := make(chan removal, 1)
	var p *Pool
	var once sync.Once
	p = newPool(t, Config{MaxDataSize: 4 << 10, OnError: func(id int64, err error) {
		t.Logf("job %d: %v", id, err)
		if id == 0 {
			return
		}
		if j := p.liveJob(id); j != nil && j.final() {
			once.Do(func() { removed <- removal{j, p.Remove(id)} })
		}
	}})
	id := start(t, p, "flood", strconv.Itoa(8<<10))
	var r removal
	select {
	case r = <-removed:
	case <-time.After(time.Minute):
		t.Fatalf("job %d was not final and live at any OnError in a minute", id)
	}
	if r.err != nil {
		t.Fatalf("Remove(%d) of a job final but not yet announced: %v; want it removed", id, r.err)
	}
	<-r.j.done // the tail is kept, or not, before done
	if _, err := p.Query(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Query(%d) after its removal: %v, want ErrNotFound", id, err)
	}
	if tail, ok := p.tails.get(id); ok {
		t.Errorf("the tail of removed job %d was kept: %d bytes", id, len(tail.b))
	}
}
