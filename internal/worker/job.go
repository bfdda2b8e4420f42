//go:build linux

package worker

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/rw-project/rw/internal/cgroup"
)

// Status is the state of a job. A job moves from StatusQueued through
// StatusStarting to StatusRunning, through StatusStopping if it is made to
// stop, and ends in exactly one of the final statuses.
type Status string

const (
	// StatusQueued means the job was accepted and waits for a worker.
	StatusQueued Status = "queued"
	// StatusStarting means a worker took the job and is making its
	// process.
	StatusStarting Status = "starting"
	// StatusRunning means the job's process has been started.
	StatusRunning Status = "running"
	// StatusStopping means Stop, Shutdown or the job's time limit is
	// ending the job: SIGTERM was sent, or is about to be, and SIGKILL
	// follows at the end of the grace period. It is never final.
	StatusStopping Status = "stopping"
	// StatusFinished means the process exited with code 0.
	StatusFinished Status = "finished"
	// StatusFailed means the process exited with a non-zero code, was killed
	// by a signal that Stop did not send, or could not be started.
	StatusFailed Status = "failed"
	// StatusStopped means Stop ended the job, or removed it from the queue
	// before it started.
	StatusStopped Status = "stopped"
)

// Final reports whether s is a final status, after which the job never runs
// again.
func (s Status) Final() bool {
	return s == StatusFinished || s == StatusFailed || s == StatusStopped
}

// Spec describes a job to start.
type Spec struct {
	// Owner is the name of the user the job belongs to. The pool stores it
	// and does not interpret it.
	Owner string
	// Path names the executable, relative to the jobs directory.
	Path string
	// Args are passed to the executable as they are, without a shell.
	Args []string
	// Limits are what the job asks for; what it does not ask for takes the
	// pool's defaults.
	Limits LimitsRequest
	// Timeout, if positive, is the job's time limit; zero takes the pool's
	// default. When it runs out the job is stopped as Stop does.
	Timeout time.Duration
	// Isolate, if set, says whether the job runs in namespaces of its own
	// (see Config.Isolate); nil takes the pool's default.
	Isolate *bool
}

// Snapshot is a copy of a job's state at one moment. It shares no memory with
// the pool and may be kept and read freely.
type Snapshot struct {
	ID     int64
	Owner  string
	Path   string
	Args   []string
	Status Status
	// QueuePosition is, for a queued job, how many jobs are ahead of it
	// in the queue; nil in every other status.
	QueuePosition *int
	// ExitCode is nil until the process has ended. A process killed by a
	// signal has 128 plus the signal number, as shells report it.
	ExitCode *int
	// Reason is how the job ended, in one word; empty until it is final.
	Reason Reason
	// Error explains a failure or a stop in a sentence; it is empty for a
	// job that finished.
	Error string
	// PID is the process id while and after the job ran; 0 if it never
	// started.
	PID       int
	CreatedAt time.Time
	StartedAt time.Time // zero until running
	EndedAt   time.Time // zero until final
	// OutputSize is the number of output bytes kept so far.
	OutputSize int64
	// OutputTruncated is true when the job wrote more than was kept: more
	// than the per-job cap, or past a write error.
	OutputTruncated bool
	// OutputError says why output was dropped or is gone when that was
	// not the per-job cap: a write error such as a full disk, the data
	// directory's bound, retention.
	OutputError string
	// Limits are the limits in force for the job; all zero (unlimited)
	// where the pool has no cgroups to enforce them.
	Limits Limits
	// Timeout is the job's time limit, 0 for none.
	Timeout time.Duration
	// Isolated says the job runs in namespaces of its own.
	Isolated bool
	// Usage is what the job has used so far, or used in all once it is
	// final; a nil field is one the host cannot tell.
	Usage Usage
}

// Usage is what a job used: CPU time and peak memory, read from its cgroup.
type Usage = cgroup.Usage

// job is the live state of one job. Fields below mu are guarded by it; the
// others are set once before the job is published and never change.
type job struct {
	id      int64
	spec    Spec
	limits  Limits        // the limits in force, resolved at Start
	timeout time.Duration // the time limit in force, 0 for none
	isolate bool          // runs in namespaces of its own, under an init
	created time.Time
	out     *output
	// done is closed when the job reaches its final status.
	done chan struct{}
	// begun is closed (once, through begunOnce) when the job has left
	// StatusQueued and StatusStarting: see leftStarting.
	begun     chan struct{}
	begunOnce sync.Once
	// stopc is closed (once, through stopOnce) when Stop is called.
	stopc    chan struct{}
	stopOnce sync.Once
	// regrace wakes a stop under way to read killAt again: a later Stop
	// may have brought it forward. It holds at most one wake-up.
	regrace chan struct{}
	// tailGen is the tail cache's generation when the job's final record
	// was about to be written: its tail is kept (when the output closes)
	// only if no removal or retention forgot a tail since, as they may
	// take the job's output away once the record is on disk. Written and
	// read by record alone.
	tailGen uint64
	// seq orders the jobs of the queue: it grows with each job queued,
	// so the queue, oldest first, is sorted by it. Guarded by the pool's
	// mu.
	seq uint64

	mu       sync.Mutex
	exe      *os.File // the validated executable, until the process starts
	status   Status
	exitCode *int
	reason   Reason
	message  string
	dir      string        // the job's working directory, once it has one
	group    *cgroup.Group // the job's cgroup, while it has one
	usage    Usage         // kept when the cgroup is removed
	pid      int
	started  time.Time
	ended    time.Time
	stopping bool      // Stop was called: a worker that takes the job must not start it
	killAt   time.Time // when a stop under way sends SIGKILL; zero until a stop
}

// snapshot copies the job's state under its lock.
func (j *job) snapshot() Snapshot {
	j.mu.Lock()
	s := Snapshot{
		ID:        j.id,
		Owner:     j.spec.Owner,
		Path:      j.spec.Path,
		Args:      slices.Clone(j.spec.Args),
		Status:    j.status,
		Reason:    j.reason,
		Limits:    j.limits,
		Timeout:   j.timeout,
		Isolated:  j.isolate,
		Error:     j.message,
		PID:       j.pid,
		CreatedAt: j.created,
		StartedAt: j.started,
		EndedAt:   j.ended,
	}
	if j.exitCode != nil {
		code := *j.exitCode
		s.ExitCode = &code
	}
	j.mu.Unlock()
	if j.out != nil {
		s.OutputSize, s.OutputTruncated, s.OutputError = j.out.stat()
	}
	s.Usage = j.currentUsage()
	return s
}

// final reports whether the job has reached its final status.
func (j *job) final() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status.Final()
}

// requestStop marks the job as being stopped, with SIGKILL due grace from
// now, and wakes its runner; a job already final is left as it is. A job
// being stopped already keeps the earlier of the two deadlines, so a
// second stop can shorten the grace period but never lengthen it.
func (j *job) requestStop(grace time.Duration) {
	at := time.Now().Add(grace)
	j.mu.Lock()
	final := j.status.Final()
	if !final {
		j.stopping = true
		j.status = StatusStopping
		if j.killAt.IsZero() || at.Before(j.killAt) {
			j.killAt = at
		}
	}
	j.mu.Unlock()
	if final {
		return
	}
	j.stopOnce.Do(func() { close(j.stopc) })
	select {
	case j.regrace <- struct{}{}:
	default: // a wake-up is pending already, and reads the new deadline
	}
}

// graceLeft is how long a stop under way has until SIGKILL is due; zero
// or less when it is due now.
func (j *job) graceLeft() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	return time.Until(j.killAt)
}

// await waits until the job is final or ctx ends, and returns the job; what
// names the waiting in the error.
func (j *job) await(ctx context.Context, what string) (Snapshot, error) {
	select {
	case <-j.done:
		return j.snapshot(), nil
	case <-ctx.Done():
		return j.snapshot(), fmt.Errorf("%s job %d: %w", what, j.id, ctx.Err())
	}
}

// leftStarting closes begun if the job has left StatusQueued and
// StatusStarting, waking WaitStarted.
func (j *job) leftStarting() {
	j.mu.Lock()
	s := j.status
	j.mu.Unlock()
	if s != StatusQueued && s != StatusStarting {
		j.begunOnce.Do(func() { close(j.begun) })
	}
}

// finish sets the final status and closes the executable if it was never
// used. announce then tells the waiters. Both must be called exactly once.
func (j *job) finish(status Status, exitCode *int, reason Reason, message string, ended time.Time) {
	j.mu.Lock()
	j.status = status
	j.exitCode = exitCode
	j.reason = reason
	j.message = message
	j.ended = ended
	exe := j.exe
	j.exe = nil
	j.mu.Unlock()
	if exe != nil {
		exe.Close()
	}
}

// announce wakes everyone waiting for j to end. The output ends only now,
// so that a follower that reads to its end finds the job final.
func (j *job) announce() {
	j.out.close()
	close(j.done)
}
