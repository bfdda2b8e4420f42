//go:build linux

package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Start starts cmd inside the group, so that the process is in the group
// from its first instruction and every child it forks, at once or later,
// is too. It may be called concurrently, on the same group or others.
//
// In the cgroup2 hierarchy the kernel places the process as it creates it
// (clone3 with CLONE_INTO_CGROUP, through SysProcAttr.UseCgroupFD). The v1
// hierarchies have no such thing, so the thread that forks is moved into
// the group first and back out after: a child inherits its cgroups from
// the thread that forks it. cmd.SysProcAttr is copied, never changed in
// place, since callers may share one between commands.
func (g *Group) Start(cmd *exec.Cmd) error {
	return g.StartWith(cmd, nil)
}

// StartWith is Start with onThread, if not nil, run on the thread that
// forks, after it joined the group's v1 cgroups and just before the fork:
// what onThread sets on the thread (no_new_privs, say), the child
// inherits. The thread keeps it after: onThread must set nothing that
// other work on that thread must not have.
func (g *Group) StartWith(cmd *exec.Cmd, onThread func() error) error {
	closeFD, err := g.placeV2(cmd)
	if err != nil {
		return err
	}
	defer closeFD()
	if !slices.ContainsFunc(g.v1, func(dir string) bool { return dir != "" }) {
		// No v1 cgroup for the thread to join (cgroup2 places the child
		// by CLONE_INTO_CGROUP): fork from this goroutine's thread, locked
		// only while onThread's mark must hold, with no goroutine and no
		// /proc read per start.
		if onThread != nil {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if err := onThread(); err != nil {
				return g.wrapStart(err)
			}
		}
		return g.wrapStart(cmd.Start())
	}
	// The placement runs on a goroutine of its own, locked to its thread,
	// so that a thread that could not be moved back ends with it: see
	// startOnThread. It moves the thread back after it has answered, off
	// the caller's path; left is closed once the thread is out of the
	// group, which Kill, WaitEmpty and Remove wait for.
	done := make(chan error, 1)
	left := make(chan struct{})
	g.mu.Lock()
	g.forks = append(g.forks, left)
	g.mu.Unlock()
	go g.startOnThread(cmd, onThread, done, left)
	return g.wrapStart(<-done)
}

// awaitForks returns once every thread that Start moved into the group's
// v1 cgroups to fork has left them: until then the group's cgroup.procs
// and tasks list the server itself, which a kill must never signal, and
// the group cannot be removed.
func (g *Group) awaitForks() {
	g.mu.Lock()
	forks := g.forks
	g.mu.Unlock()
	for _, left := range forks {
		<-left
	}
}

// placeV2 makes cmd start in the group's cgroup2 directory, if it has one
// (CLONE_INTO_CGROUP), and returns the func that closes the directory's
// descriptor once cmd has started.
func (g *Group) placeV2(cmd *exec.Cmd) (func(), error) {
	if g.v2 == "" {
		return func() {}, nil
	}
	fd, err := unix.Open(g.v2, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("start in cgroup %s: %w", g.name, &os.PathError{Op: "open", Path: g.v2, Err: err})
	}
	attr := syscall.SysProcAttr{}
	if cmd.SysProcAttr != nil {
		attr = *cmd.SysProcAttr
	}
	attr.UseCgroupFD = true
	attr.CgroupFD = fd
	cmd.SysProcAttr = &attr
	return func() { unix.Close(fd) }, nil
}

func (g *Group) wrapStart(err error) error {
	if err != nil {
		return fmt.Errorf("start in cgroup %s: %w", g.name, err)
	}
	return nil
}

// startOnThread moves the current thread into the group's v1 cgroups,
// starts cmd (the fork happens on this thread, so the child inherits
// them), sends cmd.Start's result, or why placement failed, on done, and
// then moves the thread back to the cgroups it came from, and closes
// left. Moving back, two writes that each wait for the kernel's cgroup
// locks, is off the caller's path: the caller goes on with the job.
//
// If the thread cannot be moved back, it goes to the server's own
// cgroups instead. If that fails too, the goroutine ends still locked to
// it: the Go runtime then destroys the thread instead of running other
// goroutines on it, which would put their work, and the children they
// start, in this job's cgroups.
func (g *Group) startOnThread(cmd *exec.Cmd, onThread func() error, done chan<- error, left chan<- struct{}) {
	defer close(left)
	runtime.LockOSThread()
	tid := strconv.Itoa(unix.Gettid())
	back, moved, err := g.enterV1(tid)
	if err == nil && onThread != nil {
		err = onThread()
	}
	if err == nil {
		err = cmd.Start()
	}
	// If cmd started, it started in the right place; a failure to move
	// back is not the caller's, and the thread dies with this goroutine.
	done <- err
	if !g.leaveV1(tid, back, moved) {
		runtime.UnlockOSThread()
	}
}

// enterV1 moves thread tid, the current thread, into the group's v1
// cgroups. It returns the cgroup directories to move it back to, by
// hierarchy, and the hierarchies it moved it in, which leaveV1 takes;
// on an error the thread is in those only.
func (g *Group) enterV1(tid string) (back []string, moved []int, err error) {
	self, err := readProcCgroup(g.m.path("/proc/thread-self/cgroup"))
	if err != nil {
		return nil, nil, fmt.Errorf("read this thread's cgroups: %w", err)
	}
	// Find where to move the thread back before moving it anywhere.
	back = make([]string, len(g.m.v1))
	for i, h := range g.m.v1 {
		if g.v1[i] == "" {
			continue
		}
		cg, ok := cgroupOf(self, h)
		if !ok {
			return nil, nil, fmt.Errorf("this thread is in no cgroup of the %s hierarchy", h.name())
		}
		if back[i], err = h.dir(cg); err != nil {
			return nil, nil, err
		}
	}
	for i, dir := range g.v1 {
		if dir == "" {
			continue
		}
		if err := writeFile(filepath.Join(dir, "tasks"), tid); err != nil {
			return back, moved, fmt.Errorf("move the forking thread into %s: %w", dir, err)
		}
		moved = append(moved, i)
	}
	return back, moved, nil
}

// leaveV1 moves thread tid out of the hierarchies enterV1 moved it in, to
// back, or, where that fails, to the server's own cgroup. It reports
// whether the thread is stuck in one of the group's cgroups still.
func (g *Group) leaveV1(tid string, back []string, moved []int) (stuck bool) {
	for _, i := range moved {
		if writeFile(filepath.Join(back[i], "tasks"), tid) != nil {
			// Where the thread came from may be gone (removed under
			// the server). The server's own cgroup, which holds the
			// jobs' parent, is the next best place: a thread left in
			// the job's cgroups keeps the group from being removed
			// until it dies, and the main thread never dies but is
			// wedged by the Go runtime, there for good.
			if writeFile(filepath.Join(filepath.Dir(g.m.v1[i].parent), "tasks"), tid) != nil {
				stuck = true
			}
		}
	}
	return stuck
}
