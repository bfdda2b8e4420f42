//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// Mode is how the host's cgroups are used, detected once by Open.
type Mode string

const (
	// ModeV2 is the unified hierarchy (cgroup2) alone, with controllers:
	// limits, placement, kill and the emptiness notification all go through
	// it.
	ModeV2 Mode = "v2"
	// ModeHybrid is v1 controllers plus a cgroup2 mount that has none:
	// limits and usage go to the v1 controllers, while the cgroup2 mount
	// places processes (CLONE_INTO_CGROUP), kills them (cgroup.kill) and
	// tells when the group is empty (cgroup.events).
	ModeHybrid Mode = "hybrid"
	// ModeV1 is v1 controllers alone: placement through the forking
	// thread's cgroups, kill through the freezer.
	ModeV1 Mode = "v1"
	// ModeNone means cgroups cannot be used here (not root, nothing
	// mounted, nothing writable): the caller must fall back to process
	// groups, and limits are off. Manager.Reason says why.
	ModeNone Mode = "none"
)

// Limits are the resource limits of one job cgroup. A zero field means
// unlimited: the kernel's default ("max", or -1 in v1) is left as it is.
type Limits struct {
	// MemoryBytes caps the group's memory. Swap is capped too (at zero
	// extra in v2, at the same total in v1), since a limit that swaps is
	// no limit.
	MemoryBytes int64
	// CPUs caps the group's CPU time, in CPUs: 0.5 is half of one CPU,
	// 2 is two full CPUs, over a period of 100 ms.
	CPUs float64
	// Pids caps the number of tasks (processes and threads) in the group.
	// With v1 hierarchies (ModeV1, ModeHybrid) the server's forking
	// thread counts too while Start runs and until it has moved back,
	// moments later, so a limit of 1 cannot start anything.
	Pids int64
	// IOReadBytesPerSec and IOWriteBytesPerSec cap the group's block IO
	// bandwidth on each throttled device (Config.IODevices).
	IOReadBytesPerSec, IOWriteBytesPerSec int64
}

// validate refuses limits the kernel would refuse or misread.
func (l Limits) validate() error {
	switch {
	case l.MemoryBytes < 0:
		return fmt.Errorf("memory limit %d is negative: give a byte count, or 0 for none", l.MemoryBytes)
	case l.CPUs < 0 || math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0):
		return fmt.Errorf("CPU limit %v is not a non-negative number: give a number of CPUs, or 0 for none", l.CPUs)
	case l.Pids < 0:
		return fmt.Errorf("pids limit %d is negative: give a count, or 0 for none", l.Pids)
	case l.IOReadBytesPerSec < 0 || l.IOWriteBytesPerSec < 0:
		return fmt.Errorf("IO limits %d/%d include a negative rate: give bytes per second, or 0 for none",
			l.IOReadBytesPerSec, l.IOWriteBytesPerSec)
	}
	return nil
}

// io reports whether an IO limit is set.
func (l Limits) io() bool { return l.IOReadBytesPerSec > 0 || l.IOWriteBytesPerSec > 0 }

// Usage is what a job cgroup has used so far, or in all once its processes
// are gone (the numbers stay until the group is removed). A nil field is one
// the host cannot report.
type Usage struct {
	// CPUSeconds is the CPU time used by every process of the group, user
	// and system.
	CPUSeconds *float64
	// MemoryPeakBytes is the most memory the group used at once.
	MemoryPeakBytes *int64
}

// Config says where to look for cgroups and how to lay out rw's part of
// them. The zero value is the production configuration.
type Config struct {
	// Root is the directory that stands for "/" when the package reads
	// /proc/self/mountinfo, /proc/self/cgroup, /proc/thread-self/cgroup,
	// /sys/block, /sys/class/block and the cgroup mounts named in
	// mountinfo. Empty means "/"; tests point it at a fake tree.
	Root string
	// Parent is the name of the directory, under the server's own cgroup
	// in each hierarchy, that holds the job cgroups. Empty means "rw". It
	// is one path element, and it cannot be "server", which ModeV2 uses
	// for the server's own leaf.
	Parent string
	// IODevices are the block devices that IO limits throttle, each
	// "MAJ:MIN" or a name from /sys/class/block such as "vda" or "sda1".
	// A partition stands for its whole disk, since the kernel refuses to
	// throttle a partition. Nil means every whole disk in /sys/block that
	// is not virtual (loop, ram, zram and anything under
	// /sys/devices/virtual are skipped).
	IODevices []string

	// only restricts detection to one kind of hierarchy, so that tests
	// can exercise ModeV1 and ModeV2 code on a hybrid host: "v1" ignores
	// cgroup2 mounts, "v2" ignores v1 mounts.
	only string
	// noKill makes the package act as on a kernel without cgroup.kill
	// (before 5.14), so that tests exercise the freezing kill loop.
	noKill bool
	// afterMkdir and beforeRmdir, when set, play the kernel's part on a
	// fake tree: creating and removing a cgroup's control files.
	afterMkdir  func(dir string)
	beforeRmdir func(dir string)
}

// defaultParent is Config.Parent's default.
const defaultParent = "rw"

// serverLeaf is the leaf cgroup that ModeV2 moves the server's processes
// into, so that they do not sit in a cgroup with controllers enabled for
// its children (cgroup v2's no-internal-process rule).
const serverLeaf = "server"

// jobPrefix starts the name of every job cgroup, and is how Cleanup spots
// the ones a dead server left.
const jobPrefix = "rw-"

// nameRE is what a Parent or a job name may be: one path element, no
// surprises for the shell or the kernel.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func validName(s string) bool {
	return nameRE.MatchString(s) && s != "." && s != ".."
}

var (
	// ErrUnavailable is returned by Create when the Manager is in
	// ModeNone: the caller should run the job without a cgroup, in a
	// process group, and say that limits are off.
	ErrUnavailable = errors.New("cgroups are unavailable")
	// ErrNoController is returned by Create when a limit was asked for
	// whose controller the host does not offer (not mounted, or not
	// delegated). Manager.Reason names the missing controllers.
	ErrNoController = errors.New("no cgroup controller for this limit")
)

// Manager creates the job cgroups of one server. It is safe for concurrent
// use.
type Manager struct {
	cfg   Config
	root  string
	mode  Mode
	notes []string

	// v2 is the cgroup2 hierarchy in ModeV2 and ModeHybrid, else nil.
	v2 *hierarchy
	// v2Controllers are the controllers enabled for job cgroups in ModeV2.
	v2Controllers map[string]bool
	// v2Kill says the kernel has cgroup.kill (5.14 and later).
	v2Kill bool
	// v1 are the v1 hierarchies in ModeV1 and ModeHybrid, one per mount,
	// each with at least one controller rw uses.
	v1 []*hierarchy
	// devices are the "MAJ:MIN" of the disks IO limits throttle.
	devices []string
	// cpus is how many CPUs the host can ever have, hot-plugged ones
	// included; 0 when it cannot tell.
	cpus int
	// lockFD holds the flock on the parent directory while the Manager is
	// open; 0 when it holds none.
	lockFD int
}

// Parent returns the name of the directory that holds the job cgroups in
// each hierarchy.
func (m *Manager) Parent() string { return m.cfg.Parent }

// Mode returns the mode Open detected.
func (m *Manager) Mode() Mode { return m.mode }

// Reason says why the mode is ModeNone, or notes what works less than fully
// in another mode (a missing controller, no disk to throttle), as clauses
// joined by "; ". It is empty when everything works.
func (m *Manager) Reason() string { return strings.Join(m.notes, "; ") }

// note records a clause for Reason.
func (m *Manager) note(format string, args ...any) {
	m.notes = append(m.notes, fmt.Sprintf(format, args...))
}

// path turns an absolute path of the host into one under Config.Root.
func (m *Manager) path(p string) string { return filepath.Join(m.root, p) }

// Open detects the host's mode, creates the parent cgroup in each hierarchy
// it uses (and, in ModeV2, moves the server into its own leaf and enables
// the controllers), and picks the disks to throttle. A host where cgroups
// cannot be used gives a Manager in ModeNone, not an error: errors are for
// a Config that is wrong (a bad Parent, an IODevices entry that names no
// block device), which the operator must fix.
func Open(cfg Config) (*Manager, error) {
	if cfg.Parent == "" {
		cfg.Parent = defaultParent
	}
	if !validName(cfg.Parent) || cfg.Parent == serverLeaf {
		return nil, fmt.Errorf("cgroup parent %q is not a plain directory name other than %q: use letters, digits, '.', '_' and '-'",
			cfg.Parent, serverLeaf)
	}
	m := &Manager{cfg: cfg, root: cfg.Root, mode: ModeNone}
	if m.root == "" {
		m.root = "/"
	}
	devices, err := m.ioDevices(cfg.IODevices)
	if err != nil {
		return nil, err
	}
	m.detect()
	if m.mode == ModeNone {
		return m, nil
	}
	m.devices = devices
	m.cpus = possibleCPUs(m.path("/sys/devices/system/cpu/possible"))
	if len(devices) == 0 {
		m.note("IO limits off: no block device to throttle")
	}
	if err := m.lockParent(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// ErrParentInUse means another Manager, in this process or another, holds
// the same parent: two servers sharing one would name their jobs' cgroups
// alike, and each would take the other's running jobs for stale ones.
var ErrParentInUse = errors.New("the cgroup parent is in use by another rw server")

// lockParent takes an exclusive lock on the parent directory of the first
// hierarchy for as long as the Manager is open. The lock is flock(2) on the
// directory: the kernel drops it when the process dies, however it dies,
// so a server killed with SIGKILL never keeps the next one out.
func (m *Manager) lockParent() error {
	hs := m.hierarchies()
	if len(hs) == 0 {
		return nil
	}
	dir := hs[0].parent
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lock cgroup parent %s: %w", dir, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s is locked; give each server its own --cgroup-parent", ErrParentInUse, dir)
		}
		return fmt.Errorf("lock cgroup parent %s: %w", dir, err)
	}
	m.lockFD = fd
	return nil
}
