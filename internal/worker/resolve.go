//go:build linux

package worker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// openJobsDir opens the jobs directory as it is now. It is opened at each
// start, not once: a jobs directory reached through a symlink that is
// switched to a new release runs the new release's files from the next
// start on, and one removed and made again is found again. Opening a
// directory costs a few microseconds, next to the milliseconds of a
// start.
func (p *Pool) openJobsDir() (*os.Root, error) {
	root, err := os.OpenRoot(p.cfg.JobsDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("the jobs directory %s is missing: %w", p.cfg.JobsDir, ErrJobsDirUnavailable)
		}
		// The errno stays: a host out of descriptors is not the jobs
		// directory's fault, and the server says which it is.
		return nil, fmt.Errorf("open the jobs directory %s: %w: %w", p.cfg.JobsDir, unwrapPathError(err), ErrJobsDirUnavailable)
	}
	return root, nil
}

// openExecutable opens name in the jobs directory as openExecutableIn
// does.
func (p *Pool) openExecutable(name string) (*os.File, error) {
	root, err := p.openJobsDir()
	if err != nil {
		return nil, err
	}
	// The open file outlives the root: the job runs what was opened.
	defer root.Close()
	return openExecutableIn(root, name)
}

// openExecutableIn opens name inside root and checks that it is an executable
// regular file. The returned file is the one the job will run: executing the
// open file rather than its name again means a file swapped in after the
// check is never run.
//
// Escapes are refused by os.Root, which resolves every component (symlinks
// included) without ever leaving the directory. The checks before it only
// give clearer messages for the obvious cases.
func openExecutableIn(root *os.Root, name string) (*os.File, error) {
	switch {
	case name == "":
		return nil, fmt.Errorf("empty path: %w", ErrNotAllowed)
	case strings.ContainsRune(name, 0):
		return nil, fmt.Errorf("path contains a NUL byte: %w", ErrNotAllowed)
	case filepath.IsAbs(name):
		return nil, fmt.Errorf("%q is absolute, give a path relative to the jobs directory: %w", name, ErrNotAllowed)
	case !filepath.IsLocal(name):
		return nil, fmt.Errorf("%q leaves the jobs directory: %w", name, ErrNotAllowed)
	}
	// O_NONBLOCK keeps a FIFO planted in the jobs directory from blocking
	// Start; it changes nothing for the regular files that pass the checks.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%q: %w", name, ErrNoSuchFile)
		}
		// The host out of descriptors or memory is not the caller's
		// doing: keep the errno for the server to say so.
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOMEM) {
			return nil, fmt.Errorf("open %q: %w", name, err)
		}
		// os.Root reports an escape through a symlink, a permission problem
		// or a loop all as errors other than "not exist": refuse them.
		return nil, fmt.Errorf("%q cannot be opened inside the jobs directory (%v): %w", name, unwrapPathError(err), ErrNotAllowed)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%q: %v: %w", name, err, ErrNotAllowed)
	}
	switch {
	case info.IsDir():
		f.Close()
		return nil, fmt.Errorf("%q is a directory: %w", name, ErrNotAllowed)
	case !info.Mode().IsRegular():
		f.Close()
		return nil, fmt.Errorf("%q is not a regular file: %w", name, ErrNotAllowed)
	case info.Mode().Perm()&0o111 == 0:
		f.Close()
		return nil, fmt.Errorf("%q is not executable: %w", name, ErrNotAllowed)
	}
	return f, nil
}

// unwrapPathError drops the operation and path from a *fs.PathError, which
// would otherwise repeat the name the caller already reports.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
