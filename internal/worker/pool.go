package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rw-project/rw/internal/cgroup"
)

// Defaults for the zero values of Config.
const (
	DefaultWorkers      = 4
	DefaultQueueSize    = 64
	DefaultStopTimeout  = 10 * time.Second // as docker stop
	DefaultMaxOutput    = 64 << 20         // 64 MiB per job
	DefaultDrainTimeout = time.Second      // reading output after a job's group is gone
)

// DefaultEnv is the whole environment of a job unless Config.Env replaces it.
// Jobs never inherit the server's environment, which may hold secrets.
var DefaultEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"LANG=C.UTF-8",
}

// Config configures a Pool. Only JobsDir is required.
type Config struct {
	// JobsDir is the directory that holds the executables jobs may run.
	// Nothing outside it can be run.
	JobsDir string
	// DataDir is where each job's output is spooled, in a private
	// subdirectory that Shutdown removes. Empty means the system's
	// temporary directory.
	DataDir string
	// Workers is the number of jobs that run at once.
	Workers int
	// QueueSize is the number of accepted jobs that may wait for a worker;
	// Start returns ErrQueueFull past it.
	QueueSize int
	// StopTimeout is how long Stop waits after SIGTERM before it sends
	// SIGKILL.
	StopTimeout time.Duration
	// MaxOutput is the number of output bytes kept per job; the job keeps
	// running past it and the rest is dropped.
	MaxOutput int64
	// DrainTimeout bounds how long a job's output is still read once its
	// process group is gone. Only a process that left the group (setsid)
	// can hold the output open that long; what it writes later is lost, so
	// it cannot keep the job, or Shutdown, from ending.
	DrainTimeout time.Duration
	// Cgroups, if set and not in cgroup.ModeNone, puts every job in a
	// cgroup of its own: limits are enforced, stop and the end of a job
	// kill everything in it, usage is read from it. The caller opens it
	// and closes it after Shutdown.
	Cgroups *cgroup.Manager
	// DefaultLimits are the limits of a job that does not ask for its own;
	// MaxLimits caps what a job may ask for (a zero field: no cap). Both
	// apply only where the pool has cgroups; CheckLimits validates them.
	DefaultLimits Limits
	MaxLimits     Limits
	// DefaultTimeout is the time limit of a job that asks for none, and
	// MaxTimeout the most a job may ask for; zero for none.
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration
	// Isolate makes jobs that do not say otherwise run in new PID, mount,
	// network, UTS and IPC namespaces, under an init that is this program
	// run again (Self, with jobinit.Arg: main must hand that to
	// jobinit.Main). It needs root.
	Isolate bool
	// Self is the program to run as an isolated job's init;
	// "/proc/self/exe" if empty.
	Self string
	// RunAs, if set, is the user every job runs as, with no supplementary
	// groups; nil runs jobs as the server's own user. Setting it needs root.
	RunAs *Credential
	// Env replaces DefaultEnv. RW_JOB_ID and HOME (the job's working
	// directory) are always added.
	Env []string
	// OnChange, if set, is called after each change of a job's status. It is
	// called from the pool's goroutines and must not block.
	OnChange func(Snapshot)
	// OnError, if set, is told of what went wrong without ending a job (a
	// cgroup that could not be removed, say), with the job's id. It is
	// called from the pool's goroutines and must not block.
	OnError func(id int64, err error)
}

// Pool runs jobs on a fixed number of workers. Its methods are safe for
// concurrent use.
type Pool struct {
	cfg      Config
	root     *os.Root
	spoolDir string
	workRoot string         // holds the jobs' working directories
	wg       sync.WaitGroup // the workers
	killc    chan struct{}  // closed by Kill
	killOnce sync.Once

	mu      sync.Mutex
	cond    *sync.Cond // signalled when pending grows or the pool closes
	jobs    []*job     // every job, jobs[i].id == i+1
	pending []*job     // accepted jobs not yet taken by a worker, oldest first
	closed  bool

	cleanupOnce sync.Once
}

// New validates cfg, prepares the spool directory and starts the workers.
// Call Shutdown to stop them.
func New(cfg Config) (*Pool, error) {
	if cfg.JobsDir == "" {
		return nil, errors.New("worker: no jobs directory configured")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = DefaultMaxOutput
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Self == "" {
		cfg.Self = "/proc/self/exe"
	}
	if cfg.Env == nil {
		cfg.Env = DefaultEnv
	}
	cfg.Env = slices.Clone(cfg.Env)
	root, err := os.OpenRoot(cfg.JobsDir)
	if err != nil {
		return nil, fmt.Errorf("worker: open jobs directory: %w", err)
	}
	if info, err := root.Stat("."); err != nil || !info.IsDir() {
		root.Close()
		return nil, fmt.Errorf("worker: jobs directory %s is not a directory", cfg.JobsDir)
	}
	spool, err := os.MkdirTemp(cfg.DataDir, "rw-output-")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("worker: create output directory: %w", err)
	}
	// The jobs reach their working directories through the spool
	// directory: they may enter it, not list it.
	workRoot := filepath.Join(spool, "work")
	if err := errors.Join(os.Chmod(spool, 0o711), os.Mkdir(workRoot, 0o711), os.Chmod(workRoot, 0o711)); err != nil {
		os.RemoveAll(spool)
		root.Close()
		return nil, fmt.Errorf("worker: create the jobs' working directories: %w", err)
	}
	p := &Pool{cfg: cfg, root: root, spoolDir: spool, workRoot: workRoot, killc: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go p.work()
	}
	return p, nil
}

// Start validates spec, queues the job and returns its id at once. The path
// must name an executable regular file inside the jobs directory: a missing
// file gives ErrNoSuchFile, a refused one ErrNotAllowed. A full queue gives
// ErrQueueFull, a pool being shut down ErrShuttingDown.
func (p *Pool) Start(spec Spec) (int64, error) {
	if p.isClosed() {
		return 0, ErrShuttingDown
	}
	for i, a := range spec.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return 0, fmt.Errorf("argument %d contains a NUL byte: %w", i+1, ErrInvalidArgs)
		}
	}
	limits, err := p.limits(spec.Limits)
	if err != nil {
		return 0, err
	}
	timeout, err := p.timeout(spec.Timeout)
	if err != nil {
		return 0, err
	}
	isolate := p.cfg.Isolate
	if spec.Isolate != nil {
		isolate = *spec.Isolate
	}
	if isolate && !CanIsolate() {
		return 0, fmt.Errorf("isolation needs a server run as root, to make namespaces and mount /proc: ask without isolation: %w", ErrCannotIsolate)
	}
	exe, err := openExecutable(p.root, spec.Path)
	if err != nil {
		return 0, err
	}
	spool, err := os.CreateTemp(p.spoolDir, "job-*.out")
	if err != nil {
		exe.Close()
		return 0, fmt.Errorf("create output file: %w", err)
	}
	spec.Args = slices.Clone(spec.Args)
	j := &job{
		spec:    spec,
		limits:  limits,
		timeout: timeout,
		isolate: isolate,
		created: time.Now(),
		out:     newOutput(spool.Name(), p.cfg.MaxOutput),
		done:    make(chan struct{}),
		stopc:   make(chan struct{}),
		exe:     exe,
		spool:   spool,
		status:  StatusStarting,
	}

	p.mu.Lock()
	if p.closed || len(p.pending) >= p.cfg.QueueSize {
		closed := p.closed
		p.mu.Unlock()
		exe.Close()
		spool.Close()
		os.Remove(spool.Name())
		if closed {
			return 0, ErrShuttingDown
		}
		return 0, ErrQueueFull
	}
	j.id = int64(len(p.jobs) + 1)
	p.jobs = append(p.jobs, j)
	p.pending = append(p.pending, j)
	p.cond.Signal()
	p.mu.Unlock()

	p.changed(j)
	return j.id, nil
}

// Stop stops job id and returns it in its final status. A queued job is
// marked stopped and never starts; a running one gets SIGTERM to its process
// group and SIGKILL after the stop timeout. Stopping a job that has already
// ended returns it unchanged. If ctx ends first, Stop returns ctx's error and
// the job is stopped all the same.
func (p *Pool) Stop(ctx context.Context, id int64) (Snapshot, error) {
	j, err := p.get(id)
	if err != nil {
		return Snapshot{}, err
	}
	p.mu.Lock()
	queued := p.dequeue(j)
	p.mu.Unlock()
	if queued {
		p.cancelQueued(j)
		return j.snapshot(), nil
	}
	j.requestStop()
	return j.await(ctx, "stop")
}

// Wait blocks until job id reaches its final status or ctx ends, and returns
// the job.
func (p *Pool) Wait(ctx context.Context, id int64) (Snapshot, error) {
	j, err := p.get(id)
	if err != nil {
		return Snapshot{}, err
	}
	return j.await(ctx, "wait for")
}

// Query returns a snapshot of job id, or ErrNotFound.
func (p *Pool) Query(id int64) (Snapshot, error) {
	j, err := p.get(id)
	if err != nil {
		return Snapshot{}, err
	}
	return j.snapshot(), nil
}

// List returns snapshots of every job, ordered by id.
func (p *Pool) List() []Snapshot {
	p.mu.Lock()
	jobs := slices.DeleteFunc(slices.Clone(p.jobs), func(j *job) bool { return j == nil })
	p.mu.Unlock()
	out := make([]Snapshot, len(jobs))
	for i, j := range jobs {
		out[i] = j.snapshot()
	}
	return out
}

// Remove removes final job id: its record, its output and its working
// directory. Its id is never given again. A job that has not ended gives
// ErrNotFinal: stop it first.
func (p *Pool) Remove(id int64) error {
	j, err := p.get(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	final, dir := j.status.Final(), j.dir
	j.mu.Unlock()
	if !final {
		return fmt.Errorf("job %d: %w", id, ErrNotFinal)
	}
	p.mu.Lock()
	p.jobs[id-1] = nil
	p.mu.Unlock()
	err = os.Remove(j.out.path)
	if dir != "" {
		err = errors.Join(err, os.RemoveAll(dir))
	}
	if err != nil {
		return fmt.Errorf("remove job %d: %w", id, err)
	}
	return nil
}

// Follow opens job id's output at offset. With follow set, the reader waits
// for new output until the job has ended and every byte was read, or ctx
// ends; without it the reader ends at the output written so far.
func (p *Pool) Follow(ctx context.Context, id int64, offset int64, follow bool) (*Reader, error) {
	j, err := p.get(id)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("negative offset %d: %w", offset, ErrInvalidArgs)
	}
	r, err := j.out.open(ctx, offset, follow)
	if err != nil {
		return nil, fmt.Errorf("open output of job %d: %w", id, err)
	}
	return r, nil
}

// Tail returns at most the last n bytes of job id's output so far, and
// whether earlier bytes were left out.
func (p *Pool) Tail(id int64, n int64) ([]byte, bool, error) {
	j, err := p.get(id)
	if err != nil {
		return nil, false, err
	}
	b, cut, err := j.out.readTail(n)
	if err != nil {
		return nil, false, fmt.Errorf("read output of job %d: %w", id, err)
	}
	return b, cut, nil
}

// Shutdown stops accepting jobs, marks queued jobs stopped, stops running
// jobs with the stop timeout and returns when every process is gone and the
// spool directory is removed. If ctx ends first it returns ctx's error; the
// jobs are still being stopped and a later call may wait again.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	pending := p.pending
	p.pending = nil
	jobs := slices.DeleteFunc(slices.Clone(p.jobs), func(j *job) bool { return j == nil })
	p.cond.Broadcast()
	p.mu.Unlock()

	for _, j := range pending {
		p.cancelQueued(j)
	}
	for _, j := range jobs {
		j.requestStop()
	}
	// The waiter ends with the workers, which end once their jobs have
	// (within the stop timeout), whether or not ctx lets us wait for them.
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("shut down worker pool: %w", ctx.Err())
	}
	var err error
	p.cleanupOnce.Do(func() {
		err = errors.Join(os.RemoveAll(p.spoolDir), p.root.Close())
	})
	return err
}

// Kill makes every stop, those under way and those to come, skip the rest
// of the stop timeout and send SIGKILL at once. It is for a server told
// twice to exit, with Shutdown already stopping every job.
func (p *Pool) Kill() {
	p.killOnce.Do(func() { close(p.killc) })
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *Pool) get(id int64) (*job, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id < 1 || id > int64(len(p.jobs)) || p.jobs[id-1] == nil {
		return nil, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	return p.jobs[id-1], nil
}

// dequeue removes j from the pending queue and reports whether it was there.
// The caller holds p.mu.
func (p *Pool) dequeue(j *job) bool {
	i := slices.Index(p.pending, j)
	if i < 0 {
		return false
	}
	p.pending = slices.Delete(p.pending, i, i+1)
	return true
}

// next waits for a pending job and takes it; it returns nil once the pool is
// closed and nothing is pending.
func (p *Pool) next() *job {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.pending) == 0 && !p.closed {
		p.cond.Wait()
	}
	if len(p.pending) == 0 {
		return nil
	}
	j := p.pending[0]
	p.pending = slices.Delete(p.pending, 0, 1)
	return j
}

// cancelQueued ends a job that was removed from the queue before a worker
// took it, so nothing else owns it.
func (p *Pool) cancelQueued(j *job) {
	p.record(j, ending{stop: stoppedBeforeStart})
}

func (p *Pool) changed(j *job) {
	if p.cfg.OnChange != nil {
		p.cfg.OnChange(j.snapshot())
	}
}
