//go:build linux

package cgroup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Kill sends SIGKILL to every process in the group, however it got there
// and whatever session or process group it made for itself. In the cgroup2
// hierarchy the kernel does it in one step (cgroup.kill), forks in
// progress included. Where there is no cgroup.kill (ModeV1, or Linux
// before 5.14), the group is frozen first, so that nothing in it can fork
// while its processes are listed and killed, then thawed so they can die.
// Kill returns once the signals are sent: WaitEmpty waits for the deaths.
func (g *Group) Kill() error {
	g.awaitForks()
	var err error
	switch {
	case g.v2 != "" && g.m.v2Kill:
		// Most often the group is empty already: its leader exited
		// and forked nothing that outlived it. Reading cgroup.events
		// says so without cgroup.kill, which takes the kernel's cgroup
		// lock that every job's start and removal wait for too.
		if empty, _ := notPopulated(filepath.Join(g.v2, "cgroup.events")); empty {
			return nil
		}
		err = writeFile(filepath.Join(g.v2, "cgroup.kill"), "1")
	case g.v1Dir("freezer") != "":
		err = killLoop(g.v1Dir("freezer"), v1Freezer(g.v1Dir("freezer")))
	case g.v2 != "":
		// cgroup.freeze (5.2) where there is no cgroup.kill (5.14).
		err = killLoop(g.v2, v2Freezer(g.v2))
	default:
		err = killLoop(g.v1Track(), nil)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the group is gone, and so is everything that was in it
	}
	if err != nil {
		return fmt.Errorf("kill cgroup %s: %w", g.name, err)
	}
	return nil
}

// v1Track returns a v1 directory of the group, whose processes are those
// of the group: Start puts every process in all of them.
func (g *Group) v1Track() string {
	for _, dir := range g.v1 {
		if dir != "" {
			return dir
		}
	}
	return ""
}

// freezer stops every process of a cgroup and lets them go again.
type freezer interface {
	// freeze reports whether the group is now frozen; a group it could
	// not freeze is thawed again.
	freeze() bool
	thaw()
}

// freezeTries and freezePause bound the wait for a freeze to complete:
// about a second in all.
const (
	freezeTries = 1000
	freezePause = time.Millisecond
)

// v1Freezer is a v1 freezer cgroup directory.
type v1Freezer string

func (dir v1Freezer) freeze() bool {
	state := filepath.Join(string(dir), "freezer.state")
	for range freezeTries {
		if writeFile(state, "FROZEN") != nil {
			break
		}
		// FREEZING means some task has not stopped yet; writing FROZEN
		// again retries it.
		if data, err := os.ReadFile(state); err == nil && strings.TrimSpace(string(data)) == "FROZEN" {
			return true
		}
		time.Sleep(freezePause)
	}
	dir.thaw()
	return false
}

func (dir v1Freezer) thaw() { _ = writeFile(filepath.Join(string(dir), "freezer.state"), "THAWED") }

// v2Freezer is a cgroup2 directory, whose cgroup.freeze (5.2 and later)
// serves kernels without cgroup.kill.
type v2Freezer string

func (dir v2Freezer) freeze() bool {
	if writeFile(filepath.Join(string(dir), "cgroup.freeze"), "1") != nil {
		return false
	}
	for range freezeTries {
		if n, err := readKeyed(filepath.Join(string(dir), "cgroup.events"), "frozen"); err == nil && n == 1 {
			return true
		}
		time.Sleep(freezePause)
	}
	dir.thaw()
	return false
}

func (dir v2Freezer) thaw() { _ = writeFile(filepath.Join(string(dir), "cgroup.freeze"), "0") }

// killRounds bounds killLoop; killPause is how long it lets a round's
// signals land before it looks again.
const (
	killRounds = 100
	killPause  = time.Millisecond
)

// killLoop sends SIGKILL to every process in the cgroup tree at dir. With
// the group frozen, one round kills all: nothing in it can fork meanwhile,
// and a frozen process cannot exit, so its pid cannot be reused between
// the listing and the signal. Without a freezer, a process may fork
// between the listing and the signal, so the loop goes on until a round
// finds no process it has not signalled yet. The server's own process is
// never signalled, even while a thread of it is in the group.
func killLoop(dir string, fz freezer) error {
	signalled := map[int]bool{}
	self := os.Getpid()
	for range killRounds {
		frozen := fz != nil && fz.freeze()
		pids, err := treePids(dir)
		fresh := false
		for _, pid := range pids {
			if pid == self {
				// A thread of the server's is in the group: a forking
				// thread that could not move back (startOnThread),
				// until the Go runtime destroys it. The server is
				// never the group's to kill.
				continue
			}
			fresh = fresh || !signalled[pid]
			signalled[pid] = true
			_ = unix.Kill(pid, unix.SIGKILL) // ESRCH: already gone
		}
		if fz != nil {
			fz.thaw()
		}
		if err != nil || frozen || !fresh {
			return err
		}
		time.Sleep(killPause)
	}
	return fmt.Errorf("%s: new processes still appear after %d rounds of SIGKILL", dir, killRounds)
}

// treePids lists the processes in the cgroup at dir and in the cgroups
// below it, which a job run as root could have made.
func treePids(dir string) ([]int, error) {
	var all []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // a sub-cgroup removed meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		pids, err := readPids(filepath.Join(p, "cgroup.procs"))
		if err != nil && (p == dir || !errors.Is(err, fs.ErrNotExist)) {
			return err
		}
		all = append(all, pids...)
		return nil
	})
	return all, err
}

// pollInterval is how often WaitEmpty looks where no notification exists.
const pollInterval = 10 * time.Millisecond

// WaitEmpty returns when no process is left in the group, or with ctx's
// error. Where a cgroup2 directory exists it sleeps until the kernel
// reports "populated 0" in cgroup.events (inotify); otherwise it polls
// cgroup.procs every pollInterval. A group already removed is empty.
func (g *Group) WaitEmpty(ctx context.Context) error {
	g.awaitForks()
	var err error
	if g.v2 != "" {
		err = waitPopulated(ctx, g.v2)
	} else {
		err = pollEmpty(ctx, g.v1Track())
	}
	if err != nil {
		return fmt.Errorf("wait for cgroup %s to empty: %w", g.name, err)
	}
	return nil
}

// waitPopulated waits for "populated 0" in dir's cgroup.events. The watch
// is set before the first read, so a change between the two still wakes
// it.
func waitPopulated(ctx context.Context, dir string) error {
	events := filepath.Join(dir, "cgroup.events")
	// Most often the group is empty already (the caller killed it and
	// reaped its leader): say so without an inotify instance, whose close
	// waits for an SRCU grace period, some milliseconds per job.
	if empty, err := notPopulated(events); empty || err != nil {
		return err
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return pollEmpty(ctx, dir)
	}
	// Non-blocking, the descriptor joins Go's poller, so a read deadline
	// can end the wait when ctx ends.
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "inotify_add_watch", Path: events, Err: err}
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 4096)
	for {
		if empty, err := notPopulated(events); empty || err != nil {
			return err
		}
		if _, err := f.Read(buf); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// notPopulated reads a cgroup.events file: true when no process is left in
// the group or below it, or the group is gone.
func notPopulated(events string) (bool, error) {
	n, err := readKeyed(events, "populated")
	if errors.Is(err, fs.ErrNotExist) || err == nil && n == 0 {
		return true, nil
	}
	return false, err
}

// pollEmpty polls the cgroup tree at dir until it holds no process.
func pollEmpty(ctx context.Context, dir string) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		pids, err := treePids(dir)
		if errors.Is(err, fs.ErrNotExist) || err == nil && len(pids) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// cleanupWait bounds how long Cleanup waits for a stale group's killed
// processes to die.
const cleanupWait = 10 * time.Second

// Cleanup kills the processes of every job cgroup ("rw-*") found in the
// parent, left by a server that died, and removes those groups. Call it
// once, after Open and before the first Create; it returns how many
// processes it killed and how many groups it removed, for the caller to
// log. It does nothing in ModeNone.
func (m *Manager) Cleanup() (killed, removed int, err error) {
	if m.mode == ModeNone {
		return 0, 0, nil
	}
	var names []string
	for _, h := range m.hierarchies() {
		entries, err := os.ReadDir(h.parent)
		if err != nil {
			return 0, 0, fmt.Errorf("clean up stale cgroups: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), jobPrefix) && !slices.Contains(names, e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	var errs []error
	for _, name := range names {
		n, err := m.cleanupOne(name)
		killed += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	if err := errors.Join(errs...); err != nil {
		return killed, removed, fmt.Errorf("clean up stale cgroups: %w", err)
	}
	return killed, removed, nil
}

// cleanupOne kills and removes one stale group. Such a group may exist in
// only some hierarchies, and its processes may sit in one hierarchy's
// directory and not another's (a server that died halfway through Create
// or Start), so every directory is killed on its own.
func (m *Manager) cleanupOne(name string) (killed int, err error) {
	g := &Group{m: m, name: name, v1: make([]string, len(m.v1))}
	if dir := filepath.Join(m.v2Parent(), name); m.v2 != nil && exists(dir) {
		g.v2 = dir
	}
	for i, h := range m.v1 {
		if dir := filepath.Join(h.parent, name); exists(dir) {
			g.v1[i] = dir
		}
	}
	seen := map[int]bool{}
	for _, dir := range g.dirs() {
		pids, _ := treePids(dir)
		for _, pid := range pids {
			seen[pid] = true
		}
	}
	if err := g.Kill(); err != nil {
		return len(seen), err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupWait)
	defer cancel()
	for _, dir := range g.dirs() {
		var fz freezer
		if dir == g.v1Dir("freezer") {
			fz = v1Freezer(dir)
		}
		if err := killLoop(dir, fz); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return len(seen), fmt.Errorf("kill cgroup %s: %w", name, err)
		}
		if err := pollEmpty(ctx, dir); err != nil {
			return len(seen), fmt.Errorf("wait for cgroup %s to empty: %w", name, err)
		}
	}
	return len(seen), g.Remove()
}

// v2Parent returns the parent directory in the cgroup2 hierarchy, or "".
func (m *Manager) v2Parent() string {
	if m.v2 == nil {
		return ""
	}
	return m.v2.parent
}
