//go:build linux

package worker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rw-project/rw/internal/store"
)

// StoreFile is the job store's file in the data directory.
const StoreFile = "rw.db"

// openData makes the data directory's layout (the directory itself 0700,
// output/ 0700, work/ 0711 so that jobs reach their own directories in it
// and see nothing else), opens the store and recovers what a pool that
// died left unfinished.
func (p *Pool) openData() error {
	dir := p.cfg.DataDir
	p.outDir = filepath.Join(dir, "output")
	p.workRoot = filepath.Join(dir, "work")
	err := errors.Join(
		os.MkdirAll(dir, 0o700),
		os.MkdirAll(p.outDir, 0o700),
		// MkdirAll leaves a directory that was there as it was; the
		// umask may have taken bits from a new one.
		os.Chmod(p.outDir, 0o700),
		p.makeWorkRoot())
	if err != nil {
		return fmt.Errorf("worker: prepare the data directory %s: %w", dir, err)
	}
	st, err := store.Open(filepath.Join(dir, StoreFile), store.Options{})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	p.store = st
	if err := p.recover(); err != nil {
		st.Close()
		return fmt.Errorf("worker: recover the jobs of the last server: %w", err)
	}
	stats, err := st.FinalStats()
	if err != nil {
		st.Close()
		return fmt.Errorf("worker: %w", err)
	}
	p.budget.max = p.cfg.MaxDataSize
	p.budget.used.Store(stats.OutputBytes)
	return nil
}

// makeWorkRoot makes the directory of the jobs' working directories, or
// gives it back its mode: 0711, so that jobs reach their own directories
// in it and see nothing else. The Chmod is for a directory that was there
// already, which MkdirAll leaves as it was, and for the bits the umask
// takes from a new one.
func (p *Pool) makeWorkRoot() error {
	return errors.Join(os.MkdirAll(p.workRoot, 0o711), os.Chmod(p.workRoot, 0o711))
}

// outputPath is where job id's output is kept.
func (p *Pool) outputPath(id int64) string {
	return filepath.Join(p.outDir, strconv.FormatInt(id, 10)+".out")
}

// create commits j's first record, which gives it its id. The output file
// is not made here, on the start path, but when the job writes its first
// byte (output.copyFrom).
func (p *Pool) create(j *job) error {
	// A store file removed under the server would take this run's records
	// with it at the next start: refuse, and say what to do.
	if _, err := os.Stat(p.store.Path()); errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("the job store %s was removed while the server runs: restart rw serve to make a new one: %w", p.store.Path(), ErrStorage)
		p.problem(j, err)
		return err
	}
	if err := p.checkOutDir(j); err != nil {
		return err
	}
	rec, err := p.store.Create(recordOf(j.snapshot()))
	if err != nil {
		return fmt.Errorf("record the job: %v: %w", err, ErrStorage)
	}
	j.id = rec.ID
	// The output file is made by the copier, on the job's first byte.
	j.out = newOutput(p.outputPath(j.id), p.cfg.MaxOutput, &p.budget)
	id := j.id
	j.out.ended = func(t smallTail) { p.tails.put(id, t, j.tailGen) }
	return nil
}

// persist commits j's record as it is now: every transition is on disk
// before anyone is told of it. A failure is reported and the job goes on.
func (p *Pool) persist(j *job) error {
	return p.persistSnapshot(j, j.snapshot())
}

// persistSnapshot commits s as j's record.
func (p *Pool) persistSnapshot(j *job, s Snapshot) error {
	if err := p.store.Put(recordOf(s)); err != nil {
		err = fmt.Errorf("record job %d: %w", j.id, err)
		p.problem(j, err)
		return err
	}
	return nil
}

// recorded returns job id from the store: a final job, which no longer
// has live state.
func (p *Pool) recorded(id int64) (Snapshot, error) {
	if s, ok := p.finals.get(id); ok {
		return s, nil
	}
	gen := p.finals.generation()
	r, err := p.store.Get(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Snapshot{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	case err != nil:
		return Snapshot{}, fmt.Errorf("job %d: %v: %w", id, err, ErrStorage)
	}
	s := snapshotOf(r)
	if s.Status.Final() {
		p.finals.put(s, gen)
	}
	return s, nil
}

// outputOf returns job id's output: the live one, which followers wait on,
// or, for a final job, its file, complete.
func (p *Pool) outputOf(id int64) (*output, error) {
	if j := p.liveJob(id); j != nil {
		return j.out, nil
	}
	if _, err := p.recorded(id); err != nil {
		return nil, err
	}
	return p.endedOutput(id)
}

// endedOutput is the output of a job that has ended: its file, whole, or
// nothing where the file is gone (removed by retention).
func (p *Pool) endedOutput(id int64) (*output, error) {
	var size int64
	info, err := os.Stat(p.outputPath(id))
	switch {
	case err == nil:
		size = info.Size()
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read output of job %d: %w", id, err)
	}
	return finishedOutput(p.outputPath(id), size), nil
}

// liveOutput returns the output of job id if it is live, or nil.
func (p *Pool) liveOutput(id int64) *output {
	if j := p.liveJob(id); j != nil {
		return j.out
	}
	return nil
}

// remove deletes final job s's record, output and working directory. Once
// the record is gone the job is gone: files
// that cannot be removed are reported, not returned.
func (p *Pool) remove(s Snapshot) error {
	err := p.store.Delete(s.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("job %d: %w", s.ID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("remove job %d: %v: %w", s.ID, err, ErrStorage)
	}
	p.mu.Lock()
	delete(p.live, s.ID)
	p.mu.Unlock()
	p.finals.forget(s.ID)
	if err := os.Remove(p.outputPath(s.ID)); err == nil {
		p.budget.give(s.OutputSize)
	} else if !errors.Is(err, fs.ErrNotExist) {
		p.report(s.ID, fmt.Errorf("remove the output of job %d: %w", s.ID, err))
	}
	// After the file: a tail read from it until now is not kept.
	p.tails.forget(s.ID)
	dirs, _ := filepath.Glob(filepath.Join(p.workRoot, "job-"+strconv.FormatInt(s.ID, 10)+"-*"))
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			p.report(s.ID, fmt.Errorf("remove the working directory of job %d: %w", s.ID, err))
		}
	}
	return nil
}

// diskBudget counts the bytes of output on disk against MaxDataSize.
type diskBudget struct {
	max     int64 // 0: no bound
	used    atomic.Int64
	written atomic.Int64 // every byte of output kept since the pool started
}

// take accounts for up to n more bytes and returns how many fit under the
// bound.
func (b *diskBudget) take(n int64) int64 {
	if b == nil || b.max <= 0 {
		return n
	}
	for {
		used := b.used.Load()
		k := max(min(n, b.max-used), 0)
		if b.used.CompareAndSwap(used, used+k) {
			return k
		}
	}
}

// give returns n bytes to the budget.
func (b *diskBudget) give(n int64) {
	if b != nil {
		b.used.Add(-n)
	}
}

// recordOf is what the store keeps of a job.
func recordOf(s Snapshot) store.Record {
	return store.Record{
		ID: s.ID, Owner: s.Owner, Path: s.Path, Args: s.Args,
		Status: string(s.Status), ExitCode: s.ExitCode, Reason: string(s.Reason), Error: s.Error,
		CreatedAt: s.CreatedAt, StartedAt: s.StartedAt, EndedAt: s.EndedAt,
		Limits: store.Limits{MemoryBytes: s.Limits.MemoryBytes, CPUs: s.Limits.CPUs, Pids: s.Limits.Pids,
			IOReadBytesPerSec: s.Limits.IOReadBytesPerSec, IOWriteBytesPerSec: s.Limits.IOWriteBytesPerSec},
		Timeout: s.Timeout, Isolated: s.Isolated, PID: s.PID,
		OutputSize: s.OutputSize, OutputTruncated: s.OutputTruncated, OutputError: s.OutputError,
		CPUSeconds: s.Usage.CPUSeconds, MemoryPeakBytes: s.Usage.MemoryPeakBytes,
	}
}

// snapshotOf is a job as its record keeps it.
func snapshotOf(r store.Record) Snapshot {
	return Snapshot{
		ID: r.ID, Owner: r.Owner, Path: r.Path, Args: r.Args,
		Status: Status(r.Status), ExitCode: r.ExitCode, Reason: Reason(r.Reason), Error: r.Error,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, EndedAt: r.EndedAt,
		Limits: Limits{MemoryBytes: r.Limits.MemoryBytes, CPUs: r.Limits.CPUs, Pids: r.Limits.Pids,
			IOReadBytesPerSec: r.Limits.IOReadBytesPerSec, IOWriteBytesPerSec: r.Limits.IOWriteBytesPerSec},
		Timeout: r.Timeout, Isolated: r.Isolated, PID: r.PID,
		OutputSize: r.OutputSize, OutputTruncated: r.OutputTruncated, OutputError: r.OutputError,
		Usage: Usage{CPUSeconds: r.CPUSeconds, MemoryPeakBytes: r.MemoryPeakBytes},
	}
}

// Recovery is what a new pool found of the pool before it: jobs that were
// queued or running when it died, now ended, and their processes it
// killed.
type Recovery struct {
	Jobs   int
	Killed int
}

// Recovered says what New found unfinished, for the caller to log.
func (p *Pool) Recovered() Recovery { return p.recovered }

// ReasonServerRestarted: the server stopped (a crash, SIGKILL) while the
// job was queued or running; the output written so far is kept.
const ReasonServerRestarted Reason = "server-restarted"

// recover ends the jobs a pool that died left queued or running: they are
// failed with reason server-restarted, and never run (again) behind their
// owner's back. A process of theirs still alive is killed: through its
// cgroup by the server before the pool starts, or, where there are no
// cgroups, through the process group the record names, if that group's
// leader is the same process (started between the job's creation and the
// start the record says).
func (p *Pool) recover() error {
	unfinished, err := p.store.Unfinished()
	if err != nil {
		return err
	}
	now := time.Now()
	for _, r := range unfinished {
		if r.PID > 0 && sameProcess(r.PID, r.CreatedAt, r.StartedAt) {
			if syscall.Kill(-r.PID, syscall.SIGKILL) == nil {
				p.recovered.Killed++
			}
		}
		was := r.Status
		r.Status = string(StatusFailed)
		r.Reason = string(ReasonServerRestarted)
		r.Error = fmt.Sprintf("the server stopped while the job was %s; the output written until then is kept", was)
		r.ExitCode = nil
		r.EndedAt = now
		if info, err := os.Stat(p.outputPath(r.ID)); err == nil {
			r.OutputSize = min(info.Size(), p.cfg.MaxOutput)
		}
		if err := p.store.Put(r); err != nil {
			return err
		}
		p.recovered.Jobs++
	}
	return nil
}

// checkOutDir makes the output directory again if it went away under the
// server, and says so, rather than lose every job's output until a
// restart; a start is refused (ErrStorage) while it cannot be made. One
// stat per start: the output file itself is made only on the first byte.
func (p *Pool) checkOutDir(j *job) error {
	info, err := os.Stat(p.outDir)
	if err == nil && info.IsDir() {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(p.outDir, 0o700); err == nil {
			p.problem(j, fmt.Errorf("the output directory %s was missing, and was made again", p.outDir))
			return nil
		}
	} else if err == nil {
		err = errors.New("not a directory")
	}
	err = fmt.Errorf("the output directory %s cannot be used (%v): make it a directory the server's user may write, or restart rw serve: %w", p.outDir, unwrapPathError(err), ErrStorage)
	p.problem(j, err)
	return err
}
