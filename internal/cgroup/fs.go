//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// writeFile writes one value to a cgroup control file, in one write(2), as
// `echo VALUE >> FILE` would. The kernel takes each write as one command
// and ignores the file offset, so appending is the same as overwriting
// there; on a fake tree in tests, appending keeps every value written, in
// order, for the test to check. The file must exist: cgroupfs creates no
// files, so a missing one means a controller or feature the host lacks.
func writeFile(file, value string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// exists reports whether file exists.
func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}

// readPids returns the pids (or tids) listed in a cgroup.procs or tasks
// file, one a line.
func readPids(file string) ([]int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a pid", file, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// readKeyed returns the value of key in a file of "KEY VALUE" lines, such
// as cpu.stat, memory.events, cgroup.events or memory.oom_control.
func readKeyed(file, key string) (int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s: %w", file, key, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: no %q line", file, key)
}

// readInt returns the one integer a file holds, such as cpuacct.usage.
func readInt(file string) (int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}

// mkdir creates a cgroup directory. made is false when it existed already
// (err then wraps fs.ErrExist).
func (m *Manager) mkdir(dir string) (made bool, err error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return false, err
	}
	if m.cfg.afterMkdir != nil {
		m.cfg.afterMkdir(dir)
	}
	return true, nil
}

// rmdirTries and rmdirFirstDelay bound rmdir's retries on EBUSY: the delay
// doubles each time, for about one second in all. A cgroup is busy for a
// moment after its last process died, until the kernel has finished with
// it.
const (
	rmdirTries      = 10
	rmdirFirstDelay = time.Millisecond
)

// rmdir removes a cgroup directory and any cgroups below it (a job run as
// root may have made some), retrying briefly while the kernel says one is
// busy. A directory already gone is not an error.
func (m *Manager) rmdir(dir string) error {
	if m.cfg.beforeRmdir != nil {
		m.cfg.beforeRmdir(dir)
	}
	// The common case first: a leaf whose processes are long gone.
	if err := m.rmdirRetry(dir, 1); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := m.rmdir(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return m.rmdirRetry(dir, rmdirTries)
}

// rmdirRetry calls rmdir(2) up to tries times while it fails with EBUSY.
func (m *Manager) rmdirRetry(dir string, tries int) error {
	delay := rmdirFirstDelay
	for try := 1; ; try++ {
		err := unix.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EBUSY) && try < tries:
			time.Sleep(delay)
			delay *= 2
			continue
		}
		return &os.PathError{Op: "rmdir", Path: dir, Err: err}
	}
}
