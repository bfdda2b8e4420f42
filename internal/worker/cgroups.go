//go:build linux

package worker

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/rw-project/rw/internal/cgroup"
)

// groupEmptyTimeout bounds how long a job's end waits for the processes of
// its cgroup to be gone after they were killed. SIGKILL takes effect at
// once except for a process stuck in the kernel (throttled IO, say); a
// cgroup still busy after this is left for the next server start's
// cleanup rather than hold the job's end.
const groupEmptyTimeout = 10 * time.Second

// enforcesLimits reports whether the pool puts jobs in cgroups, and so can
// hold them to limits and kill whatever they leave behind.
func (p *Pool) enforcesLimits() bool {
	return p.cfg.Cgroups != nil && p.cfg.Cgroups.Mode() != cgroup.ModeNone
}

// startInGroup creates j's cgroup with its limits and starts cmd inside
// it, so that the job and every process it forks are in the group from
// their first instruction. Without cgroups it starts cmd as it is and
// returns a nil group.
func (p *Pool) startInGroup(j *job, cmd *exec.Cmd) (*cgroup.Group, error) {
	if !p.enforcesLimits() {
		return nil, startNoNewPrivs(cmd)
	}
	group, err := p.cfg.Cgroups.Create(strconv.FormatInt(j.id, 10), j.limits)
	if err != nil {
		return nil, fmt.Errorf("create the job's cgroup: %w", err)
	}
	if err := group.StartWith(cmd, setNoNewPrivs); err != nil {
		if rerr := group.Remove(); rerr != nil {
			p.problem(j, rerr)
		}
		return nil, err
	}
	j.mu.Lock()
	j.group = group
	j.mu.Unlock()
	return group, nil
}

// killGroup kills every process left in the job's cgroup, however it left
// the job's process group (setsid, a double fork). A nil group has nothing
// to kill.
func (p *Pool) killGroup(j *job, group *cgroup.Group) {
	if group == nil {
		return
	}
	if err := group.Kill(); err != nil {
		p.problem(j, err)
	}
}

// releaseGroup waits until the job's cgroup is empty, keeps its final usage
// and whether the OOM killer struck, and removes it. A nil group leaves e
// as it is.
func (p *Pool) releaseGroup(j *job, group *cgroup.Group, e *ending) {
	if group == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupEmptyTimeout)
	defer cancel()
	if err := group.WaitEmpty(ctx); err != nil {
		p.problem(j, fmt.Errorf("processes of the job outlived its end: %w", err))
	}
	e.oomKilled, e.memoryLimit = group.OOMKilled(), j.limits.MemoryBytes
	usage := group.Usage()
	// The usage is kept before the group goes, so that snapshots never lose
	// it; from here on they read the kept one.
	j.mu.Lock()
	j.usage = usage
	j.group = nil
	j.mu.Unlock()
	if err := group.Remove(); err != nil {
		p.problem(j, err)
	}
}

// currentUsage returns what j has used: read live from its cgroup while it has
// one, else what was kept when the cgroup went.
func (j *job) currentUsage() Usage {
	j.mu.Lock()
	group, usage := j.group, j.usage
	j.mu.Unlock()
	if group != nil {
		// A group removed between the lock and the read tells nothing:
		// its figures were kept before it went.
		if live := group.Usage(); live.CPUSeconds != nil || live.MemoryPeakBytes != nil {
			return live
		}
		j.mu.Lock()
		usage = j.usage
		j.mu.Unlock()
	}
	return usage
}

// problem reports something that went wrong without ending j.
func (p *Pool) problem(j *job, err error) {
	p.report(j.id, err)
}

// report tells OnError of err, if there is one, about job id (0 for no
// job in particular).
func (p *Pool) report(id int64, err error) {
	if err != nil && p.cfg.OnError != nil {
		p.cfg.OnError(id, err)
	}
}
