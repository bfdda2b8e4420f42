package worker

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// ending is what the stages of a run learned about how a job ended. Only
// record turns it into a final status.
type ending struct {
	// stop says why the job was made to end, if it was.
	stop stopCause
	// startErr says why the job never got a process; nil once it had one.
	startErr error
	// state and waitErr are what Wait returned for the job's process.
	state   *os.ProcessState
	waitErr error
}

// record decides j's final status from how it ended and records it. It is
// the one place where a job becomes final, whether it ran or not, so what
// must happen to every final status (keeping it, naming its reason) happens
// here. finish closes the job's output only after the status is set, so a
// follower that reads to the end of the output finds the job final.
func (p *Pool) record(j *job, e ending) {
	status, code, reason := e.outcome()
	j.finish(status, code, reason)
	p.changed(j)
}

// outcome is the final status, exit code and reason of a job that ended as
// e says. A stop rw made wins over how the process died of it.
func (e ending) outcome() (Status, *int, string) {
	switch {
	case e.stop == stoppedBeforeStart:
		return StatusStopped, nil, "stopped before it started"
	case e.startErr != nil:
		return StatusFailed, nil, e.startErr.Error()
	}
	status, code, reason := exitStatus(e.state, e.waitErr)
	switch e.stop {
	case stoppedOnRequest:
		return StatusStopped, code, "stopped on request"
	case killedAfterGrace:
		return StatusStopped, code, "stopped on request: killed with SIGKILL"
	}
	return status, code, reason
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
