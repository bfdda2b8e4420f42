//go:build linux

package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// The size of the stress test: jobs started in all, by how many clients
// at once, of how many users.
const (
	stressJobs    = 2000
	stressClients = 64
	stressUsers   = 8
)

// stressWait bounds each wait of a stress client: for a job to end, or
// for a request the server asks to retry to be taken. Each request has
// its own bound too (testenv's client's). Only a hung server takes this
// long; the test then fails saying what it waited for, well before the
// test binary's own timeout.
const stressWait = 2 * time.Minute

// seen is what the clients saw of one job, to hold its final record to.
type seen struct {
	user    string
	output  string // what it prints when it runs to its end
	final   string // a final status a client saw, or ""
	stopped bool   // a client stopped it
	removed bool   // a client removed it
}

// TestStress runs stressJobs tiny jobs through a real server with
// stressClients clients at once, mixing starts, stops, queries, follow
// streams and clients that leave in the middle of one, with the server's
// default bounds per user. After it, goroutines, file descriptors,
// processes (and job cgroups, as root) are back where they were, and every
// job's final record agrees with what its clients saw.
func TestStress(t *testing.T) {
	if testing.Short() {
		t.Skip("the stress test runs without -short")
	}
	parent := fmt.Sprintf("rwtest-stress-%d-%x", os.Getpid(), rand.Uint32())
	// The default drain timeout: output a starved copier had not read
	// when drain cut it off is still kept, and checked here.
	cfg := worker.Config{Workers: 8, QueueSize: 4 * stressClients}
	s := testenv.Serve(t, cfg, func(c *server.RunConfig) {
		c.MaxConnsPerUser = server.DefaultMaxConnsPerUser
		c.MaxStreamsPerUser = server.DefaultMaxStreamsPerUser
		c.MaxConns = 4 * stressClients * 2
		if os.Geteuid() == 0 {
			c.Cgroups = server.CgroupsAuto
			c.Cgroup.Parent = parent
		}
	})
	defer func() {
		if !t.Failed() {
			return
		}
		// What the server warned of says more than a client's error.
		var warned []string
		for _, line := range strings.Split(s.Logs.String(), "\n") {
			if !strings.Contains(line, `"level":"info"`) && line != "" && len(warned) < 50 {
				warned = append(warned, line)
			}
		}
		t.Logf("the server's warnings and errors:\n%s", strings.Join(warned, "\n"))
	}()
	users := make([]testenv.Identity, stressUsers)
	for i := range users {
		users[i] = s.Issue(t, fmt.Sprintf("user%d", i), "user")
	}
	// As root, where the host has cgroups, the server made its parent of
	// job cgroups in each hierarchy: find them, to count the job cgroups
	// in them after.
	var parents []string
	if strings.Contains(s.Logs.String(), `"message":"jobs run in cgroups"`) {
		if parents = cgroupDirsNamed(parent); len(parents) == 0 {
			t.Fatalf("the server runs jobs in cgroups, but no cgroup %s was found", parent)
		}
	}
	// The baseline: the server idle, no client connected.
	baseGoroutines, baseFDs, baseProcs := runtime.NumGoroutine(), openFDs(t), childProcs(t)

	var (
		mu     sync.Mutex
		jobs   = map[int64]*seen{}
		next   atomic.Int64 // starts handed out
		counts sync.Map     // action -> *atomic.Int64
	)
	count := func(action string) {
		c, _ := counts.LoadOrStore(action, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}
	began := time.Now()
	var wg sync.WaitGroup
	for i := range stressClients {
		id := users[i%stressUsers]
		wg.Go(func() {
			c := &stressClient{t: t, s: s, id: id, http: s.Client(t, id)}
			defer c.http.CloseIdleConnections()
			for n := next.Add(1); n <= stressJobs; n = next.Add(1) {
				action, job := c.one(int(n))
				if job == nil {
					return
				}
				count(action)
				mu.Lock()
				if _, dup := jobs[job.id]; dup {
					t.Errorf("job id %d given twice", job.id)
				}
				jobs[job.id] = &job.seen
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var summary []string
	counts.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%s %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("%d jobs: %s", len(jobs), strings.Join(summary, ", "))

	t.Logf("clients done after %v", time.Since(began).Round(time.Millisecond))

	// Every job's final record agrees with what its clients saw.
	admin := s.IDs["alice"]
	adminClient := s.Client(t, admin)
	for id, want := range jobs {
		if !want.removed {
			s.Wait(t, id)
		}
		r := get(t, adminClient, s, admin, idPath("/query", id))
		if want.removed {
			if r.Status != http.StatusNotFound {
				t.Errorf("job %d, removed: %d %s, want 404", id, r.Status, r.Body)
			}
			continue
		}
		var j api.Job
		r.Decode(t, &j)
		out := ""
		if j.Output != nil {
			out = *j.Output
		}
		switch {
		case j.Owner != want.user:
			t.Errorf("job %d: owner %q, want %q", id, j.Owner, want.user)
		case want.final != "" && j.Status != want.final:
			t.Errorf("job %d: a client saw it %s, its record says %s", id, want.final, j.Status)
		case want.stopped && j.Status != api.StatusStopped && j.Status != api.StatusFinished:
			t.Errorf("job %d, stopped: %s, want stopped or finished", id, j.Status)
		case j.Status == api.StatusFinished && out != want.output:
			t.Errorf("job %d finished with output %q, want %q", id, out, want.output)
		case !want.stopped && j.Status != api.StatusFinished:
			t.Errorf("job %d: %s (%s), want finished", id, j.Status, j.Error)
		}
	}
	adminClient.CloseIdleConnections()
	t.Logf("records checked after %v", time.Since(began).Round(time.Millisecond))

	// Everything the run held is given back: goroutines, descriptors,
	// processes and cgroups end when the connections, streams and jobs
	// that held them do, which the server learns a moment later.
	check := func(what string, base int, now func() int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			n := now()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %d after the run, %d before", what, n, base)
				if what == "goroutines" {
					buf := make([]byte, 1<<20)
					t.Logf("%s", buf[:runtime.Stack(buf, true)])
				}
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	check("goroutines", baseGoroutines, runtime.NumGoroutine)
	check("open file descriptors", baseFDs, func() int { return openFDs(t) })
	check("child processes", baseProcs, func() int { return childProcs(t) })
	check("job cgroups", 0, func() int { return len(jobCgroupDirs(parents)) })
	t.Logf("baseline checked after %v", time.Since(began).Round(time.Millisecond))
}

// stressClient is one client of the stress test: an identity and its own
// keep-alive connection.
type stressClient struct {
	t    *testing.T
	s    *testenv.Server
	id   testenv.Identity
	http *http.Client
}

// startedJob is a job a client started and what it saw of it.
type startedJob struct {
	id int64
	seen
}

// one starts job n and does one of the stress test's actions with it;
// it returns nil after an error, which it reports.
func (c *stressClient) one(n int) (string, *startedJob) {
	// Most jobs print one line; some print lines for a while, to be
	// followed and left, or stopped, while they run.
	long := n%4 == 0
	path, args, output := "echo.sh", []string{"job-" + strconv.Itoa(n)}, "job-"+strconv.Itoa(n)+"\n"
	if long {
		path, args = "lines.sh", []string{"5"}
		var b strings.Builder
		for i := range 5 {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		output = b.String()
	}
	body, _ := json.Marshal(map[string]any{"filePath": path, "args": args})
	var j api.Job
	if !c.do("POST", "/start", string(body), &j) {
		return "", nil
	}
	job := &startedJob{id: j.ID, seen: seen{user: c.id.Name, output: output}}
	var action string
	switch r := rand.IntN(10); {
	case long && r < 4:
		action = "follow and leave"
		c.followAndLeave(j.ID)
	case long && r < 8:
		action = "stop"
		var got api.Job
		if !c.do("POST", "/stop", fmt.Sprintf(`{"id": %d}`, j.ID), &got) {
			return "", nil
		}
		job.stopped, job.final = true, got.Status
	case r < 5:
		action = "follow"
		got, ok := c.follow(j.ID)
		job.final = c.waitFinal(j.ID)
		if ok && got != output {
			var now api.Job
			c.do("GET", idPath("/query", j.ID), "", &now)
			c.t.Errorf("job %d: followed %q, want %q; the job now: %+v", j.ID, got, output, now)
		}
	default:
		action = "query"
		job.final = c.waitFinal(j.ID)
		if !long && job.final == api.StatusFinished && rand.IntN(4) == 0 {
			action = "query and remove"
			var gone api.Job
			if !c.do("POST", "/remove", fmt.Sprintf(`{"id": %d}`, j.ID), &gone) {
				return "", nil
			}
			job.removed = true
		}
	}
	if c.t.Failed() {
		return action, nil
	}
	return action, job
}

// do sends a request and decodes a 200 answer into v; it retries the
// answers that say to try again, and reports any other.
func (c *stressClient) do(method, path, body string, v any) bool {
	deadline := time.Now().Add(stressWait)
	for {
		req, err := http.NewRequest(method, "https://"+c.s.Addr+path, strings.NewReader(body))
		if err != nil {
			c.t.Error(err)
			return false
		}
		req.Header.Set("Authorization", "Bearer "+c.id.Token)
		resp, err := c.http.Do(req)
		if err != nil {
			c.t.Errorf("%s %s: %v", method, path, err)
			return false
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			c.t.Errorf("%s %s: read: %v", method, path, err)
			return false
		case resp.Header.Get("Retry-After") != "" && time.Now().Before(deadline):
			time.Sleep(20 * time.Millisecond)
			continue
		case resp.StatusCode != http.StatusOK:
			c.t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
			return false
		}
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Errorf("%s %s: %v: %s", method, path, err, b)
			return false
		}
		return true
	}
}

// waitFinal queries the job until it is final and returns its status.
func (c *stressClient) waitFinal(id int64) string {
	deadline := time.Now().Add(stressWait)
	for {
		var j api.Job
		if !c.do("GET", idPath("/query", id), "", &j) {
			return ""
		}
		switch j.Status {
		case api.StatusFinished, api.StatusFailed, api.StatusStopped:
			return j.Status
		}
		if time.Now().After(deadline) {
			c.t.Errorf("job %d: still %s after %v", id, j.Status, stressWait)
			return ""
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// follow reads the job's whole output through a follow stream.
func (c *stressClient) follow(id int64) (string, bool) {
	resp, ok := c.openFollow(context.Background(), id)
	if !ok {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Errorf("follow job %d: %v", id, err)
		return "", false
	}
	return string(b), true
}

// followAndLeave reads the first line of the job's follow stream, then
// drops the connection in the middle of it.
func (c *stressClient) followAndLeave(id int64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, ok := c.openFollow(ctx, id)
	if !ok {
		return
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		c.t.Errorf("follow job %d: first line: %v", id, err)
	}
	cancel()
}

func (c *stressClient) openFollow(ctx context.Context, id int64) (*http.Response, bool) {
	deadline := time.Now().Add(stressWait)
	for {
		req, err := http.NewRequestWithContext(ctx, "GET", "https://"+c.s.Addr+idPath("/logs", id)+"&follow=true", nil)
		if err != nil {
			c.t.Error(err)
			return nil, false
		}
		req.Header.Set("Authorization", "Bearer "+c.id.Token)
		resp, err := c.http.Do(req)
		if err != nil {
			c.t.Errorf("follow job %d: %v", id, err)
			return nil, false
		}
		if resp.StatusCode == http.StatusOK {
			return resp, true
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Retry-After") == "" || time.Now().After(deadline) {
			c.t.Errorf("follow job %d: %d %s", id, resp.StatusCode, b)
			return nil, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// childProcs counts the processes whose parent is this process: the jobs
// of the server it runs.
func childProcs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone since the listing
		}
		// The fields after the command, which may hold spaces, in
		// parentheses: state, then the parent's pid.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		if f := strings.Fields(rest); len(f) > 1 && f[1] == self {
			n++
		}
	}
	return n
}

// cgroupDirsNamed returns the cgroups named name, in every hierarchy.
func cgroupDirsNamed(name string) []string {
	var dirs []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == name {
			dirs = append(dirs, path)
			return fs.SkipDir
		}
		return nil
	})
	return dirs
}

// jobCgroupDirs returns the job cgroups in the parents.
func jobCgroupDirs(parents []string) []string {
	var dirs []string
	for _, p := range parents {
		found, _ := filepath.Glob(filepath.Join(p, "rw-*"))
		dirs = append(dirs, found...)
	}
	return dirs
}
