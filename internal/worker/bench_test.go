//go:build linux

package worker

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkStartToRunning measures the time from Start to the moment the
// job's process runs, for a trivial job, on an idle pool: plainly, and
// (as root, where the host has them) with the job placed in a cgroup of its
// own with limits, which is what the cgroup path adds per job.
func BenchmarkStartToRunning(b *testing.B) {
	for _, withCgroups := range []bool{false, true} {
		b.Run(fmt.Sprintf("cgroups=%v", withCgroups), func(b *testing.B) {
			// A job may be seen running twice: by Start's own change,
			// when a worker was quicker, and by the worker's.
			running := make(chan int64, 1)
			var mu sync.Mutex
			seen := map[int64]bool{}
			cfg := Config{OnChange: func(s Snapshot) {
				mu.Lock()
				first := s.Status == StatusRunning && !seen[s.ID]
				seen[s.ID] = seen[s.ID] || first
				mu.Unlock()
				if first {
					running <- s.ID
				}
			}}
			var p *Pool
			if withCgroups {
				p = cgroupPool(b, cfg)
			} else {
				p = newPool(b, cfg)
			}
			for b.Loop() {
				id, err := p.Start(Spec{Path: helperName, Args: []string{"exit", "0"}})
				if err != nil {
					b.Fatal(err)
				}
				<-running
				b.StopTimer()
				wait(b, p, id)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkFollowThroughput measures how fast a follower receives the output
// of a job that writes 1 GiB.
func BenchmarkFollowThroughput(b *testing.B) {
	const size = 1 << 30
	p := newPool(b, Config{MaxOutput: size})
	b.SetBytes(size)
	buf := make([]byte, 256<<10)
	for b.Loop() {
		id, err := p.Start(Spec{Path: helperName, Args: []string{"flood", strconv.Itoa(size)}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		r, err := p.Follow(ctx, id, 0, true)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, r, buf)
		r.Close()
		cancel()
		if err != nil || n != size {
			b.Fatalf("followed %d bytes, %v; want %d", n, err, size)
		}
	}
}

// BenchmarkJobToEnd measures a trivial job from Start to its final
// status: plainly, in a cgroup, and isolated in namespaces of its own
// under an init (the test binary run again, as rw is), so that what each
// adds per job can be read side by side. The last two need root.
func BenchmarkJobToEnd(b *testing.B) {
	cases := []struct {
		name string
		pool func(b *testing.B) *Pool
	}{
		{"plain", func(b *testing.B) *Pool { return newPool(b, Config{}) }},
		{"cgroup", func(b *testing.B) *Pool { return cgroupPool(b, Config{}) }},
		{"isolated", func(b *testing.B) *Pool {
			if !CanIsolate() {
				b.Skip("isolating jobs needs root")
			}
			return newPool(b, Config{Isolate: true})
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := c.pool(b)
			for b.Loop() {
				wait(b, p, start(b, p, "exit", "0"))
			}
		})
	}
}

// BenchmarkFinishedJobs runs b.N trivial jobs (/bin/true) to their end
// through a pool with the store, then reports the process's resident
// memory and the store's size: the records of final jobs live in the
// store, not in memory, so memory stays flat in the number of jobs.
// Run it with -benchtime 100000x for the figures in docs/benchmarks.md.
func BenchmarkFinishedJobs(b *testing.B) {
	jobs := b.TempDir()
	copyFile(b, "/bin/true", filepath.Join(jobs, "true"), 0o755)
	p := newPool(b, Config{JobsDir: jobs, QueueSize: 1 << 20})
	var ids []int64
	for b.Loop() {
		id, err := p.Start(Spec{Owner: "alice", Path: "true"})
		if err != nil {
			b.Fatal(err)
		}
		// At most 64 jobs in flight: the figure is of finished jobs,
		// not of a long queue.
		if ids = append(ids, id); len(ids) == 64 {
			wait(b, p, ids[0])
			ids = ids[1:]
		}
	}
	for _, id := range ids {
		wait(b, p, id)
	}
	b.StopTimer()
	debug.FreeOSMemory()
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			b.ReportMetric(kb/1024, "rss-MiB")
		}
	}
	size, _ := p.store.Size()
	b.ReportMetric(float64(size)/(1<<20), "store-MiB")
}

// BenchmarkOpenExecutable measures resolving a start's file: opening the
// jobs directory (again at each start, so that a directory switched or
// made again is followed) and the executable in it.
func BenchmarkOpenExecutable(b *testing.B) {
	p := newPool(b, Config{})
	for b.Loop() {
		f, err := p.openExecutable(helperName)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkFollowPastCap measures how fast a follower receives the output
// of a job that writes 1 GiB under the default output cap: past the first
// 64 MiB the bytes are streamed from memory only, with no file behind.
func BenchmarkFollowPastCap(b *testing.B) {
	const size = 1 << 30
	p := newPool(b, Config{})
	b.SetBytes(size)
	buf := make([]byte, 256<<10)
	for b.Loop() {
		id, err := p.Start(Spec{Path: helperName, Args: []string{"flood", strconv.Itoa(size)}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		r, err := p.Follow(ctx, id, 0, true)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, r, buf)
		r.Close()
		cancel()
		if err != nil || n != size {
			b.Fatalf("followed %d bytes, %v; want %d", n, err, size)
		}
	}
}
