//go:build linux

package worker

import (
	"fmt"
	"os"
	"time"
)

// work is the loop of one worker goroutine.
func (p *Pool) work() {
	defer p.wg.Done()
	for {
		j := p.next()
		if j == nil {
			return
		}
		p.run(j)
	}
}

// run takes j from StatusStarting to a final status, through the stages of
// a run: prepare, spawn, supervise, drain, record. The worker goroutine that
// calls it owns the process: it alone waits for it and signals it, so Stop
// never holds a lock while a process ends.
//
// The worker is busy for as long as the job's process lives: Workers bounds
// the processes at once. What comes after the leader is reaped and the
// job's cgroup killed (drain, releaseGroup, record) waits for the copier,
// the kernel and the store's commit, not for the process, so it runs after
// the worker has gone on to its next job (see afterward); so does the
// commit of the running record, which the final one waits for.
func (p *Pool) run(j *job) {
	l, early := p.prepare(j)
	if early != nil {
		p.record(j, *early)
		return
	}
	pr, err := p.spawn(j, l)
	if err != nil {
		p.record(j, ending{startErr: err})
		return
	}
	running := p.markRunning(j, pr.cmd.Process.Pid)
	copied := copyOutput(j.out, l.pipe)
	end := p.supervise(j, pr)
	p.afterward(func() {
		p.drain(l.pipe, copied)
		p.releaseGroup(j, pr.group, &end)
		// The running record goes first, so that it never overwrites
		// the final one.
		<-running
		p.record(j, end)
	})
}

// maxEnding is how many job ends per worker may run after their workers
// have moved on: a few commits' worth, at the rate of short jobs.
const maxEnding = 4

// afterward runs the end of a job whose process is gone on a goroutine of
// its own, which Shutdown waits for, so that the worker can start its
// next job. At most maxEnding ends per worker run so at once; past that
// the worker runs fn itself, as if it were part of the job, which bounds
// the goroutines and the jobs waiting for their final record when the
// store is slow.
func (p *Pool) afterward(fn func()) {
	select {
	case p.ending <- struct{}{}:
	default:
		fn()
		return
	}
	// The worker holds its own count of wg, so this Add cannot race with
	// Shutdown's Wait reaching zero.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { <-p.ending }()
		fn()
	}()
}

// launch is what prepare makes ready for a job's process: the files the
// process is given and the ones its runner keeps.
type launch struct {
	exe  *os.File // the validated executable: the process's fd 3
	out  *os.File // the output pipe's write end: the process's stdout and stderr
	pipe *os.File // the output pipe's read end, for the copier
	dir  string   // the job's working directory
}

// prepare does everything for j that comes before its process exists: it
// takes the executable from the job and makes the output pipe and its
// working directory. If the job must
// not run, because Stop came first or something failed, prepare returns how
// it ended instead, and owns nothing.
func (p *Pool) prepare(j *job) (*launch, *ending) {
	j.mu.Lock()
	if j.stopping {
		j.mu.Unlock()
		return nil, &ending{stop: stoppedBeforeStart}
	}
	l := &launch{exe: j.exe}
	j.exe = nil
	j.mu.Unlock()

	dir, err := p.workDir(j)
	if err != nil {
		l.exe.Close()
		return nil, &ending{startErr: err}
	}
	l.dir = dir
	j.mu.Lock()
	j.dir = dir
	j.mu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		l.exe.Close()
		return nil, &ending{startErr: fmt.Errorf("could not create the output pipe: %w", err)}
	}
	l.pipe, l.out = r, w
	return l, nil
}

// markRunning records that j's process pid exists. A job that Stop came
// to while its process was being made stays stopping: supervise stops it
// at once.
//
// The record is committed, and OnChange told of it, on a goroutine of its
// own while the job runs: the commit waits for the disk, and the worker
// has the job to watch. The channel returned is closed once both are
// done; the final record must wait for it.
func (p *Pool) markRunning(j *job, pid int) <-chan struct{} {
	j.mu.Lock()
	if j.status != StatusStopping {
		j.status = StatusRunning
	}
	j.pid = pid
	j.started = time.Now()
	j.mu.Unlock()
	written := make(chan struct{})
	// As in afterward: the worker's own count makes this Add safe.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(written)
		p.persist(j)
		p.changed(j)
	}()
	return written
}

// copyOutput starts the goroutine that copies the output pipe to the spool
// file, and returns a channel closed when it has ended: at the end of the
// pipe, or when drain cuts it off. The pipe is drain's to close.
func copyOutput(o *output, pipe *os.File) <-chan struct{} {
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		o.copyFrom(pipe)
	}()
	return copied
}

// drain waits for the copier to reach the end of the output pipe, for at
// most the drain timeout after the job's process group is gone, then closes
// the pipe. Only a process that left the group (setsid) can hold the pipe
// open that long, and it must not keep the job from ending.
func (p *Pool) drain(pipe *os.File, copied <-chan struct{}) {
	timeout := time.NewTimer(p.cfg.DrainTimeout)
	defer timeout.Stop()
	select {
	case <-copied:
	case <-timeout.C:
		_ = pipe.SetReadDeadline(time.Now())
		<-copied
	}
	pipe.Close()
}
