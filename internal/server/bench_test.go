//go:build linux

package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
)

// benchClients runs b.N requests spread over n clients, each with its own
// keep-alive mTLS connection.
func benchClients(b *testing.B, s *testenv.Server, n int, newReq func() *http.Request) {
	clients := make([]*http.Client, n)
	for i := range clients {
		clients[i] = s.Client(b, s.IDs["alice"])
	}
	benchOn(b, clients, newReq)
}

// benchOn runs b.N requests spread over clients.
func benchOn(b *testing.B, clients []*http.Client, newReq func() *http.Request) {
	for _, c := range clients {
		// Open the connection before the clock starts.
		do(b, c, newReq())
	}
	var next sync.Mutex
	left := b.N
	cpu0 := cpuTime(b)
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for {
				next.Lock()
				if left == 0 {
					next.Unlock()
					return
				}
				left--
				next.Unlock()
				do(b, c, newReq())
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	// CPU time, server and clients together: on a shared machine it moves
	// far less than the wall clock with the load of others.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func do(b *testing.B, c *http.Client, req *http.Request) {
	resp, err := c.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Errorf("status %d", resp.StatusCode)
	}
}

func BenchmarkStart(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			s := testenv.Serve(b, worker.Config{QueueSize: 1 << 20})
			token := "Bearer " + s.IDs["alice"].Token
			benchClients(b, s, n, func() *http.Request {
				req, _ := http.NewRequest("POST", "https://"+s.Addr+"/start", strings.NewReader(`{"filePath": "add.exe", "args": [8, 10]}`))
				req.Header.Set("Authorization", token)
				return req
			})
		})
	}
}

func BenchmarkQuery(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			s := testenv.Serve(b, worker.Config{})
			var last int64
			for range 100 {
				last = s.StartJob(b, s.IDs["alice"], "add.exe", "8", "10")
			}
			s.Wait(b, last)
			token := "Bearer " + s.IDs["alice"].Token
			benchClients(b, s, n, func() *http.Request {
				req, _ := http.NewRequest("GET", "https://"+s.Addr+"/query", nil)
				req.Header.Set("Authorization", token)
				return req
			})
		})
	}
}

// BenchmarkQueryOne measures GET /query?id=1, authenticated, over keep-alive
// mTLS with 1, 8 and 64 clients. BenchmarkQueryFloor sends the same
// requests to a bare keep-alive server with rw's TLS configuration that
// answers the same bytes without looking at the token: the ratio of the two
// rates is what rw's authentication, routing and job lookup cost (the goal
// is at least 0.8x with 8 clients; docs/PERFORMANCE.md).
func BenchmarkQueryOne(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			s := testenv.Serve(b, worker.Config{})
			s.Wait(b, s.StartJob(b, s.IDs["alice"], "add.exe", "8", "10"))
			token := "Bearer " + s.IDs["alice"].Token
			benchClients(b, s, n, func() *http.Request {
				req, _ := http.NewRequest("GET", "https://"+s.Addr+"/query?id=1", nil)
				req.Header.Set("Authorization", token)
				return req
			})
		})
	}
}

func BenchmarkQueryFloor(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			// rw's own answer, so that both servers write the same bytes.
			s := testenv.Serve(b, worker.Config{})
			alice := s.IDs["alice"]
			s.Wait(b, s.StartJob(b, alice, "add.exe", "8", "10"))
			answer := s.Call(b, alice, "GET", "/query?id=1", "").Body
			floor := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write(answer)
			}))
			cfg, err := pki.LoadServerTLS(s.Dir)
			if err != nil {
				b.Fatal(err)
			}
			floor.TLS = cfg
			floor.StartTLS()
			b.Cleanup(floor.Close)
			clients := make([]*http.Client, n)
			for i := range clients {
				tr := &http.Transport{TLSClientConfig: s.ClientTLS(b, alice)}
				b.Cleanup(tr.CloseIdleConnections)
				clients[i] = &http.Client{Transport: tr}
			}
			token := "Bearer " + alice.Token
			benchOn(b, clients, func() *http.Request {
				req, _ := http.NewRequest("GET", floor.URL+"/query?id=1", nil)
				req.Header.Set("Authorization", token)
				return req
			})
		})
	}
}

// BenchmarkLogsStream measures streaming a job that writes 1 GiB through
// GET /logs?follow=true.
func BenchmarkLogsStream(b *testing.B) {
	const size = 1 << 30
	s := testenv.Serve(b, worker.Config{MaxOutput: size})
	alice := s.IDs["alice"]
	c := s.Client(b, alice)
	c.Timeout = 0
	buf := make([]byte, 256<<10)
	b.SetBytes(size)
	for b.Loop() {
		job := s.StartJob(b, alice, "zeros.sh", fmt.Sprint(size))
		req, _ := http.NewRequestWithContext(context.Background(), "GET", fmt.Sprintf("https://%s/logs?id=%d&follow=true", s.Addr, job), nil)
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("streamed %d bytes, %v", n, err)
		}
	}
}

// BenchmarkJobRate measures jobs started through the API and run to their
// end, per job, with 8 clients sending POST /start over keep-alive mTLS:
// plainly, and (as root, where the host has them) with every job in a
// cgroup of its own. BenchmarkSpawnFloor runs the same child from a bare Go
// loop with as many goroutines as the pool has workers: the ratio of the
// two is what rw costs per job.
func BenchmarkJobRate(b *testing.B) {
	for _, policy := range []server.CgroupPolicy{server.CgroupsOff, server.CgroupsRequired} {
		b.Run("cgroups="+string(policy), func(b *testing.B) {
			if policy == server.CgroupsRequired && os.Geteuid() != 0 {
				b.Skip("cgroups need root")
			}
			s := testenv.Serve(b, worker.Config{QueueSize: 1 << 20}, func(c *server.RunConfig) {
				c.Cgroups = policy
				c.Cgroup.Parent = fmt.Sprintf("rwbench-%d", os.Getpid())
			})
			token := "Bearer " + s.IDs["alice"].Token
			var last atomic.Int64
			benchClients(b, s, 8, func() *http.Request {
				req, _ := http.NewRequest("POST", "https://"+s.Addr+"/start", strings.NewReader(`{"filePath": "add.exe", "args": [8, 10]}`))
				req.Header.Set("Authorization", token)
				return req
			})
			// Every job started, the last id included, has ended: ids
			// are given in order, and the pool runs them in order.
			last.Store(int64(b.N) + 8)
			for id := int64(1); id <= last.Load(); id++ {
				s.Wait(b, id)
			}
		})
	}
}

func BenchmarkSpawnFloor(b *testing.B) {
	add := filepath.Join(testenv.JobsDir(b), "add.exe")
	work := make(chan struct{})
	var wg sync.WaitGroup
	for range worker.DefaultWorkers {
		wg.Go(func() {
			for range work {
				if err := exec.Command(add, "8", "10").Run(); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for b.Loop() {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
}
