//go:build linux

package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestManyConcurrentJobs(t *testing.T) {
	const n = 200
	p := newPool(t, Config{Workers: 8, QueueSize: n})
	ids := make(chan int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			args := []string{"echo", strconv.Itoa(i)}
			if i%10 == 0 {
				args = []string{"sleep", "1h"}
			}
			id, err := p.Start(Spec{Owner: "u" + strconv.Itoa(i%3), Path: helperName, Args: args})
			if err != nil {
				t.Errorf("Start %d: %v", i, err)
				return
			}
			ids <- id
		})
	}
	// Readers and stoppers race with the starts.
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for ctx.Err() == nil {
				for _, s := range p.List() {
					if _, err := p.Query(s.ID); err != nil {
						t.Errorf("Query(%d): %v", s.ID, err)
					}
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d given twice", id)
		}
		seen[id] = true
	}
	var stoppers sync.WaitGroup
	for id := range seen {
		stoppers.Go(func() {
			s, err := p.Query(id)
			if err != nil {
				t.Error(err)
				return
			}
			if s.Args[0] == "sleep" {
				if s, err = p.Stop(context.Background(), id); err != nil || s.Status != StatusStopped {
					t.Errorf("Stop(%d): %v, %s", id, err, s.Status)
				}
			}
		})
	}
	stoppers.Wait()
	for id := range seen {
		s := wait(t, p, id)
		want := StatusFinished
		if s.Args[0] == "sleep" {
			want = StatusStopped
		} else if got := string(readOutput(t, p, id)); got != s.Args[1]+"\n" {
			t.Errorf("job %d output %q, want %q", id, got, s.Args[1]+"\n")
		}
		if s.Status != want {
			t.Errorf("job %d: %s (%s), want %s", id, s.Status, s.Error, want)
		}
	}
	cancel()
	readers.Wait()
	list := p.List()
	if len(list) != n {
		t.Fatalf("List has %d jobs, want %d", len(list), n)
	}
	for i, s := range list {
		if s.ID != int64(i+1) {
			t.Fatalf("List()[%d].ID = %d: not ordered by id", i, s.ID)
		}
	}
}

func TestConcurrentFollowersGetIdenticalStreams(t *testing.T) {
	const followers = 50
	p := newPool(t, Config{})
	id := start(t, p, "bytes", "4000") // 1 MB, written while the readers follow
	results := make([][]byte, followers)
	var wg sync.WaitGroup
	for i := range followers {
		wg.Go(func() {
			results[i] = readOutput(t, p, id)
		})
	}
	wg.Wait()
	var want bytes.Buffer
	for range 4000 {
		for b := range 256 {
			want.WriteByte(byte(b))
		}
	}
	if s, _ := p.Query(id); !s.Status.Final() {
		t.Errorf("followers ended while the job is %s: a follower must end after the job", s.Status)
	}
	for i, got := range results {
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("follower %d got %d bytes, not the identical %d-byte stream", i, len(got), want.Len())
		}
	}
}

func TestFollowFromOffsetAndStuckReader(t *testing.T) {
	p := newPool(t, Config{})
	id := start(t, p, "sleep", "1h")
	waitForLine(t, p, id, "ready")

	// A reader that never reads must not keep the job from ending.
	stuck, err := p.Follow(context.Background(), id, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()

	// A reader whose context ends gets the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	r, err := p.Follow(ctx, id, 3, true)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	n, err := r.Read(got)
	if err != nil || string(got[:n]) != "dy\n" {
		t.Fatalf("read from offset 3: %q, %v", got[:n], err)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	if _, err := r.Read(got); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	r.Close()

	// Without follow, the reader ends at what was written so far.
	r, err = p.Follow(context.Background(), id, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r); err != nil || string(b) != "ready\n" {
		t.Errorf("ReadAll without follow: %q, %v", b, err)
	}
	r.Close()

	if s, err := p.Stop(context.Background(), id); err != nil || s.Status != StatusStopped {
		t.Fatalf("Stop with a stuck reader: %v, %s", err, s.Status)
	}
	if _, err := p.Follow(context.Background(), id, -1, false); !errors.Is(err, ErrInvalidArgs) {
		t.Errorf("negative offset: %v", err)
	}
}

func TestOutputCapKeepsMemoryFlat(t *testing.T) {
	const written = 512 << 20 // 512 MiB through the pipe
	const max = 1 << 20
	p := newPool(t, Config{MaxOutput: max})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	id := start(t, p, "flood", strconv.Itoa(written))
	s := wait(t, p, id)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if s.Status != StatusFinished {
		t.Fatalf("status %s (%s): the job must keep running past the cap", s.Status, s.Error)
	}
	if !s.OutputTruncated || s.OutputSize != max {
		t.Errorf("size %d, truncated %v; want %d, true", s.OutputSize, s.OutputTruncated, max)
	}
	if got := len(readOutput(t, p, id)); got != max {
		t.Errorf("read %d bytes, want %d", got, max)
	}
	// Total allocation, not a snapshot of the heap: a copier that buffered
	// the stream would allocate in proportion to it.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("the pool allocated %d MiB while a job wrote %d MiB", alloc>>20, written>>20)
	}
}
