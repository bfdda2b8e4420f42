//go:build linux

package worker

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Credential is the user jobs run as.
type Credential struct {
	// Name is how logs and messages name the user ("nobody", or the uid
	// when the user has no name).
	Name string
	Uid  uint32
	Gid  uint32
}

// workDir makes j's working directory: a fresh directory of its own in the
// pool's private directory, owned by the user the job runs as, mode 0700,
// with a random name in a parent that others may enter but not list, so
// that a job of another user cannot find it. It is removed with the job.
func (p *Pool) workDir(j *job) (string, error) {
	prefix := "job-" + strconv.FormatInt(j.id, 10) + "-"
	dir, err := os.MkdirTemp(p.workRoot, prefix)
	if errors.Is(err, fs.ErrNotExist) {
		// The directory of working directories went away under the
		// server: make it again rather than fail every job until a
		// restart.
		if merr := p.makeWorkRoot(); merr == nil {
			p.problem(j, fmt.Errorf("the directory of working directories %s was missing, and was made again", p.workRoot))
			dir, err = os.MkdirTemp(p.workRoot, prefix)
		}
	}
	if err != nil {
		return "", fmt.Errorf("could not create the job's working directory: %w", err)
	}
	if c := p.cfg.RunAs; c != nil {
		if err := os.Chown(dir, int(c.Uid), int(c.Gid)); err != nil {
			os.Remove(dir)
			return "", fmt.Errorf("could not give the job's working directory to %s: %w", c.Name, err)
		}
	}
	return dir, nil
}

// credential is what a job's process runs as: the pool's RunAs user with
// no supplementary groups, or nil to keep the server's own.
func (p *Pool) credential() *syscall.Credential {
	c := p.cfg.RunAs
	if c == nil {
		return nil
	}
	return &syscall.Credential{Uid: c.Uid, Gid: c.Gid, Groups: []uint32{}}
}

// CanIsolate reports whether this process can run isolated jobs: making
// namespaces and mounting /proc in them needs root.
func CanIsolate() bool { return os.Geteuid() == 0 }

// setNoNewPrivs marks the calling thread no_new_privs. A process forked
// from that thread inherits the mark, so neither the job nor anything it
// runs can gain privileges through exec (a setuid binary, file
// capabilities). The thread keeps the mark, which is harmless: the server
// never needs exec to gain privileges, and every job gets the mark anyway.
func setNoNewPrivs() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

// startNoNewPrivs starts cmd from a thread marked no_new_privs.
func startNoNewPrivs(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := setNoNewPrivs(); err != nil {
		return err
	}
	return cmd.Start()
}

// explainStartError says why exec failed in terms of the job's file, not
// of the chain of internal steps (the cgroup, the descriptor path the file
// is run through): the job's user may not run it, the interpreter its #!
// line names does not exist, or it is neither a binary nor a script.
func (p *Pool) explainStartError(j *job, err error) error {
	// Only exec's own failure is about the file: an errno from making or
	// entering the job's cgroup, earlier in the chain, is not.
	var pe *fs.PathError
	var errno unix.Errno
	if !errors.As(err, &pe) || pe.Op != "fork/exec" || !errors.As(pe.Err, &errno) {
		return err
	}
	path := j.spec.Path
	switch {
	case p.cfg.RunAs != nil && (errno == unix.EACCES || errno == unix.EPERM):
		return fmt.Errorf("%s may not run %s: %w (the file needs read and execute permission for it: chmod o+rx %s)",
			p.cfg.RunAs.Name, path, errno, filepath.Join(p.cfg.JobsDir, path))
	case errno == unix.ENOENT:
		// The file was open: what is missing is what its #! line names.
		if interp := p.interpreter(path); interp != "" {
			return fmt.Errorf("interpreter %s named by %s's #! line does not exist: %w", interp, path, errno)
		}
	case errno == unix.ENOEXEC:
		return fmt.Errorf("%s: %w: not a binary this host runs, and no #! line", path, errno)
	}
	return fmt.Errorf("%s: %w", path, errno)
}

// interpreter returns the program a script's #! line names, or "".
func (p *Pool) interpreter(path string) string {
	root, err := p.openJobsDir()
	if err != nil {
		return ""
	}
	defer root.Close()
	f, err := root.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := io.ReadFull(f, buf)
	line, ok := strings.CutPrefix(string(buf[:n]), "#!")
	if !ok {
		return ""
	}
	line, _, _ = strings.Cut(line, "\n")
	if fields := strings.Fields(line); len(fields) > 0 {
		return fields[0]
	}
	return ""
}
