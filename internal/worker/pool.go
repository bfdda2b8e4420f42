//go:build linux

package worker

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rw-project/rw/internal/store"
)

// Pool runs jobs on a fixed number of workers and keeps their records in
// the job store. Its methods are safe for concurrent use.
type Pool struct {
	cfg          Config
	store        *store.Store
	outDir       string         // the jobs' output files
	workRoot     string         // the jobs' working directories
	budget       diskBudget     // bytes of output on disk, against MaxDataSize
	tails        tailCache      // the small tails of ended jobs
	finals       *finalCache    // the snapshots of final jobs read lately
	recovered    Recovery       // what New found unfinished
	wg           sync.WaitGroup // the workers
	housekeeping sync.WaitGroup // the retention goroutine
	killc        chan struct{}  // closed by Kill
	killOnce     sync.Once
	swept        chan struct{} // wakes the retention goroutine
	sweepMu      sync.Mutex    // one sweep at a time
	quit         chan struct{} // closed by Shutdown, ends the retention goroutine
	ending       chan struct{} // a place for each job end run after its worker (afterward)

	mu       sync.Mutex
	cond     *sync.Cond     // signalled when pending grows or the pool closes
	live     map[int64]*job // jobs not yet final (and final ones whose record could not be written)
	pending  []*job         // accepted jobs not yet taken by a worker, oldest first (by seq)
	queued   uint64         // the seq of the last job queued
	owned    map[string]int // jobs queued or running (or being started), by owner
	reserved int            // queue places taken by starts whose records are being written
	idle     int            // workers waiting in next for a job to take
	closed   bool
	// ready is closed when every worker first waits for a job, for New;
	// nil after.
	ready chan struct{}

	cleanupOnce sync.Once
}

// Start validates spec, records the job in the store and queues it, and
// returns its id once the record is committed: an id Start returns is
// never lost, whatever happens to the server after. The path must name an
// executable regular file inside the jobs directory: a missing file gives
// ErrNoSuchFile, a refused one ErrNotAllowed. A full queue gives
// ErrQueueFull, a pool being shut down ErrShuttingDown, a store or data
// directory that cannot be written ErrStorage.
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
	exe, err := p.openExecutable(spec.Path)
	if err != nil {
		return 0, err
	}
	if err := p.reserve(spec.Owner); err != nil {
		exe.Close()
		return 0, err
	}
	spec.Args = slices.Clone(spec.Args)
	j := &job{
		spec:    spec,
		limits:  limits,
		timeout: timeout,
		isolate: isolate,
		created: time.Now(),
		done:    make(chan struct{}),
		begun:   make(chan struct{}),
		stopc:   make(chan struct{}),
		regrace: make(chan struct{}, 1),
		exe:     exe,
		status:  StatusQueued,
	}
	// The record is committed with no lock held: the queue place
	// reserved above keeps the queue's bound.
	if err := p.create(j); err != nil {
		exe.Close()
		p.unreserve()
		p.disown(spec.Owner)
		return 0, err
	}
	// The report of the job queued is taken before a worker can see it:
	// one may take it at once.
	queuedAt := j.snapshot()
	p.mu.Lock()
	p.reserved--
	p.cond.Broadcast() // Shutdown waits for reservations to end
	if p.closed {
		p.mu.Unlock()
		// Shutdown has taken the queue already: the caller is told no,
		// so the job must not exist.
		exe.Close()
		p.report(j.id, p.store.Delete(j.id))
		p.disown(spec.Owner)
		return 0, ErrShuttingDown
	}
	p.live[j.id] = j
	p.queued++
	j.seq = p.queued
	p.pending = append(p.pending, j)
	ahead := len(p.pending) - 1
	queuedAt.QueuePosition = &ahead
	p.cond.Signal()
	p.mu.Unlock()

	if p.cfg.OnChange != nil {
		p.cfg.OnChange(queuedAt)
	}
	return j.id, nil
}

// reserve takes a place in the queue for a job being started.
func (p *Pool) reserve(owner string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return ErrShuttingDown
	case p.cfg.MaxJobsPerUser > 0 && p.owned[owner] >= p.cfg.MaxJobsPerUser:
		return fmt.Errorf("%s has %d jobs queued or running, the most one user may have: %w", owner, p.owned[owner], ErrUserBusy)
	case len(p.pending)+p.reserved >= p.cfg.QueueSize:
		return ErrQueueFull
	}
	p.reserved++
	p.owned[owner]++
	return nil
}

// disown counts one job of owner less: it ended, or never was.
func (p *Pool) disown(owner string) {
	p.mu.Lock()
	if p.owned[owner]--; p.owned[owner] <= 0 {
		delete(p.owned, owner)
	}
	p.mu.Unlock()
}

func (p *Pool) unreserve() {
	p.mu.Lock()
	p.reserved--
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Stop stops job id and returns it in its final status. A queued job is
// marked stopped and never starts; a running one gets SIGTERM to its process
// group and SIGKILL after the stop timeout. Stopping a job that has already
// ended returns it unchanged. If ctx ends first, Stop returns ctx's error and
// the job is stopped all the same.
func (p *Pool) Stop(ctx context.Context, id int64) (Snapshot, error) {
	return p.StopWithin(ctx, id, p.cfg.StopTimeout)
}

// StopWithin is Stop with a grace period of its own between SIGTERM and
// SIGKILL: at most the pool's stop timeout (more is ErrInvalidTimeout), and
// 0 sends SIGKILL at once, without SIGTERM. A job being stopped already
// keeps whichever SIGKILL comes first, so a second stop with a shorter
// grace period shortens the first's.
func (p *Pool) StopWithin(ctx context.Context, id int64, grace time.Duration) (Snapshot, error) {
	if grace < 0 || grace > p.cfg.StopTimeout {
		return Snapshot{}, fmt.Errorf("grace period %v is not within the server's maximum of %v: ask for at most that, or 0 to kill at once: %w", grace, p.cfg.StopTimeout, ErrInvalidTimeout)
	}
	j := p.liveJob(id)
	if j == nil {
		return p.recorded(id)
	}
	p.mu.Lock()
	queued := p.dequeue(j)
	p.mu.Unlock()
	if queued {
		p.cancelQueued(j)
		return j.snapshot(), nil
	}
	j.requestStop(grace)
	return j.await(ctx, "stop")
}

// Wait blocks until job id reaches its final status or ctx ends, and returns
// the job.
func (p *Pool) Wait(ctx context.Context, id int64) (Snapshot, error) {
	if j := p.liveJob(id); j != nil {
		return j.await(ctx, "wait for")
	}
	return p.recorded(id)
}

// WaitStarted waits until job id has left StatusQueued and StatusStarting
// (its process runs, it is being stopped, or it has ended) or ctx ends,
// and returns the job as it is then: still queued or starting if ctx ended
// first. A job that waits in the queue behind busy workers is returned at
// once, queued, with its place: it may wait there for long. So a caller
// that starts a job learns, in the time a spawn takes, whether it could
// start at all (StatusFailed with ReasonStartFailed) without polling. It
// fails only as Query does.
func (p *Pool) WaitStarted(ctx context.Context, id int64) (Snapshot, error) {
	p.mu.Lock()
	j := p.live[id]
	if j == nil {
		p.mu.Unlock()
		return p.recorded(id)
	}
	// The idle workers take the jobs at the head of the queue at once;
	// one further back waits for a worker to end a job.
	i, queued := p.queueIndex(j)
	wait := !queued || i < p.idle
	p.mu.Unlock()
	if wait {
		select {
		case <-j.begun:
		case <-j.done:
		case <-ctx.Done():
		}
	}
	return p.snapshot(j), nil
}

// Query returns a snapshot of job id, or ErrNotFound.
func (p *Pool) Query(id int64) (Snapshot, error) {
	if j := p.liveJob(id); j != nil {
		return p.snapshot(j), nil
	}
	return p.recorded(id)
}

// List returns snapshots of every job, ordered by id. It holds them all:
// for a few jobs, and for tests; servers list with Scan.
func (p *Pool) List() []Snapshot {
	var out []Snapshot
	_ = p.Scan(0, func(s Snapshot) bool {
		out = append(out, s)
		return true
	})
	return out
}

// Remove removes final job id: its record, its output and its working
// directory. Its id is never given again. A job that has not ended gives
// ErrNotFinal: stop it first.
func (p *Pool) Remove(id int64) error {
	// A job is final, and its final record on disk, a moment before it
	// is announced (record): a client that saw it final may remove it
	// then. What record does after (keep the tail, let the job go) does
	// not bring it back.
	if j := p.liveJob(id); j != nil && !j.final() {
		return fmt.Errorf("job %d: %w", id, ErrNotFinal)
	}
	// No lock against retention: only the one removal of the output file
	// that succeeds gives its bytes back, and a record deleted meanwhile
	// is ErrNotFound to the other.
	s, err := p.recorded(id)
	if err != nil {
		return err
	}
	if !s.Status.Final() {
		// Started a moment ago, and not queued yet.
		return fmt.Errorf("job %d: %w", id, ErrNotFinal)
	}
	return p.remove(s)
}

// Follow opens job id's output at offset. With follow set, the reader waits
// for new output until the job has ended and every byte was read, or ctx
// ends; without it the reader ends at the output written so far.
func (p *Pool) Follow(ctx context.Context, id int64, offset int64, follow bool) (*Reader, error) {
	if offset < 0 {
		return nil, fmt.Errorf("negative offset %d: %w", offset, ErrInvalidArgs)
	}
	o, err := p.outputOf(id)
	if err != nil {
		return nil, err
	}
	r, err := o.open(ctx, offset, follow)
	if err != nil {
		return nil, fmt.Errorf("open output of job %d: %w", id, err)
	}
	return r, nil
}

// Scan calls fn with a snapshot of every job with an id over after, in id
// order, until fn returns false. It streams from the store, a page at a
// time, so a list of any length takes no more memory than a page; jobs
// that run are shown as they are now.
func (p *Pool) Scan(after int64, fn func(Snapshot) bool) error {
	err := p.store.Scan(after, func(r store.Record) bool {
		if j := p.liveJob(r.ID); j != nil {
			return fn(p.snapshot(j))
		}
		return fn(snapshotOf(r))
	})
	if err != nil {
		return fmt.Errorf("list jobs: %v: %w", err, ErrStorage)
	}
	return nil
}

// Shutdown stops accepting jobs, marks queued jobs stopped, stops running
// jobs with the stop timeout and returns when every process is gone and
// the store is closed; the data directory stays, for the next pool. If ctx
// ends first it returns ctx's error; the jobs are still being stopped and
// a later call may wait again.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	pending := p.pending
	p.pending = nil
	for _, j := range pending {
		j.unqueue(StatusStopping)
	}
	jobs := make([]*job, 0, len(p.live))
	for _, j := range p.live {
		jobs = append(jobs, j)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	if first {
		close(p.quit)
	}

	for _, j := range pending {
		p.cancelQueued(j)
	}
	for _, j := range jobs {
		j.requestStop(p.cfg.StopTimeout)
	}
	// The waiter ends with the workers, which end once their jobs have
	// (within the stop timeout), whether or not ctx lets us wait for them.
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		p.housekeeping.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("shut down worker pool: %w", ctx.Err())
	}
	// Starts under way hold a reservation: the store must outlive them.
	p.mu.Lock()
	for p.reserved > 0 {
		p.cond.Wait()
	}
	p.mu.Unlock()
	var err error
	p.cleanupOnce.Do(func() {
		err = p.store.Close()
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

// liveJob returns job id if it has not been recorded final yet, or nil.
func (p *Pool) liveJob(id int64) *job {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live[id]
}

// dequeue removes j from the pending queue, to be stopped, and reports
// whether it was there. The caller holds p.mu.
func (p *Pool) dequeue(j *job) bool {
	i, ok := p.queueIndex(j)
	if !ok {
		return false
	}
	p.pending = slices.Delete(p.pending, i, i+1)
	j.unqueue(StatusStopping)
	return true
}

// queueIndex finds j in the pending queue, which is sorted by seq, by
// binary search: a list of a long queue asks for every job's place. The
// caller holds p.mu.
func (p *Pool) queueIndex(j *job) (int, bool) {
	return slices.BinarySearchFunc(p.pending, j.seq, func(q *job, seq uint64) int {
		return cmp.Compare(q.seq, seq)
	})
}

// unqueue gives a job that has just left the queue its next status, so
// that a job says queued exactly while it is in the queue. The caller
// holds p.mu.
func (j *job) unqueue(status Status) {
	j.mu.Lock()
	j.status = status
	j.mu.Unlock()
}

// snapshot is j.snapshot, with j's place in the queue while it is queued.
// Leaving the queue changes a job's status under p.mu (unqueue), so a job
// still queued under p.mu is in the queue.
func (p *Pool) snapshot(j *job) Snapshot {
	s := j.snapshot()
	if s.Status != StatusQueued {
		return s
	}
	p.mu.Lock()
	i, ok := p.queueIndex(j)
	p.mu.Unlock()
	if !ok {
		// Taken or stopped since: its status has moved on.
		return j.snapshot()
	}
	s.QueuePosition = &i
	return s
}

// next waits for a pending job and takes it; it returns nil once the pool is
// closed and nothing is pending.
func (p *Pool) next() *job {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle++
	if p.ready != nil && p.idle == p.cfg.Workers {
		close(p.ready)
		p.ready = nil
	}
	for len(p.pending) == 0 && !p.closed {
		p.cond.Wait()
	}
	p.idle--
	if len(p.pending) == 0 {
		return nil
	}
	j := p.pending[0]
	p.pending = slices.Delete(p.pending, 0, 1)
	j.unqueue(StatusStarting)
	return j
}

// cancelQueued ends a job that was removed from the queue before a worker
// took it, so nothing else owns it.
func (p *Pool) cancelQueued(j *job) {
	p.record(j, ending{stop: stoppedBeforeStart})
}

// changed tells those who watch j that its status changed: WaitStarted's
// callers, once j has left the queue and starting, and OnChange.
func (p *Pool) changed(j *job) {
	j.leftStarting()
	if p.cfg.OnChange != nil {
		p.cfg.OnChange(p.snapshot(j))
	}
}
