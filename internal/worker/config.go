//go:build linux

package worker

import (
	"errors"
	"fmt"
	"os"
	"slices"
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
	// DataDir is where the pool keeps its state: the job store (rw.db),
	// each job's output (output/ID.out, 0600) and working directory
	// (work/). It is made if missing, and outlives the pool: a pool on the
	// same directory finds every job of the one before. Required.
	DataDir string
	// Retain, RetainJobs and MaxDataSize bound what the data directory
	// keeps (zero for no bound): final jobs that ended more than Retain
	// ago, and the oldest final jobs beyond RetainJobs, are removed with
	// their output; past MaxDataSize bytes of output, the oldest final
	// jobs' output goes first, then new output is dropped.
	Retain      time.Duration
	RetainJobs  int
	MaxDataSize int64
	// Workers is the number of jobs that run at once: a worker takes the
	// next job once its job's process is gone, while the job's end (its
	// output drained, its cgroup removed, its final record committed)
	// may still be under way.
	Workers int
	// QueueSize is the number of accepted jobs that may wait for a worker;
	// Start returns ErrQueueFull past it.
	QueueSize int
	// MaxJobsPerUser bounds the jobs one owner may have queued or running
	// at once, so that one user cannot take every worker and the whole
	// queue; Start returns ErrUserBusy past it. Zero for no bound.
	MaxJobsPerUser int
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

// New validates cfg, opens the job store in the data directory, recovers
// the jobs a pool that died left unfinished (Recovered says how many), and
// starts the workers; it returns once each waits for a job. Call Shutdown
// to stop them.
func New(cfg Config) (*Pool, error) {
	if cfg.JobsDir == "" {
		return nil, errors.New("worker: no jobs directory configured")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("worker: no data directory configured")
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
	// The jobs directory is opened again at each start (see openJobsDir);
	// this only refuses one that is not there to begin with.
	root, err := os.OpenRoot(cfg.JobsDir)
	if err != nil {
		return nil, fmt.Errorf("worker: open jobs directory: %w", err)
	}
	root.Close()
	p := &Pool{cfg: cfg, finals: newFinalCache(), killc: make(chan struct{}), live: map[int64]*job{}, owned: map[string]int{}, swept: make(chan struct{}, 1), quit: make(chan struct{}),
		ending: make(chan struct{}, maxEnding*cfg.Workers)}
	if err := p.openData(); err != nil {
		return nil, err
	}
	p.cond = sync.NewCond(&p.mu)
	ready := make(chan struct{})
	p.ready = ready
	p.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go p.work()
	}
	// Every worker waits for a job before the first can be started, so
	// that WaitStarted counts them all free.
	<-ready
	p.housekeeping.Go(p.retain)
	return p, nil
}
