//go:build linux

package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// v1Controllers are the v1 controllers rw uses: limits (memory, cpu, pids,
// blkio), CPU usage (cpuacct) and the kill loop (freezer). Hierarchies with
// none of these (cpuset, devices, name=systemd, ...) are left alone, and a
// job's processes stay in the server's cgroups there.
var v1Controllers = []string{"cpu", "cpuacct", "memory", "pids", "blkio", "freezer"}

// v2Controllers are the cgroup2 controllers rw enables for job cgroups.
var v2Controllers = []string{"cpu", "memory", "pids", "io"}

// hierarchy is one mounted cgroup hierarchy that rw uses.
type hierarchy struct {
	v2 bool
	// controllers are the controllers of v1Controllers this mount has.
	controllers []string
	// mount is where it is mounted, under Config.Root; mountRoot is the
	// cgroup that mount shows as its top (mountinfo's fourth field).
	mount, mountRoot string
	// own is the server's cgroup in this hierarchy, as /proc/self/cgroup
	// names it.
	own string
	// parent is the directory that holds the job cgroups; madeParent says
	// Open created it (and so Close may remove it).
	parent     string
	madeParent bool
}

// has reports whether the hierarchy carries controller c.
func (h *hierarchy) has(c string) bool { return slices.Contains(h.controllers, c) }

// dir maps a cgroup path, as /proc/PID/cgroup names it, to its directory.
// It fails for a cgroup outside what the mount shows.
func (h *hierarchy) dir(cg string) (string, error) {
	rel := cg
	if h.mountRoot != "/" {
		if cg != h.mountRoot && !strings.HasPrefix(cg, h.mountRoot+"/") {
			return "", fmt.Errorf("cgroup %s is outside the part %s of the hierarchy mounted at %s", cg, h.mountRoot, h.mount)
		}
		rel = strings.TrimPrefix(cg, h.mountRoot)
	}
	return filepath.Join(h.mount, rel), nil
}

// name is how Reason and errors name the hierarchy.
func (h *hierarchy) name() string {
	if h.v2 {
		return "cgroup2"
	}
	return strings.Join(h.controllers, ",")
}

// mountEntry is one line of /proc/self/mountinfo, the parts that matter.
type mountEntry struct {
	dev, root, point, fstype string
	superOpts                []string
}

// readMountinfo parses a mountinfo file: "ID PARENT MAJ:MIN ROOT POINT
// OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS".
func readMountinfo(file string) ([]mountEntry, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []mountEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 {
			continue
		}
		out = append(out, mountEntry{
			dev:       fields[2],
			root:      unescapeMount(fields[3]),
			point:     unescapeMount(fields[4]),
			fstype:    fields[sep+1],
			superOpts: strings.Split(fields[sep+3], ","),
		})
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes of space, tab, newline
// and backslash ("\040").
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procCgroup is one line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH", with
// ID 0 and no controllers for cgroup2.
type procCgroup struct {
	v2          bool
	controllers []string
	path        string
}

func readProcCgroup(file string) ([]procCgroup, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []procCgroup
	for line := range strings.Lines(string(data)) {
		parts := strings.SplitN(strings.TrimSuffix(line, "\n"), ":", 3)
		if len(parts) != 3 {
			continue
		}
		e := procCgroup{path: parts[2]}
		if parts[0] == "0" && parts[1] == "" {
			e.v2 = true
		} else {
			e.controllers = strings.Split(parts[1], ",")
		}
		out = append(out, e)
	}
	return out, nil
}

// cgroupOf finds h's line among a process's cgroups.
func cgroupOf(cgs []procCgroup, h *hierarchy) (string, bool) {
	for _, c := range cgs {
		if c.v2 != h.v2 {
			continue
		}
		if h.v2 || slices.Contains(c.controllers, h.controllers[0]) {
			return c.path, true
		}
	}
	return "", false
}

// detect finds the hierarchies, sets them up and settles the mode. Every
// obstacle becomes a note for Reason; none is an error, since the caller's
// answer to all of them is the same: run without cgroups.
func (m *Manager) detect() {
	mounts, err := readMountinfo(m.path("/proc/self/mountinfo"))
	if err != nil {
		m.note("cannot read the mount table: %v", err)
		return
	}
	self, err := readProcCgroup(m.path("/proc/self/cgroup"))
	if err != nil {
		m.note("cannot read this process's cgroups: %v", err)
		return
	}
	var v2 *hierarchy
	var v1 []*hierarchy
	seen := map[string]bool{}
	for _, e := range mounts {
		var h *hierarchy
		switch {
		case e.fstype == "cgroup2" && v2 == nil && m.cfg.only != "v1":
			h = &hierarchy{v2: true}
		case e.fstype == "cgroup" && m.cfg.only != "v2":
			var ctl []string
			for _, c := range v1Controllers {
				if slices.Contains(e.superOpts, c) {
					ctl = append(ctl, c)
				}
			}
			if len(ctl) == 0 || seen[e.dev] {
				continue
			}
			seen[e.dev] = true
			h = &hierarchy{controllers: ctl}
		default:
			continue
		}
		h.mount, h.mountRoot = m.path(e.point), e.root
		own, ok := cgroupOf(self, h)
		if !ok {
			continue
		}
		h.own = own
		if h.v2 {
			v2 = h
		} else {
			v1 = append(v1, h)
		}
	}
	if v2 == nil && len(v1) == 0 {
		m.note("no cgroup filesystem is mounted")
		return
	}
	if v2 != nil && !kernelAtLeast(5, 7) {
		m.note("the cgroup2 mount is not used: the kernel is older than 5.7, which placement needs (CLONE_INTO_CGROUP)")
		v2 = nil
	}
	if v2 != nil {
		if len(v1) == 0 {
			err = m.setupV2(v2)
		} else {
			err = m.makeParent(v2)
		}
		if err != nil {
			m.note("the cgroup2 mount is not used: %v", err)
			v2 = nil
		}
	}
	v2Stops := false // the cgroup2 mount can kill or freeze a group
	if v2 != nil {
		m.v2 = v2
		m.v2Kill = !m.cfg.noKill && exists(filepath.Join(v2.parent, "cgroup.kill"))
		v2Stops = m.v2Kill || exists(filepath.Join(v2.parent, "cgroup.freeze"))
	}
	for _, h := range v1 {
		if v2Stops && len(h.controllers) == 1 && h.has("freezer") {
			continue // a freezer-only hierarchy would add nothing
		}
		if err := m.makeParent(h); err != nil {
			m.note("the %s hierarchy is not used: %v", h.name(), err)
			continue
		}
		m.v1 = append(m.v1, h)
	}
	switch {
	case m.v2 != nil && len(m.v1) > 0:
		m.mode = ModeHybrid
	case m.v2 != nil:
		m.mode = ModeV2
	case len(m.v1) > 0:
		m.mode = ModeV1
	default:
		m.note("run rw serve as root, or as a systemd service with Delegate=yes")
		return
	}
	if !v2Stops && m.v1Hierarchy("freezer") == nil {
		m.note("kill is best effort: the kernel has no cgroup.kill (5.14) and no freezer to stop forks while it kills")
	}
	m.noteMissing()
}

// noteMissing tells, through Reason, which limits are off for want of a
// controller.
func (m *Manager) noteMissing() {
	if m.mode == ModeV2 {
		for _, c := range v2Controllers {
			if !m.v2Controllers[c] {
				m.note("%s limits off: the %s controller is not delegated to this cgroup", c, c)
			}
		}
		return
	}
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids", "blkio"} {
		if m.v1Hierarchy(c) == nil {
			m.note("%s off: no %s controller is mounted", v1What[c], c)
		}
	}
}

// v1What says what each v1 controller is for, in Reason's words.
var v1What = map[string]string{
	"memory":  "memory limits",
	"cpu":     "CPU limits",
	"cpuacct": "CPU usage",
	"pids":    "pids limits",
	"blkio":   "IO limits",
}

// v1Hierarchy returns the v1 hierarchy with controller c, or nil.
func (m *Manager) v1Hierarchy(c string) *hierarchy {
	for _, h := range m.v1 {
		if h.has(c) {
			return h
		}
	}
	return nil
}

// makeParent creates the parent of the job cgroups under the server's own
// cgroup in h. An existing parent, left by an earlier server, is reused.
func (m *Manager) makeParent(h *hierarchy) error {
	own, err := h.dir(h.own)
	if err != nil {
		return err
	}
	h.parent = filepath.Join(own, m.cfg.Parent)
	made, err := m.mkdir(h.parent)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if !made {
		// Made by another user (a server run as root once, say): this
		// server could neither lock it nor make job cgroups in it, so
		// the hierarchy is not usable, as when it cannot be made.
		if err := unix.Access(h.parent, unix.R_OK|unix.W_OK|unix.X_OK); err != nil {
			return fmt.Errorf("%s exists and this user cannot write it: %w", h.parent, err)
		}
	}
	h.madeParent = made
	return nil
}

// setupV2 lays out the server's own cgroup OWN in ModeV2: the server's
// processes move to the leaf OWN/server, the controllers are enabled in
// OWN and in OWN/PARENT, and job cgroups go in OWN/PARENT. Nothing above
// OWN is written: enabling controllers there is the job of whoever
// delegated OWN (systemd's Delegate=yes).
func (m *Manager) setupV2(h *hierarchy) error {
	if path.Base(h.own) == serverLeaf {
		// A second Open in the same process: the server is already in
		// its leaf, and OWN is the leaf's parent.
		h.own = path.Dir(h.own)
	}
	own, err := h.dir(h.own)
	if err != nil {
		return err
	}
	var want []string
	if have, err := os.ReadFile(filepath.Join(own, "cgroup.controllers")); err == nil {
		want = intersect(strings.Fields(string(have)), v2Controllers)
	}
	// The root cgroup is exempt from the no-internal-process rule, and
	// its processes (init, kernel threads) are not the server's to move.
	isRoot := filepath.Clean(own) == filepath.Clean(h.mount)
	leaf := filepath.Join(own, serverLeaf)
	if !isRoot {
		if _, err := m.mkdir(leaf); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	if len(want) > 0 {
		enable := "+" + strings.Join(want, " +")
		for try := 0; ; try++ {
			if !isRoot {
				if err := moveProcs(own, leaf); err != nil {
					return err
				}
			}
			err = writeFile(filepath.Join(own, "cgroup.subtree_control"), enable)
			// EBUSY: a process arrived in OWN between the move and the
			// write (the server forked); move it too and try again.
			if err == nil || !errors.Is(err, unix.EBUSY) || isRoot || try == 5 {
				break
			}
		}
		if err != nil {
			m.note("limits off: cannot enable the controllers in %s: %v (run rw serve as a systemd service with Delegate=yes)", own, err)
			want = nil
		}
	} else if !isRoot {
		if err := moveProcs(own, leaf); err != nil {
			return err
		}
	}
	if err := m.makeParent(h); err != nil {
		return err
	}
	m.v2Controllers = map[string]bool{}
	if len(want) > 0 {
		have, _ := os.ReadFile(filepath.Join(h.parent, "cgroup.controllers"))
		want = intersect(strings.Fields(string(have)), want)
		if len(want) > 0 {
			if err := writeFile(filepath.Join(h.parent, "cgroup.subtree_control"), "+"+strings.Join(want, " +")); err != nil {
				m.note("limits off: cannot enable the controllers in %s: %v", h.parent, err)
				want = nil
			}
		}
	}
	for _, c := range want {
		m.v2Controllers[c] = true
	}
	return nil
}

// moveProcs moves every process of cgroup from into cgroup to. In cgroup2
// a process moves with all its threads.
func moveProcs(from, to string) error {
	pids, err := readPids(filepath.Join(from, "cgroup.procs"))
	if err != nil {
		return err
	}
	for _, pid := range pids {
		err := writeFile(filepath.Join(to, "cgroup.procs"), strconv.Itoa(pid))
		if err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("move process %d into %s: %w", pid, to, err)
		}
	}
	return nil
}

// intersect returns the elements of want that are in have, in want's order.
func intersect(have, want []string) []string {
	var out []string
	for _, w := range want {
		if slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor. An unreadable release counts as new enough: the features
// that need it then fail on use, with the kernel's own error.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return true
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return true
	}
	maj, err1 := strconv.Atoi(leadingDigits(parts[0]))
	min, err2 := strconv.Atoi(leadingDigits(parts[1]))
	if err1 != nil || err2 != nil {
		return true
	}
	return maj > major || maj == major && min >= minor
}

// leadingDigits returns the digits s starts with: "7-rc1" gives "7".
func leadingDigits(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		return s
	}
	return s[:i]
}

// possibleCPUs counts the CPUs in a CPU list file such as
// /sys/devices/system/cpu/possible ("0-3,8-11"): every CPU the host can
// have, hot-plugged or not. It returns 0 when the file cannot be read or
// parsed.
func possibleCPUs(file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	n := 0
	for part := range strings.SplitSeq(strings.TrimSpace(string(data)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || b < a {
			return 0
		}
		n += b - a + 1
	}
	return n
}
