//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Group is the cgroup of one job: a directory named "rw-NAME" in each
// hierarchy the Manager uses. Its methods are safe for concurrent use.
type Group struct {
	m    *Manager
	name string
	// v2 is the group's directory in the cgroup2 hierarchy, or "".
	v2 string
	// v1 are its directories in m.v1, index for index; "" where Create
	// did not make one.
	v1 []string

	mu sync.Mutex
	// forks are closed, one per Start through v1 cgroups, once Start's
	// forking thread has left the group (see awaitForks).
	forks []chan struct{}
}

// Name returns the name of the group's directories: "rw-" plus the name
// given to Create.
func (g *Group) Name() string { return g.name }

// v1Dir returns the group's directory in the v1 hierarchy that carries
// controller c, or "".
func (g *Group) v1Dir(c string) string {
	for i, h := range g.m.v1 {
		if h.has(c) {
			return g.v1[i]
		}
	}
	return ""
}

// dirs returns every directory of the group.
func (g *Group) dirs() []string {
	var out []string
	if g.v2 != "" {
		out = append(out, g.v2)
	}
	for _, d := range g.v1 {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// Create makes the cgroup "rw-NAME" in each hierarchy and writes the
// limits l into it. On any error it removes what it made. name is one path
// element of letters, digits, '.', '_' and '-' (a job id, say). A group of
// that name that exists already is an error wrapping fs.ErrExist: a server
// that died left it, and Cleanup removes it. In ModeNone, Create returns an
// error wrapping ErrUnavailable; a limit whose controller is missing gives
// ErrNoController.
func (m *Manager) Create(name string, l Limits) (*Group, error) {
	if m.mode == ModeNone {
		return nil, fmt.Errorf("create cgroup for %q: %w: %s", name, ErrUnavailable, m.Reason())
	}
	if !validName(name) {
		return nil, fmt.Errorf("create cgroup for %q: the name is not one path element of letters, digits, '.', '_' and '-'", name)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("create cgroup for %q: %w", name, err)
	}
	if err := m.supports(l); err != nil {
		return nil, fmt.Errorf("create cgroup for %q: %w", name, err)
	}
	g := &Group{m: m, name: jobPrefix + name, v1: make([]string, len(m.v1))}
	err := g.make(l)
	if err == nil {
		err = g.writeLimits(l)
	}
	if err != nil {
		if rerr := g.Remove(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create cgroup %s: %w (left by an earlier server: Cleanup removes it)", g.name, err)
		}
		return nil, fmt.Errorf("create cgroup %s: %w", g.name, err)
	}
	return g, nil
}

// make creates the group's directories, recording each one made, so that
// Remove never touches a directory Create did not make. It leaves out the
// v1 hierarchies that l and the mode do not need: each costs a directory
// made and removed and a move of the forking thread in and out per job.
func (g *Group) make(l Limits) error {
	if g.m.v2 != nil {
		dir := filepath.Join(g.m.v2.parent, g.name)
		if _, err := g.m.mkdir(dir); err != nil {
			return err
		}
		g.v2 = dir
	}
	for i, h := range g.m.v1 {
		if !g.m.needs(h, l) {
			continue
		}
		dir := filepath.Join(h.parent, g.name)
		if _, err := g.m.mkdir(dir); err != nil {
			return err
		}
		g.v1[i] = dir
	}
	return nil
}

// needs reports whether a job with limits l needs a directory in the v1
// hierarchy h: memory always (its peak and OOM kills are read there),
// cpu, pids and blkio for their limits, and cpuacct and the freezer only
// where no cgroup2 mount gives CPU usage and kill.
func (m *Manager) needs(h *hierarchy, l Limits) bool {
	return h.has("memory") ||
		h.has("cpu") && l.CPUs > 0 ||
		h.has("pids") && l.Pids > 0 ||
		h.has("blkio") && l.io() && len(m.devices) > 0 ||
		m.v2 == nil && (h.has("cpuacct") || h.has("freezer"))
}

// bindsCPU reports whether l's CPU limit can ever hold a job back: a
// quota of as many CPUs as the host can ever have (the default of rw
// serve's --job-cpus, say) never does, and is not written. The job still
// gets its cgroup in the cpu hierarchy (needs): that group, under the
// parent, is what the scheduler weighs as one against the server and the
// other jobs, however many threads the job runs, and what a cap an
// operator puts on the parent covers.
func (m *Manager) bindsCPU(l Limits) bool {
	return l.CPUs > 0 && (m.cpus == 0 || l.CPUs < float64(m.cpus))
}

// supports checks that every limit set in l has its controller here.
func (m *Manager) supports(l Limits) error {
	need := map[string]bool{
		"memory": l.MemoryBytes > 0,
		"cpu":    l.CPUs > 0,
		"pids":   l.Pids > 0,
		"io":     l.io() && len(m.devices) > 0,
	}
	var missing []string
	for _, c := range []string{"memory", "cpu", "pids", "io"} {
		if !need[c] {
			continue
		}
		if m.mode == ModeV2 && !m.v2Controllers[c] ||
			m.mode != ModeV2 && m.v1Hierarchy(v1Name(c)) == nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (%s)", ErrNoController, strings.Join(missing, ", "), m.Reason())
	}
	return nil
}

// v1Name is the v1 name of a cgroup2 controller.
func v1Name(c string) string {
	if c == "io" {
		return "blkio"
	}
	return c
}

// cpuPeriod is the CFS period, in microseconds, over which a CPU limit is
// enforced (the kernel's default); cpuMinQuota is the smallest quota the
// kernel accepts.
const (
	cpuPeriod   = 100000
	cpuMinQuota = 1000
)

// cpuQuota turns a number of CPUs into a CFS quota per cpuPeriod.
func cpuQuota(cpus float64) int64 {
	q := int64(math.Round(cpus * cpuPeriod))
	return max(q, cpuMinQuota)
}

// writeLimits writes the limits set in l; unset ones, and a CPU limit
// that cannot bind (bindsCPU), keep the kernel's default, which is no
// limit.
func (g *Group) writeLimits(l Limits) error {
	if g.m.mode == ModeV2 {
		return g.writeLimitsV2(l)
	}
	return g.writeLimitsV1(l)
}

func (g *Group) writeLimitsV2(l Limits) error {
	w := func(file, value string) error { return writeFile(filepath.Join(g.v2, file), value) }
	if l.MemoryBytes > 0 {
		if err := w("memory.max", strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
		// Without this the group could go on past its limit in swap.
		if exists(filepath.Join(g.v2, "memory.swap.max")) {
			if err := w("memory.swap.max", "0"); err != nil {
				return err
			}
		}
	}
	if g.m.bindsCPU(l) {
		if err := w("cpu.max", fmt.Sprintf("%d %d", cpuQuota(l.CPUs), cpuPeriod)); err != nil {
			return err
		}
	}
	if l.Pids > 0 {
		if err := w("pids.max", strconv.FormatInt(l.Pids, 10)); err != nil {
			return err
		}
	}
	if l.io() {
		for _, dev := range g.m.devices {
			// One device per write: the kernel parses one line at a time.
			line := dev
			if l.IOReadBytesPerSec > 0 {
				line += " rbps=" + strconv.FormatInt(l.IOReadBytesPerSec, 10)
			}
			if l.IOWriteBytesPerSec > 0 {
				line += " wbps=" + strconv.FormatInt(l.IOWriteBytesPerSec, 10)
			}
			if err := w("io.max", line); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *Group) writeLimitsV1(l Limits) error {
	if l.MemoryBytes > 0 {
		dir := g.v1Dir("memory")
		limit := strconv.FormatInt(l.MemoryBytes, 10)
		if err := writeFile(filepath.Join(dir, "memory.limit_in_bytes"), limit); err != nil {
			return err
		}
		// memsw is memory plus swap: equal to the memory limit, it
		// allows no swap. It must be written after memory.limit_in_bytes,
		// which may never exceed it.
		if exists(filepath.Join(dir, "memory.memsw.limit_in_bytes")) {
			if err := writeFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), limit); err != nil {
				return err
			}
		}
	}
	if g.m.bindsCPU(l) {
		dir := g.v1Dir("cpu")
		if err := writeFile(filepath.Join(dir, "cpu.cfs_period_us"), strconv.Itoa(cpuPeriod)); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatInt(cpuQuota(l.CPUs), 10)); err != nil {
			return err
		}
	}
	if l.Pids > 0 {
		if err := writeFile(filepath.Join(g.v1Dir("pids"), "pids.max"), strconv.FormatInt(l.Pids, 10)); err != nil {
			return err
		}
	}
	if l.io() {
		dir := g.v1Dir("blkio")
		for _, dev := range g.m.devices {
			if l.IOReadBytesPerSec > 0 {
				if err := writeFile(filepath.Join(dir, "blkio.throttle.read_bps_device"),
					dev+" "+strconv.FormatInt(l.IOReadBytesPerSec, 10)); err != nil {
					return err
				}
			}
			if l.IOWriteBytesPerSec > 0 {
				if err := writeFile(filepath.Join(dir, "blkio.throttle.write_bps_device"),
					dev+" "+strconv.FormatInt(l.IOWriteBytesPerSec, 10)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Remove removes the group's directory in every hierarchy, retrying
// briefly while the kernel still counts a process that just died. It
// removes nothing else, fails while live processes remain (Kill and
// WaitEmpty first), and is idempotent.
func (g *Group) Remove() error {
	g.awaitForks()
	var errs []error
	for _, dir := range g.dirs() {
		if err := g.m.rmdir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove cgroup %s: %w", g.name, err)
	}
	return nil
}

// Close removes the parent directories Open created, where no job cgroup
// is left in them. A parent that existed before Open is kept: it may hold
// another server's groups. In ModeV2 the server stays in its leaf, since
// the controllers enabled in its cgroup keep it from going back.
func (m *Manager) Close() error {
	if m.lockFD > 0 {
		unix.Close(m.lockFD)
		m.lockFD = 0
	}
	var errs []error
	for _, h := range m.hierarchies() {
		if h.madeParent {
			if err := m.rmdir(h.parent); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// hierarchies returns every hierarchy m uses.
func (m *Manager) hierarchies() []*hierarchy {
	var out []*hierarchy
	if m.v2 != nil {
		out = append(out, m.v2)
	}
	return append(out, m.v1...)
}
