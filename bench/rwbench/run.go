//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rw-project/rw/internal/worker"
)

// sizes are what a run does; -quick makes everything smaller.
type sizes struct {
	cliRounds   int           // runs of each whole-process command
	loadTime    time.Duration // keep-alive load, per client count and server
	startJobs   int           // jobs per start-rate measurement
	streamBytes int64         // one followed job's output
	streamRuns  int           // streams of one job followed by curl, rw's and the floor's, to take the median of
	streamRow   int           // jobs followed by rw logs -f in a row
	listJobs    []int         // job counts the list is measured at
	fillTime    time.Duration // the most time spent starting jobs for the list
	running     int           // jobs running at once for the thread count
	runningWait time.Duration // the most time spent waiting for them to run
}

var (
	fullSizes  = sizes{cliRounds: 40, loadTime: 3 * time.Second, startJobs: 1000, streamBytes: 1 << 30, streamRuns: 3, streamRow: 6, listJobs: []int{1000, 10000}, fillTime: 4 * time.Minute, running: 1000, runningWait: 90 * time.Second}
	quickSizes = sizes{cliRounds: 15, loadTime: 2 * time.Second, startJobs: 500, streamBytes: 256 << 20, streamRuns: 3, streamRow: 3, listJobs: []int{1000, 3000}, fillTime: time.Minute, running: 300, runningWait: 30 * time.Second}
)

func runMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	bin := fs.String("bin", "", "directory holding rw, floorclient, hello, add.exe and (optionally) add-static")
	quick := fs.Bool("quick", false, "smaller sizes, for about two minutes instead of ten")
	only := fs.String("only", "", "run only these steps, comma-separated: cli, keep-alive, start, stream, list, threads (idle always runs: it starts the servers the others use)")
	var serveFlags stringList
	fs.Var(&serveFlags, "serve-flag", "a flag for every rw serve, such as --cgroups=off (repeat for more)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return fmt.Errorf("-bin is required: bench/run.sh builds the binaries and passes it")
	}
	sz := fullSizes
	if *quick {
		sz = quickSizes
	}
	e, err := newEnv(ctx, *bin)
	if err != nil {
		return err
	}
	e.serveFlags = serveFlags
	defer e.close()
	b := &bench{env: e, sz: sz}
	t0 := time.Now()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"idle", b.idleMemory},
		{"cli", b.cliStartup},
		{"keep-alive", b.keepAlive},
		{"start", b.startRate},
		{"stream", b.streaming},
		{"list", b.list},
		{"threads", b.threads},
	}
	for _, st := range steps {
		if ctx.Err() != nil {
			break
		}
		// Every step needs the main servers, which the first starts.
		if *only != "" && st.name != "idle" && !slices.Contains(strings.Split(*only, ","), st.name) {
			continue
		}
		fmt.Fprintf(os.Stderr, "rwbench: %s (%s in)\n", st.name, time.Since(t0).Round(time.Second))
		if err := st.run(ctx); err != nil {
			b.rows = append(b.rows, row{path: st.name, rw: "error: " + err.Error(), floor: "-", goal: "-", met: "no"})
		}
	}
	fmt.Printf("# rwbench, %s mode, %s, %s\n", map[bool]string{true: "quick", false: "full"}[*quick],
		time.Now().UTC().Format("2006-01-02 15:04 MST"), time.Since(t0).Round(time.Second))
	if len(serveFlags) > 0 {
		fmt.Printf("# rw serve %s\n", strings.Join(serveFlags, " "))
	}
	printTable(os.Stdout, b.rows)
	return ctx.Err()
}

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, " ") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// bench holds a run's environment, the servers its steps share, and the rows
// measured so far.
type bench struct {
	env   *env
	sz    sizes
	main  *server // rw serve with its defaults, for the CLI, queries, starts and streams
	plain *server // the floor server without token verification
	rows  []row
}

func (b *bench) add(r row) { b.rows = append(b.rows, r) }

// idleMemory starts the main rw server and the plain floor server, makes one
// request to each, and compares their resident memory.
func (b *bench) idleMemory(ctx context.Context) error {
	e := b.env
	var err error
	if b.main, err = e.startRW(ctx, "main"); err != nil {
		return err
	}
	if b.plain, err = e.startFloor(ctx, "floor"); err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	for _, s := range []*server{b.main, b.plain} {
		if err := e.call(ctx, c, s, "GET", "/query", "", nil); err != nil {
			return err
		}
	}
	time.Sleep(500 * time.Millisecond)
	rwKB, err := procStatus(b.main.cmd.Process.Pid, "VmRSS")
	if err != nil {
		return err
	}
	floorKB, err := procStatus(b.plain.cmd.Process.Pid, "VmRSS")
	if err != nil {
		return err
	}
	b.add(ratioAtMost("idle RSS, rw serve vs bare mTLS server", mib(rwKB), mib(floorKB), float64(rwKB)/float64(floorKB), 2))
	return nil
}

// floorClient returns a command that sends one request as floorclient.
func (b *bench) floorClient(path, body string) func() *exec.Cmd {
	e := b.env
	return func() *exec.Cmd {
		args := []string{"-cert", e.cert, "-key", e.key, "-ca", e.ca, "-token", e.token}
		if body != "" {
			args = append(args, "-body", body)
		}
		return exec.Command(filepath.Join(e.bin, "floorclient"), append(args, "https://"+b.main.addr+path)...)
	}
}

// rwCmd returns a command that runs rw with args, its output discarded.
func (b *bench) rwCmd(args ...string) func() *exec.Cmd {
	return func() *exec.Cmd {
		cmd := exec.Command(filepath.Join(b.env.bin, "rw"), args...)
		cmd.Env = b.env.rwEnv()
		return cmd
	}
}

// cliStartup times rw start against the one-request client, and rw version
// (not connected: no request) against a Go hello-world.
func (b *bench) cliStartup(ctx context.Context) error {
	e := b.env
	t, err := timeRuns(ctx, b.sz.cliRounds,
		b.rwCmd("start", "add.exe", "8", "10"),
		b.floorClient("/start", `{"filePath": "add.exe", "args": ["8", "10"]}`))
	if err != nil {
		return err
	}
	b.add(ratioAtMost("rw start add.exe 8 10, whole process (median)", ms(msOf(t[0])), ms(msOf(t[1])), msOf(t[0])/msOf(t[1]), 1.1))
	version := func() *exec.Cmd {
		cmd := exec.Command(filepath.Join(e.bin, "rw"), "version")
		cmd.Env = append(e.rwEnv(), "RW_STATE="+filepath.Join(e.dir, "no-state.json"))
		return cmd
	}
	hello := func() *exec.Cmd { return exec.Command(filepath.Join(e.bin, "hello")) }
	if t, err = timeRuns(ctx, b.sz.cliRounds*2, version, hello); err != nil {
		return err
	}
	b.add(row{"rw version (not connected) vs Go hello-world (median)", ms(msOf(t[0])), ms(msOf(t[1])), msOf(t[0]) / msOf(t[1]), "report", "-"})
	return nil
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// keepAlive compares GET /query?id=N of an ended job on rw with the floor
// server answering a job of the same size, without and with ES256
// verification. It starts the job itself, so that it runs alone too
// (--only keep-alive).
func (b *bench) keepAlive(ctx context.Context) error {
	e := b.env
	verifying, err := e.startFloor(ctx, "floor-es256", "-verify")
	if err != nil {
		return err
	}
	defer verifying.stop()
	c, err := e.client()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	// A job of its own, ended, so that the step does not depend on the
	// others having run: the floors answer any id with a job of its size.
	var job struct{ ID int64 }
	if err := e.call(ctx, c, b.main, "POST", "/start", `{"filePath": "add.exe", "args": ["8", "10"]}`, &job); err != nil {
		return err
	}
	if err := e.waitIdle(ctx, b.main, job.ID); err != nil {
		return err
	}
	query := fmt.Sprintf("/query?id=%d", job.ID)
	for _, n := range []int{1, 8, 64} {
		rw, err := e.load(ctx, b.main, n, b.sz.loadTime, "GET", query, "")
		if err != nil {
			return err
		}
		plain, err := e.load(ctx, b.plain, n, b.sz.loadTime, "GET", query, "")
		if err != nil {
			return err
		}
		es256, err := e.load(ctx, verifying, n, b.sz.loadTime, "GET", query, "")
		if err != nil {
			return err
		}
		path := fmt.Sprintf("GET /query?id=N keep-alive, %d clients, vs untokened server", n)
		if n == 8 {
			b.add(ratioAtLeast(path, perSec(rw), perSec(plain), rw/plain, 0.8))
		} else {
			b.add(row{path, perSec(rw), perSec(plain), rw / plain, "report", "-"})
		}
		b.add(row{"  the same, vs a server verifying ES256 per request", perSec(rw), perSec(es256), rw / es256, "report", "-"})
	}
	return nil
}

// startRate compares jobs started through POST /start from 8 clients and
// run to their end with the same children spawned from a bare Go loop of
// as many goroutines as rw has workers.
func (b *bench) startRate(ctx context.Context) error {
	e := b.env
	children := []struct {
		file string
		goal float64
	}{{"add.exe", 0.8}, {"add-static", 0.5}}
	for _, ch := range children {
		path := filepath.Join(e.jobs, ch.file)
		if !fileExists(path) {
			b.add(row{"job starts/s, " + ch.file, "skipped: bench/run.sh could not build it", "-", 0, "-", "-"})
			continue
		}
		// As many spawners as rw serve's default --workers.
		floor, err := spawnLoop(ctx, worker.DefaultWorkers, b.sz.startJobs, path, "8", "10")
		if err != nil {
			return err
		}
		t0 := time.Now()
		last, err := e.startJobs(ctx, b.main, 8, b.sz.startJobs, ch.file, "8", "10")
		if err != nil {
			return err
		}
		if err := e.waitIdle(ctx, b.main, last); err != nil {
			return err
		}
		rw := float64(b.sz.startJobs) / time.Since(t0).Seconds()
		name := map[string]string{"add.exe": "#!/bin/sh child", "add-static": "9 KB static child"}[ch.file]
		b.add(ratioAtLeast(fmt.Sprintf("job starts/s through the API, 8 clients, %s, vs Go spawn loop", name), perSec(rw), perSec(floor), rw/floor, ch.goal))
	}
	return nil
}

// list starts jobs on a fresh rw server up to each count of sz.listJobs and
// measures rw ls, a page of GET /query, the whole list, and the memory
// each finished job costs.
func (b *bench) list(ctx context.Context) error {
	e := b.env
	s, err := e.startRW(ctx, "list")
	if err != nil {
		return err
	}
	defer func() {
		s.stop()
		// The other steps' rw commands talk to the main server.
		e.rw(context.Background(), "connect", b.main.addr)
	}()
	pid := s.cmd.Process.Pid
	time.Sleep(500 * time.Millisecond)
	rss0, err := procStatus(pid, "VmRSS")
	if err != nil {
		return err
	}
	child := "add.exe"
	if fileExists(filepath.Join(e.jobs, "add-static")) {
		child = "add-static"
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	pageMS := map[int]float64{}
	var counts []int
	// A loaded machine runs jobs slowly: they are started in batches,
	// each run to its end before the next, and past fillTime the list is
	// measured at the count reached, which the rows name.
	const batch = 500
	deadline := time.Now().Add(b.sz.fillTime)
	have := 0
	for _, n := range b.sz.listJobs {
		for have < n && time.Now().Before(deadline) {
			last, err := e.startJobs(ctx, s, 8, min(batch, n-have), child, "8", "10")
			if err != nil {
				return err
			}
			if err := e.waitIdle(ctx, s, last); err != nil {
				return err
			}
			// Ids on a fresh server count the jobs started.
			have = int(last)
		}
		if len(counts) > 0 && have == counts[len(counts)-1] {
			break
		}
		if have < 100 {
			return fmt.Errorf("ran only %d jobs in %v", have, b.sz.fillTime)
		}
		n = have
		counts = append(counts, n)
		// The last page of 100, after the first n-100 jobs.
		page := fmt.Sprintf("/query?tail=256&limit=100&after=%d", n-100)
		const pages = 50
		t0 := time.Now()
		for range pages {
			if err := e.call(ctx, c, s, "GET", page, "", nil); err != nil {
				return err
			}
		}
		pageMS[n] = msOf(time.Since(t0)) / pages
		t0 = time.Now()
		const lists = 5
		for range lists {
			if err := e.call(ctx, c, s, "GET", "/query?tail=256", "", nil); err != nil {
				return err
			}
		}
		b.add(row{fmt.Sprintf("GET /query?tail=256, the whole list of %d jobs (mean)", n), ms(msOf(time.Since(t0)) / lists), "-", 0, "report", "-"})
		if len(counts) == 1 {
			if err := b.listCLI(ctx, s, n); err != nil {
				return err
			}
		}
	}
	if len(counts) < 2 {
		return fmt.Errorf("ran only %d jobs in %v", have, b.sz.fillTime)
	}
	first, last := counts[0], counts[len(counts)-1]
	flat := pageMS[last] / pageMS[first]
	b.add(row{fmt.Sprintf("GET /query page of 100, %d jobs vs %d (mean)", last, first), ms(pageMS[last]), ms(pageMS[first]), flat,
		"<= 10 ms, flat (<= 1.5x)", yesNo(pageMS[last] <= 10 && flat <= 1.5)})
	time.Sleep(time.Second)
	rss1, err := procStatus(pid, "VmRSS")
	if err != nil {
		return err
	}
	perJob := float64(rss1-rss0) * 1024 / float64(last)
	b.add(row{fmt.Sprintf("RSS per finished job (VmRSS growth over %d jobs)", last), fmt.Sprintf("%.0f B", perJob), "-", 0, "<= 2048 B", yesNo(perJob <= 2048)})
	return nil
}

// listCLI times rw ls against the one-request client asking for the same
// list (GET /query?tail=256, printed raw) on server s with n jobs.
func (b *bench) listCLI(ctx context.Context, s *server, n int) error {
	e := b.env
	if _, err := e.rw(ctx, "connect", s.addr); err != nil {
		return err
	}
	floor := func() *exec.Cmd {
		return exec.Command(filepath.Join(e.bin, "floorclient"), "-cert", e.cert, "-key", e.key, "-ca", e.ca, "-token", e.token,
			"https://"+s.addr+"/query?tail=256")
	}
	t, err := timeRuns(ctx, b.sz.cliRounds/2+1, b.rwCmd("ls"), floor)
	if err != nil {
		return err
	}
	b.add(ratioAtMost(fmt.Sprintf("rw ls, %d jobs, whole process (median)", n), ms(msOf(t[0])), ms(msOf(t[1])), msOf(t[0])/msOf(t[1]), 1.5))
	return nil
}

// threads starts sz.running jobs that sleep on a fresh server with as many
// workers, and counts rw serve's threads once all of them run.
func (b *bench) threads(ctx context.Context) error {
	e := b.env
	n := b.sz.running
	s, err := e.startRW(ctx, "threads", "--workers", strconv.Itoa(n))
	if err != nil {
		return err
	}
	defer s.stop()
	if _, err := e.startJobs(ctx, s, 8, n, "sleep.sh", "60"); err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	// A loaded machine spawns slowly: past runningWait the threads are
	// counted with the jobs running by then, which the row names.
	deadline := time.Now().Add(b.sz.runningWait)
	running := 0
	for {
		if running, err = e.countJobs(ctx, c, s, "running"); err != nil {
			return err
		}
		if running == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	threads, err := procStatus(s.cmd.Process.Pid, "Threads")
	if err != nil {
		return err
	}
	b.add(row{fmt.Sprintf("rw serve threads, %d jobs running", running), strconv.FormatInt(threads, 10), "-", 0, "< 50", yesNo(threads < 50)})
	return nil
}
