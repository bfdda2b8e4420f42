package worker

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rw-project/rw/internal/cgroup"
	"github.com/rw-project/rw/internal/jobinit"

	"golang.org/x/sys/unix"
)

// spawn creates j's process from what prepare made ready. It is the one
// place where rw creates processes: command builds the process (jobinit's
// init wraps it for an isolated job), and startInGroup starts it in the
// job's cgroup, from a thread marked no_new_privs. Once the process
// holds its own copies of the files it was given, spawn closes ours; if it
// could not start, it closes the rest of l too.
func (p *Pool) spawn(j *job, l *launch) (*proc, error) {
	pr := &proc{cmd: p.command(j, l)}
	var err error
	if j.isolate {
		pr.cmd, pr.init, err = jobinit.Command(p.cfg.Self, p.initSpec(j, pr.cmd), l.exe, l.out)
	}
	if err == nil {
		pr.group, err = p.startInGroup(j, pr.cmd)
	}
	// Our copy of the write end would keep the pipe open after the job ends.
	l.out.Close()
	l.exe.Close()
	if err != nil {
		if pr.init != nil {
			pr.init.Close()
		}
		l.pipe.Close()
		return nil, fmt.Errorf("could not start: %w", p.explainStartError(j, err))
	}
	if pr.init != nil {
		pr.init.Started()
	}
	return pr, nil
}

// proc is a job's running process, as spawn made it.
type proc struct {
	cmd *exec.Cmd
	// group is the job's cgroup; nil without cgroups.
	group *cgroup.Group
	// init, for an isolated job, reads the job's own wait status from the
	// init that cmd runs; nil for a plain job.
	init *jobinit.Status
}

// initSpec is what an isolated job's init runs: the plain job's command,
// with its credentials, in a namespace named after the job.
func (p *Pool) initSpec(j *job, plain *exec.Cmd) jobinit.Spec {
	spec := jobinit.Spec{
		Hostname: "rw-" + strconv.FormatInt(j.id, 10),
		Path:     plain.Path,
		Args:     plain.Args,
		Env:      plain.Env,
		Dir:      plain.Dir,
	}
	if c := p.cfg.RunAs; c != nil {
		spec.Uid, spec.Gid, spec.SetCreds = c.Uid, c.Gid, true
	}
	return spec
}

// command builds, without starting it, the process that runs job j: what it
// runs, with which arguments, environment, files and attributes, and the
// run-as credentials.
//
// The process runs the already opened executable exe through /proc/self/fd,
// so the file that passed the checks in Start is the file that runs, even if
// the name was replaced since. exe becomes the job's fd 3: a script's
// interpreter reopens the script through that path, so it must stay open
// across exec. The job has no other inherited descriptors.
//
// Stdout and stderr are the same pipe, which keeps their bytes in the order
// they were written. Stdin is /dev/null (exec.Cmd's default for a nil Stdin).
// Setpgid puts the job in a process group of its own, so that Stop can signal
// the job's whole tree at once.
func (p *Pool) command(j *job, l *launch) *exec.Cmd {
	env := make([]string, 0, len(p.cfg.Env)+2)
	env = append(env, p.cfg.Env...)
	env = append(env, "HOME="+l.dir, "RW_JOB_ID="+strconv.FormatInt(j.id, 10))
	return &exec.Cmd{
		Path:        "/proc/self/fd/3",
		Args:        append([]string{j.spec.Path}, j.spec.Args...),
		Env:         env,
		Dir:         l.dir,
		Stdout:      l.out,
		Stderr:      l.out,
		ExtraFiles:  []*os.File{l.exe},
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Credential: p.credential()},
	}
}

// signalGroup sends sig to every process in the group led by pid. ESRCH, an
// already empty group, is not an error worth reporting.
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}

// waitExit blocks until process pid has exited, without reaping it: the
// zombie keeps its pid, and so its process group id, reserved until
// exec.Cmd.Wait reaps it.
//
// It waits through a pidfd, which becomes readable when the process exits,
// registered with the runtime's poller: a thousand running jobs park a
// thousand goroutines, not a thousand threads blocked in waitid. Where
// pidfds are not to be had (a kernel before 5.4, or one that refuses
// them), it blocks its thread in waitid as before.
func waitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		blockUntilExit(pid)
		return
	}
	// An fd opened non-blocking is registered with the poller.
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err == nil {
		err = rc.Read(func(fd uintptr) bool {
			return exitedNoWait(int(fd))
		})
	}
	if err != nil {
		// Not pollable after all: wait the old way.
		blockUntilExit(pid)
	}
}

// exitedNoWait reports whether the process of pidfd fd has exited, without
// waiting for it and without reaping it. An error other than EINTR (there
// is nothing to wait for) counts as exited, as blockUntilExit has it, so
// that supervise goes on to reap and report it.
func exitedNoWait(fd int) bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return true
		}
		// With WNOHANG and nothing to report, Linux fills in a zero
		// siginfo; an exited child's has si_signo SIGCHLD.
		return info.Signo != 0
	}
}

// blockUntilExit blocks its thread in waitid until process pid has exited,
// without reaping it.
func blockUntilExit(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// pipeSize is the capacity the output pipe grows to once the job fills it.
// The default 64 KiB makes a job that writes a lot wait for the copier
// every 64 KiB; 1 MiB, the most an unprivileged process may ask for by
// default, lets both run in longer strides. A job that writes little never
// fills the default pipe and keeps it. Failure to grow it is harmless.
const (
	pipeSize        = 1 << 20
	defaultPipeSize = 64 << 10
)

// growPipe grows the pipe that f is one end of, through its raw
// descriptor: File.Fd would take the pipe out of the runtime's poller.
func growPipe(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize)
	})
}

// sameProcess reports whether process pid is still the job's process, which
// was created after the job (created) and before its start was recorded
// (started): a pid recorded before a crash may since belong to an unrelated
// process, which began only after the job's process had ended. The start
// time is field 22 of /proc/PID/stat, in clock ticks after boot (btime in
// /proc/stat, whole seconds).
//
// The window runs from created, not from started: a spawn may take seconds
// on a loaded host, and started is taken only once it has returned. Two
// seconds either side allow for btime's rounding.
func sameProcess(pid int, created, started time.Time) bool {
	if started.IsZero() {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 20 {
		return false
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return false
	}
	boot, err := bootTime()
	if err != nil {
		return false
	}
	// Linux reports start times in USER_HZ, 100 on every architecture rw
	// runs on.
	at := boot.Add(time.Duration(ticks) * time.Second / 100)
	if created.IsZero() || created.After(started) {
		created = started
	}
	const slack = 2 * time.Second
	return !at.Before(created.Add(-slack)) && !at.After(started.Add(slack))
}

// bootTime reads when the host booted, from btime in /proc/stat.
func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(sec, 0), err
		}
	}
	return time.Time{}, errors.New("no btime in /proc/stat")
}
