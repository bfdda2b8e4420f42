//go:build linux

package worker

import (
	"errors"
	"syscall"
	"time"

	"github.com/rw-project/rw/internal/jobinit"
)

// stopCause says why a job was made to end, if it was. A time limit stops
// through the same path as Stop, with causes of its own.
type stopCause int

const (
	// notStopped: the process ended by itself, or by a signal rw did not
	// send.
	notStopped stopCause = iota
	// stoppedBeforeStart: Stop came before the job had a process, and it
	// never got one.
	stoppedBeforeStart
	// stoppedOnRequest: Stop sent SIGTERM and the process exited within the
	// grace period.
	stoppedOnRequest
	// killedAfterGrace: Stop sent SIGTERM, then SIGKILL when the grace
	// period was over or Kill cut it short.
	killedAfterGrace
	// timedOut and timedOutKilled: the job's time limit ran out, and it was
	// stopped as Stop does; it exited within the grace period, or was
	// killed after it.
	timedOut
	timedOutKilled
)

// supervise owns j's process from its start until it is reaped. It waits for
// the leader to exit, or for Stop, which stops the group (stopGroup). Either
// way, once the leader is gone, what is left of its group is killed: a job
// never leaves processes behind. It returns how the process ended.
//
// The leader is observed with waitid(WNOWAIT) and reaped only after that
// last kill: as long as it is a zombie its pid, which is also the group id,
// cannot be reused, so signalling the group never hits an unrelated process.
// The job's whole cgroup is killed with the group.
func (p *Pool) supervise(j *job, pr *proc) ending {
	cmd, group := pr.cmd, pr.group
	pid := cmd.Process.Pid
	exited := watchExit(pid)
	var limit <-chan time.Time
	if j.timeout > 0 {
		t := time.NewTimer(j.timeout)
		defer t.Stop()
		limit = t.C
	}
	stop := notStopped
	kill := func() { p.killGroup(j, group) }
	select {
	case <-exited:
	case <-j.stopc:
		stop = p.stopGroup(j, pid, exited, kill)
	case <-limit:
		// The same stop as Stop's, with the pool's grace period, named
		// for the time limit. A Stop that comes during it may shorten it.
		j.requestStop(p.cfg.StopTimeout)
		stop = timedOut
		if p.stopGroup(j, pid, exited, kill) == killedAfterGrace {
			stop = timedOutKilled
		}
	}
	// The leader is gone; what is left of its group goes with it, and of
	// its cgroup too: processes that left the group (setsid) included.
	signalGroup(pid, syscall.SIGKILL)
	p.killGroup(j, group)
	err := cmd.Wait()
	end := ending{stop: stop, state: cmd.ProcessState, waitErr: err, timeout: j.timeout}
	if pr.init != nil {
		readInitReport(pr.init, &end)
	}
	return end
}

// readInitReport reads what an isolated job's init reported, now that it
// has exited: the job's own wait status, or why the job never ran. An init
// that died first (killed as a whole) reported nothing, and its own exit
// status stands.
func readInitReport(init *jobinit.Status, end *ending) {
	defer init.Close()
	ws, err := init.Read()
	var notRun *jobinit.StartError
	switch {
	case err == nil:
		end.reported = &ws
	case errors.As(err, &notRun):
		end.startErr = notRun
	}
}

// stopGroup sends SIGTERM to the group led by pid, waits until the job's
// SIGKILL is due (j.killAt, which a later Stop may bring forward) for the
// leader to exit, or less if the pool is killed, then sends SIGKILL to the
// group and calls kill, which kills the job's cgroup. A stop with no grace
// period left sends SIGKILL alone. It returns once the leader has exited,
// with the way it was made to.
func (p *Pool) stopGroup(j *job, pid int, exited <-chan struct{}, kill func()) stopCause {
	if left := j.graceLeft(); left > 0 {
		signalGroup(pid, syscall.SIGTERM)
		grace := time.NewTimer(left)
		defer grace.Stop()
	wait:
		for {
			select {
			case <-exited:
				return stoppedOnRequest
			case <-grace.C:
				break wait
			case <-p.killc:
				break wait
			case <-j.regrace:
				// A later Stop may have brought SIGKILL forward.
				grace.Reset(j.graceLeft())
			}
		}
	}
	signalGroup(pid, syscall.SIGKILL)
	kill()
	<-exited
	return killedAfterGrace
}

// watchExit returns a channel that is closed when process pid has exited,
// before it is reaped. Its goroutine ends with the process, which supervise
// always waits for.
func watchExit(pid int) <-chan struct{} {
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitExit(pid)
	}()
	return exited
}
