package jobinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The files init finds open, besides stdin, stdout and stderr.
const (
	// exeFD is the job's executable, in init and in the job alike, so
	// that Spec.Path can name it as /proc/self/fd/3.
	exeFD = 3
	// specFD is the read end of the pipe that holds the spec.
	specFD = 4
	// statusFD is the write end of the pipe init reports on.
	statusFD = 5
)

// cloneFlags are the namespaces an isolated job gets. No user namespace:
// init needs real root to mount /proc and set credentials, and the job's
// credentials are then the host's.
const cloneFlags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET |
	syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC

// Command builds, without starting it, the command that runs self
// (normally "/proc/self/exe", the running rw) as the init of spec's job in
// new PID, mount, network, UTS and IPC namespaces.
//
// Init gets stdin from /dev/null, out as stdout and stderr (the job gets
// the same), an empty environment, and three more files: exe as fd 3,
// passed on to the job as its fd 3 so that spec.Path can name it; the read
// end of a pipe that already holds spec, as fd 4; and the write end of the
// status pipe, as fd 5. Init leads a process group of its own (Setpgid),
// so that the caller can signal it as it signals a plain job's group.
//
// The caller may set more on cmd.SysProcAttr (it must keep Cloneflags and
// Setpgid), then starts cmd itself, possibly through cgroup.Group.Start.
// Once cmd has started, or failed to, the caller closes its own exe and
// out, as for a plain job. The Status holds the parent's copies of the two
// pipe ends that went to init; Read and Close close them. The caller calls
// Read after init has exited, and Close in every case.
func Command(self string, spec Spec, exe, out *os.File) (*exec.Cmd, *Status, error) {
	if exe == nil || out == nil {
		return nil, nil, fmt.Errorf("%w: the job's executable and output must be open files", ErrInvalidSpec)
	}
	if err := spec.validate(); err != nil {
		return nil, nil, err
	}
	return command(self, spec, exe, out)
}

// command is Command without the checks, so that tests can hand init a
// spec that makes it fail.
func command(self string, spec Spec, exe, out *os.File) (*exec.Cmd, *Status, error) {
	specR, err := specPipe(&spec)
	if err != nil {
		return nil, nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		specR.Close()
		return nil, nil, fmt.Errorf("make the status pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path: self,
		Args: []string{"rw", Arg},
		// Not the server's environment, which may hold secrets a job
		// running as the server's user could read in /proc/1/environ.
		Env:        []string{},
		Dir:        "/",
		Stdout:     out,
		Stderr:     out,
		ExtraFiles: []*os.File{exe, specR, statusW},
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    true,
			Cloneflags: cloneFlags,
		},
	}
	return cmd, &Status{r: statusR, handed: []*os.File{specR, statusW}}, nil
}

// specPipe returns the read end of a pipe that holds the encoded spec and
// nothing more: the write end is closed, so init reads until EOF. The
// whole spec is written before init starts, so nothing has to feed the
// pipe later; the pipe is grown to hold it when it is larger than the
// default 64 KiB (arguments and environment are bounded well below the
// 1 MiB an unprivileged process may grow a pipe to).
func specPipe(spec *Spec) (*os.File, error) {
	b, err := spec.encode()
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("make the spec pipe: %w", err)
	}
	r, w := os.NewFile(uintptr(p[0]), "|0"), p[1]
	defer unix.Close(w)
	if err := fillPipe(w, b); err != nil {
		r.Close()
		return nil, fmt.Errorf("write the job spec (%d bytes) to its pipe: %w", len(b), err)
	}
	return r, nil
}

// fillPipe writes b into the empty pipe w, which it first grows to hold
// b. w is made non-blocking, so that a pipe that still cannot hold b fails
// with EAGAIN rather than waiting for a reader that does not exist yet.
func fillPipe(w int, b []byte) error {
	if size, err := unix.FcntlInt(uintptr(w), unix.F_GETPIPE_SZ, 0); err == nil && size < len(b) {
		if _, err := unix.FcntlInt(uintptr(w), unix.F_SETPIPE_SZ, len(b)); err != nil {
			return fmt.Errorf("grow the pipe: %w", err)
		}
	}
	if err := unix.SetNonblock(w, true); err != nil {
		return err
	}
	for len(b) > 0 {
		n, err := unix.Write(w, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// Status is the parent's end of the pipe on which init reports the job's
// exact wait status. Read and Close may be called from different
// goroutines: Close makes a pending Read return.
type Status struct {
	r          *os.File
	handed     []*os.File // the parent's copies of the files init got
	handedOnce sync.Once
}

// Read returns the job's wait status as init reported it. It reads until
// init's end of the pipe is closed, which happens when init exits, so it
// returns once init has exited, whether it reported or not; call it after
// init has exited (it would block until then).
//
// The error is a *StartError if the job never ran, and wraps ErrNoReport
// if init exited without reporting (killed as a whole with SIGKILL, for
// one): the caller then goes by init's own exit status.
func (s *Status) Read() (syscall.WaitStatus, error) {
	// Our copy of the write end would hold the pipe open forever.
	s.Started()
	b, err := io.ReadAll(io.LimitReader(s.r, maxReport+1))
	if err != nil {
		return 0, fmt.Errorf("read the job's status from its init: %w", err)
	}
	return parseReport(b)
}

// Close releases the pipe. It is safe to call more than once.
func (s *Status) Close() error {
	s.Started()
	err := s.r.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

// Started closes the parent's copies of the pipe ends handed to init: call
// it once cmd has started, as exec.Cmd closes its own, so that a running
// job holds no descriptors of the server's but the status pipe's read end.
// Read and Close call it too.
func (s *Status) Started() {
	s.handedOnce.Do(func() {
		for _, f := range s.handed {
			f.Close()
		}
	})
}
