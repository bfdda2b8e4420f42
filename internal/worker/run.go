package worker

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

// run takes j from StatusStarting to a final status. The worker goroutine
// that calls it owns the process: it alone waits for it and signals it, so
// Stop never holds a lock while a process ends.
func (p *Pool) run(j *job) {
	j.mu.Lock()
	if j.stopping {
		j.mu.Unlock()
		j.finish(StatusStopped, nil, "stopped before it started")
		p.changed(j)
		return
	}
	exe, spool := j.exe, j.spool
	j.exe, j.spool = nil, nil
	j.mu.Unlock()

	r, w, err := os.Pipe()
	if err != nil {
		exe.Close()
		spool.Close()
		p.fail(j, fmt.Sprintf("could not create the output pipe: %v", err))
		return
	}
	growPipe(w)
	cmd, err := p.spawn(j, exe, w)
	// The child holds its own copies now; ours would keep the pipe open
	// after the job ends.
	w.Close()
	exe.Close()
	if err != nil {
		r.Close()
		spool.Close()
		p.fail(j, fmt.Sprintf("could not start: %v", err))
		return
	}
	pid := cmd.Process.Pid

	j.mu.Lock()
	j.status = StatusRunning
	j.pid = pid
	j.started = time.Now()
	j.mu.Unlock()
	p.changed(j)

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		j.out.copyFrom(r, spool)
	}()
	// exited is closed when the leader has exited but is not yet reaped: as
	// long as it is a zombie its pid, which is also the group id, cannot be
	// reused, so signalling the group can never hit an unrelated process.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitExit(pid)
	}()

	stopped, killed := false, false
	kill := func() {
		killed = true
		signalGroup(pid, syscall.SIGKILL)
		<-exited
	}
	select {
	case <-exited:
	case <-j.stopc:
		stopped = true
		signalGroup(pid, syscall.SIGTERM)
		grace := time.NewTimer(p.cfg.StopTimeout)
		select {
		case <-exited:
		case <-grace.C:
			kill()
		case <-p.killc:
			kill()
		}
		grace.Stop()
	}
	// The leader is gone; what is left of its group goes with it, so a job
	// never leaves processes behind.
	signalGroup(pid, syscall.SIGKILL)
	waitErr := cmd.Wait()

	// Only a process that left the group (setsid) can hold the pipe open
	// past the drain timeout, and it must not keep the job from ending.
	drain := time.NewTimer(p.cfg.DrainTimeout)
	select {
	case <-copied:
	case <-drain.C:
		_ = r.SetReadDeadline(time.Now())
		<-copied
	}
	drain.Stop()
	r.Close()

	status, code, reason := exitStatus(cmd.ProcessState, waitErr)
	if stopped {
		status = StatusStopped
		reason = "stopped on request"
		if killed {
			reason = "stopped on request: killed with SIGKILL"
		}
	}
	j.finish(status, code, reason)
	p.changed(j)
}

// fail ends a job that never ran.
func (p *Pool) fail(j *job, reason string) {
	j.finish(StatusFailed, nil, reason)
	p.changed(j)
}

// exitStatus turns the result of Wait into a status, an exit code (128 plus
// the signal number for a killed process) and a reason.
func exitStatus(ps *os.ProcessState, waitErr error) (Status, *int, string) {
	if ps == nil {
		return StatusFailed, nil, fmt.Sprintf("could not wait for the process: %v", waitErr)
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return StatusFailed, nil, fmt.Sprintf("could not wait for the process: %v", waitErr)
	}
	if ok && ws.Signaled() {
		code := 128 + int(ws.Signal())
		return StatusFailed, &code, fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), signalName(ws.Signal()))
	}
	code := ps.ExitCode()
	if code == 0 {
		return StatusFinished, &code, ""
	}
	return StatusFailed, &code, fmt.Sprintf("exited with code %d", code)
}

// signalName is the conventional name of s, such as SIGKILL.
func signalName(s syscall.Signal) string {
	if name := unix.SignalName(s); name != "" {
		return name
	}
	return s.String()
}
