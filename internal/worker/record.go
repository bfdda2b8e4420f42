//go:build linux

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

// Reason is one word for how a job ended, for programs to switch on; the
// job's Error says the same in a sentence for people.
type Reason string

// The reasons a job ends.
const (
	// ReasonExited: the process exited by itself, with code 0 or not.
	ReasonExited Reason = "exited"
	// ReasonSignaled: the process was killed by a signal rw did not send.
	ReasonSignaled Reason = "signaled"
	// ReasonStopped: Stop or Shutdown ended the job, or removed it from
	// the queue before it started.
	ReasonStopped Reason = "stopped"
	// ReasonOOMKilled: the kernel's OOM killer killed a process of the job
	// inside its memory limit.
	ReasonOOMKilled Reason = "oom-killed"
	// ReasonStartFailed: the job never got a process.
	ReasonStartFailed Reason = "start-failed"
	// ReasonTimedOut: the job's time limit ran out, and it was stopped.
	ReasonTimedOut Reason = "timed-out"
)

// ending is what the stages of a run learned about how a job ended. Only
// record turns it into a final status.
type ending struct {
	// stop says why the job was made to end, if it was.
	stop stopCause
	// startErr says why the job never got a process; nil once it had one.
	startErr error
	// state and waitErr are what Wait returned for the job's process (an
	// isolated job's init).
	state   *os.ProcessState
	waitErr error
	// reported is the wait status an isolated job's init reported for the
	// job itself; nil for a plain job, or an init that died first.
	reported *syscall.WaitStatus
	// oomKilled says the kernel's OOM killer killed a process of the job,
	// the leader or another, inside the job's memory limit.
	oomKilled bool
	// memoryLimit is the limit the OOM killer enforced, and timeout the
	// time limit that ran out, for the message.
	memoryLimit int64
	timeout     time.Duration
}

// record decides j's final status from how it ended and records it. It is
// the one place where a job becomes final, whether it ran or not, so what
// must happen to every final status (keeping it, naming its reason) happens
// here. finish closes the job's output only after the status is set, so a
// follower that reads to the end of the output finds the job final.
func (p *Pool) record(j *job, e ending) {
	status, code, reason, message := e.outcome()
	ended := time.Now()
	// Committed before anyone can see it: a job a client saw end has
	// ended on disk too. A record that cannot be written keeps the job in
	// memory, where it is still served from.
	j.tailGen = p.tails.generation()
	final := j.snapshot()
	final.Status, final.ExitCode, final.Reason, final.Error, final.EndedAt = status, code, reason, message, ended
	stored := p.persistSnapshot(j, final) == nil
	j.finish(status, code, reason, message, ended)
	p.disown(j.spec.Owner)
	if final.OutputError != "" {
		p.problem(j, fmt.Errorf("output: %s", final.OutputError))
	}
	j.announce()
	if stored {
		p.mu.Lock()
		delete(p.live, j.id)
		p.mu.Unlock()
	}
	p.changed(j)
	p.wakeRetention()
}

// outcome is the final status, exit code, reason and message of a job that
// ended as e says. A stop rw made wins over how the process died of it.
func (e ending) outcome() (Status, *int, Reason, string) {
	switch {
	case e.stop == stoppedBeforeStart:
		return StatusStopped, nil, ReasonStopped, "stopped before it started"
	case e.startErr != nil:
		return StatusFailed, nil, ReasonStartFailed, e.startErr.Error()
	}
	status, code, reason, message := exitStatus(e.state, e.waitErr)
	if e.reported != nil {
		// An isolated job's init reported the job's own wait status: a
		// job that exits 137 and one killed by SIGKILL differ there.
		status, code, reason, message = waitOutcome(*e.reported)
	}
	switch e.stop {
	case stoppedOnRequest:
		return StatusStopped, code, ReasonStopped, "stopped on request"
	case killedAfterGrace:
		return StatusStopped, code, ReasonStopped, "stopped on request: killed with SIGKILL"
	case timedOut:
		return StatusStopped, code, ReasonTimedOut, fmt.Sprintf("stopped: its time limit of %v ran out", e.timeout)
	case timedOutKilled:
		return StatusStopped, code, ReasonTimedOut, fmt.Sprintf("stopped: its time limit of %v ran out; killed with SIGKILL", e.timeout)
	}
	if e.oomKilled {
		// Also when the leader exited 0: a job that lost a process to the
		// OOM killer did not do all its work. The exit code stays the
		// leader's, 137 when it was the one killed.
		return StatusFailed, code, ReasonOOMKilled,
			fmt.Sprintf("the kernel's OOM killer killed a process of the job at its memory limit of %d bytes", e.memoryLimit)
	}
	return status, code, reason, message
}

// exitStatus turns the result of Wait into a status, an exit code (128 plus
// the signal number for a killed process), a reason and a message.
func exitStatus(ps *os.ProcessState, waitErr error) (Status, *int, Reason, string) {
	var exitErr *exec.ExitError
	if ps == nil || (waitErr != nil && !errors.As(waitErr, &exitErr)) {
		// Wait failing on a process we started is rw's own fault: say so
		// rather than guess how the process ended.
		return StatusFailed, nil, ReasonExited, fmt.Sprintf("could not wait for the process: %v", waitErr)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return waitOutcome(ws)
	}
	code := ps.ExitCode()
	if code == 0 {
		return StatusFinished, &code, ReasonExited, ""
	}
	return StatusFailed, &code, ReasonExited, fmt.Sprintf("exited with code %d", code)
}

// waitOutcome turns a process's wait status into a status, an exit code
// (128 plus the signal number for a killed process), a reason and a
// message.
func waitOutcome(ws syscall.WaitStatus) (Status, *int, Reason, string) {
	if ws.Signaled() {
		code := 128 + int(ws.Signal())
		return StatusFailed, &code, ReasonSignaled, fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), signalName(ws.Signal()))
	}
	code := ws.ExitStatus()
	if code == 0 {
		return StatusFinished, &code, ReasonExited, ""
	}
	return StatusFailed, &code, ReasonExited, fmt.Sprintf("exited with code %d", code)
}

// signalName is the conventional name of s, such as SIGKILL.
func signalName(s syscall.Signal) string {
	if name := unix.SignalName(s); name != "" {
		return name
	}
	return s.String()
}
