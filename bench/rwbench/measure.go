//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// timeRuns runs each command of cmds in turn, rounds times, and returns the
// median wall time of each. Interleaving the commands spreads the machine's
// noise over all of them alike.
func timeRuns(ctx context.Context, rounds int, cmds ...func() *exec.Cmd) ([]time.Duration, error) {
	times := make([][]time.Duration, len(cmds))
	for range rounds {
		for i, mk := range cmds {
			cmd := mk()
			t0 := time.Now()
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
			}
			times[i] = append(times[i], time.Since(t0))
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	medians := make([]time.Duration, len(cmds))
	for i, t := range times {
		slices.Sort(t)
		medians[i] = t[len(t)/2]
	}
	return medians, nil
}

// load sends requests to s from n clients, each on a keep-alive connection
// of its own, for d, and returns the requests answered per second. Every
// answer must be 200.
func (e *env) load(ctx context.Context, s *server, n int, d time.Duration, method, path, body string) (float64, error) {
	clients := make([]*http.Client, n)
	for i := range clients {
		c, err := e.client()
		if err != nil {
			return 0, err
		}
		defer c.CloseIdleConnections()
		clients[i] = c
		// The connection is opened before the clock starts.
		if err := e.call(ctx, c, s, method, path, body, nil); err != nil {
			return 0, err
		}
	}
	lctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	t0 := time.Now()
	for _, c := range clients {
		wg.Go(func() {
			for lctx.Err() == nil {
				err := e.call(lctx, c, s, method, path, body, nil)
				if err != nil {
					if lctx.Err() == nil {
						once.Do(func() { firstErr = err; cancel() })
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(done.Load()) / elapsed.Seconds(), ctx.Err()
}

// startJobs starts count jobs of file with args through POST /start from n
// clients and returns the highest id given.
func (e *env) startJobs(ctx context.Context, s *server, n, count int, file string, args ...string) (int64, error) {
	body := fmt.Sprintf(`{"filePath": %q, "args": [%s]}`, file, quoteAll(args))
	// The first error stops every client.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var left atomic.Int64
	left.Store(int64(count))
	var maxID atomic.Int64
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		c, err := e.client()
		if err != nil {
			return 0, err
		}
		wg.Go(func() {
			defer c.CloseIdleConnections()
			for left.Add(-1) >= 0 {
				var job struct{ ID int64 }
				if err := e.call(ctx, c, s, "POST", "/start", body, &job); err != nil {
					errs <- err
					cancel()
					return
				}
				for {
					m := maxID.Load()
					if job.ID <= m || maxID.CompareAndSwap(m, job.ID) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return maxID.Load(), <-errs
}

func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, ", ")
}

// countJobs returns how many jobs of s are in the statuses given
// (comma-separated), asking for no output.
func (e *env) countJobs(ctx context.Context, c *http.Client, s *server, statuses string) (int, error) {
	var list struct{ Jobs []struct{ ID int64 } }
	err := e.call(ctx, c, s, "GET", "/query?tail=0&status="+statuses, "", &list)
	return len(list.Jobs), err
}

// waitIdle waits until s has no job queued or running. It polls the job
// with the highest id first (jobs run about in id order), so that the
// harness's own lists do not compete with the jobs.
func (e *env) waitIdle(ctx context.Context, s *server, maxID int64) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	for {
		var job struct{ Status string }
		if err := e.call(ctx, c, s, "GET", fmt.Sprintf("/query?id=%d&tail=0", maxID), "", &job); err != nil {
			return err
		}
		if job.Status != "queued" && job.Status != "starting" && job.Status != "running" {
			n, err := e.countJobs(ctx, c, s, "queued,starting,running")
			if err != nil || n == 0 {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// spawnLoop runs count children of path with args from workers goroutines,
// each waiting for its child before the next, and returns children per
// second: the floor of a job's start.
func spawnLoop(ctx context.Context, workers, count int, path string, args ...string) (float64, error) {
	var left atomic.Int64
	left.Store(int64(count))
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := exec.CommandContext(ctx, path, args...).Run(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(errs)
	return float64(count) / elapsed.Seconds(), <-errs
}

// rssSampler records the highest VmRSS of pid, every 20 ms, until stop.
type rssSampler struct {
	max  atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	r := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if kb, err := procStatus(pid, "VmRSS"); err == nil && kb > r.max.Load() {
				r.max.Store(kb)
			}
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// end stops the sampling and returns the highest VmRSS seen, in kB.
func (r *rssSampler) end() int64 {
	close(r.stop)
	<-r.done
	return r.max.Load()
}
