package jobinit

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwarded are the signals init passes on to the job's process group.
var forwarded = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP,
	syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
}

// Main is the job's init: rw's main calls it, before anything else, when
// argv[1] is Arg. It never returns: it exits with the job's exit code, or
// 128+N if the job was killed by signal N, or CodeExecFailed or
// CodeSetupFailed if the job never ran.
//
// Main is the one exit outside rw's main: init is a program of its own
// that happens to live in rw's binary, so that the server needs no other
// file and runs the init of the same version as itself.
func Main() {
	// no_new_privs belongs to the thread that sets it, and a child
	// inherits it from the thread that forks it: both must be this one.
	runtime.LockOSThread()
	// Before anything can signal us: a signal that arrives while the job
	// is being started is forwarded once it has. The buffer only needs to
	// be deep enough to be rarely full: see supervise. Only the signals
	// init handles: taking every signal would make init's start slower by
	// a millisecond, and a job under other credentials cannot signal init
	// anyway.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, append(forwarded, syscall.SIGCHLD)...)
	os.Exit(run(sigs))
}

// run sets up the namespaces, runs the job until it exits, reports, and
// returns init's exit code.
func run(sigs <-chan os.Signal) int {
	status := os.NewFile(statusFD, "status")
	// Neither the status pipe nor the spec may reach the job.
	unix.CloseOnExec(statusFD)
	unix.CloseOnExec(specFD)
	if os.Getpid() != 1 {
		// Run by hand, or by a caller that did not make the namespaces:
		// mounting /proc or setting the hostname would change the host's.
		return notStarted(status, CodeSetupFailed, errors.New(Arg+" is for rw's own use: it must run as pid 1 of a new PID namespace"))
	}
	spec, err := readSpec()
	if err != nil {
		return notStarted(status, CodeSetupFailed, err)
	}
	if err := setUp(&spec); err != nil {
		return notStarted(status, CodeSetupFailed, err)
	}
	job, err := startJob(&spec)
	if err != nil {
		return notStarted(status, CodeExecFailed, err)
	}
	ws := supervise(job, sigs)
	// A failed write means the server no longer listens: nobody to tell.
	_, _ = status.Write(waitedReport(ws))
	return exitCode(ws)
}

func readSpec() (Spec, error) {
	f := os.NewFile(specFD, "spec")
	defer f.Close()
	return decodeSpec(f)
}

// setUp makes the namespaces what the job sees, and sets what the job
// inherits from init: no_new_privs, no core dumps, umask 077.
func setUp(spec *Spec) error {
	// Mounts made here must not propagate to the host's namespace, whose
	// mounts are often shared (systemd makes / shared).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mounts private: %w", err)
	}
	// A /proc of this PID namespace: the job sees only its own processes.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
		return fmt.Errorf("set the hostname to %q: %w", spec.Hostname, err)
	}
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("bring the loopback interface up: %w", err)
	}
	// Neither setuid binaries nor file capabilities raise what the job
	// may do.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	// A core dump would write the job's memory where rw does not look;
	// both limits, so that the job cannot raise it back.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("set the core size limit to 0: %w", err)
	}
	unix.Umask(0o077)
	return nil
}

// loopbackUp sets IFF_UP on lo, the only interface a new network namespace
// has, through the ioctl interface rather than netlink: two system calls.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// startJob forks and executes the job in a process group of its own, with
// fds 0 to 3 as init has them and the spec's credentials. It runs on the
// thread Main locked, the one with no_new_privs.
func startJob(spec *Spec) (int, error) {
	sys := &syscall.SysProcAttr{Setpgid: true}
	if spec.SetCreds {
		sys.Credential = &syscall.Credential{Uid: spec.Uid, Gid: spec.Gid, Groups: []uint32{}}
	}
	pid, err := syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: []uintptr{0, 1, 2, exeFD},
		Sys:   sys,
	})
	if err != nil {
		// The same errno comes from execve and from chdir or setuid
		// before it, hence both the path and the directory.
		return 0, fmt.Errorf("exec %s in %s: %w", spec.Path, spec.Dir, err)
	}
	return pid, nil
}

// supervise reaps every child of init until the job itself has exited,
// forwarding signals to the job's process group meanwhile, and returns the
// job's wait status. Children other than the job are orphans that the
// kernel handed to init, the namespace's reaper.
//
// It reaps after every signal, not only SIGCHLD: the signal package drops
// a signal when the channel is full, but then the channel holds signals
// still to be handled, each followed by a reap that finds the exit the
// dropped SIGCHLD announced.
func supervise(job int, sigs <-chan os.Signal) syscall.WaitStatus {
	for {
		if ws, ok := reap(job); ok {
			return ws
		}
		if sig, _ := (<-sigs).(syscall.Signal); sig != syscall.SIGCHLD {
			// ESRCH: the group is already empty and its leader about to
			// be reaped.
			_ = syscall.Kill(-job, sig)
		}
	}
}

// reap reaps every child that has exited, without waiting, and says
// whether the job was one of them.
func reap(job int) (jobStatus syscall.WaitStatus, jobExited bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return jobStatus, jobExited
		}
		if pid == job {
			jobStatus, jobExited = ws, true
		}
	}
}

// exitCode is the code a shell gives a command that ended with ws.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// notStarted tells the job's output and the server why the job did not
// start, and returns init's exit code.
func notStarted(status *os.File, code int, err error) int {
	fmt.Fprintf(os.Stderr, "rw: error: the isolated job did not start: %v\n", err)
	_, _ = status.Write(notStartedReport(code, err.Error()))
	return code
}
