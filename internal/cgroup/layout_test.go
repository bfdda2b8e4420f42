package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The tests in this file run the package against fake cgroup trees (see
// fakeKernel), so they check the v2, v1 and hybrid layouts on any host and
// as any user.

const v2Mountinfo = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
28 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

// fakeV2 lays out a unified hierarchy in which the server runs in the
// cgroup own, delegated with the controllers ownControllers, alongside
// two other processes of its unit.
func fakeV2(t *testing.T, own, ownControllers string) *fakeKernel {
	t.Helper()
	k := &fakeKernel{t: t, root: t.TempDir(), mounts: map[string][]string{"sys/fs/cgroup": {"cgroup2"}}}
	writeTestFile(t, filepath.Join(k.root, "proc/self/mountinfo"), v2Mountinfo)
	writeTestFile(t, filepath.Join(k.root, "proc/self/cgroup"), "0::"+own+"\n")
	k.cgroup("sys/fs/cgroup", map[string]string{
		"cgroup.controllers":     "cpuset cpu io memory hugetlb pids\n",
		"cgroup.subtree_control": "cpu io memory pids\n",
		"cgroup.procs":           "1\n",
	})
	k.cgroup("sys/fs/cgroup/system.slice", map[string]string{
		"cgroup.controllers":     "cpu io memory pids\n",
		"cgroup.subtree_control": "cpu io memory pids\n",
		"cgroup.procs":           "",
	})
	if own != "/" {
		k.cgroup("sys/fs/cgroup"+own, map[string]string{
			"cgroup.controllers":     ownControllers,
			"cgroup.subtree_control": "",
			"cgroup.procs":           "4242\n4243\n",
		})
	}
	fakeBlock(t, k.root)
	return k
}

const v1Mountinfo = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,name=systemd
27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
28 25 0:25 /docker/abc /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,pids
30 25 0:27 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,blkio
31 25 0:28 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,freezer
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset
33 1 0:25 /docker/abc /mnt/memory\040again rw,relatime shared:11 - cgroup cgroup rw,memory
`

const v1ProcCgroup = `12:cpuset:/
11:memory:/docker/abc/svc
10:pids:/svc
9:blkio:/svc
8:freezer:/svc
7:cpu,cpuacct:/svc
1:name=systemd:/svc
0::/svc
`

// fakeV1 lays out v1 hierarchies as a Docker-era host has them: cpu and
// cpuacct mounted together, the memory hierarchy mounted twice and showing
// only a part of itself, and hierarchies rw leaves alone. With unified, a
// cgroup2 mount without controllers is added: the hybrid layout.
func fakeV1(t *testing.T, unified bool) *fakeKernel {
	t.Helper()
	k := &fakeKernel{t: t, root: t.TempDir(), mounts: map[string][]string{
		"sys/fs/cgroup/cpu,cpuacct": {"cpu", "cpuacct"},
		"sys/fs/cgroup/memory":      {"memory"},
		"sys/fs/cgroup/pids":        {"pids"},
		"sys/fs/cgroup/blkio":       {"blkio"},
		"sys/fs/cgroup/freezer":     {"freezer"},
	}}
	mountinfo := v1Mountinfo
	for _, dir := range []string{"cpu,cpuacct/svc", "memory/svc", "pids/svc", "blkio/svc", "freezer/svc", "cpuset", "systemd/svc"} {
		k.cgroup("sys/fs/cgroup/"+dir, map[string]string{"cgroup.procs": "4242\n", "tasks": "4242\n"})
	}
	if unified {
		k.mounts["sys/fs/cgroup/unified"] = []string{"cgroup2"}
		mountinfo += "34 25 0:30 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:16 - cgroup2 cgroup2 rw\n"
		k.cgroup("sys/fs/cgroup/unified/svc", map[string]string{
			"cgroup.controllers":     "",
			"cgroup.subtree_control": "",
			"cgroup.procs":           "4242\n",
		})
	}
	writeTestFile(t, filepath.Join(k.root, "proc/self/mountinfo"), mountinfo)
	writeTestFile(t, filepath.Join(k.root, "proc/self/cgroup"), v1ProcCgroup)
	fakeBlock(t, k.root)
	return k
}

func openFake(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

// allLimits sets every limit, with values that are easy to spot.
var allLimits = Limits{MemoryBytes: 64 << 20, CPUs: 1.5, Pids: 100, IOReadBytesPerSec: 1000, IOWriteBytesPerSec: 2000}

func TestOpenV2Layout(t *testing.T) {
	k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
	m := openFake(t, k.config("rw"))
	if got := m.Mode(); got != ModeV2 {
		t.Fatalf("Mode() = %q, want %q (reason %q)", got, ModeV2, m.Reason())
	}
	if got := m.Reason(); got != "" {
		t.Errorf("Reason() = %q, want none", got)
	}
	cg := filepath.Join(k.root, "sys/fs/cgroup")
	own := filepath.Join(cg, "system.slice/rw.service")
	for file, want := range map[string]string{
		// Every process of the server's cgroup moves to the leaf...
		filepath.Join(own, "server/cgroup.procs"): "4242\n4243\n",
		// ...so that the controllers can be enabled in OWN and OWN/rw.
		filepath.Join(own, "cgroup.subtree_control"):    "+cpu +memory +pids +io\n",
		filepath.Join(own, "rw/cgroup.subtree_control"): "+cpu +memory +pids +io\n",
		// Nothing above OWN is written.
		filepath.Join(cg, "system.slice/cgroup.subtree_control"): "cpu io memory pids\n",
		filepath.Join(cg, "cgroup.subtree_control"):              "cpu io memory pids\n",
	} {
		if got := readFile(t, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if want := []string{"259:0", "8:0", "254:0"}; !slices.Equal(m.devices, want) {
		t.Errorf("devices = %q, want %q", m.devices, want)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if exists(filepath.Join(own, "rw")) {
		t.Errorf("Close left the parent %s", filepath.Join(own, "rw"))
	}
}

func TestOpenV2Twice(t *testing.T) {
	// A second Open in the same process finds the server in its leaf
	// already, and must not nest another leaf in it.
	k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
	openFake(t, k.config("rw"))
	writeTestFile(t, filepath.Join(k.root, "proc/self/cgroup"), "0::/system.slice/rw.service/server\n")
	m := openFake(t, k.config("rwtwo"))
	own := filepath.Join(k.root, "sys/fs/cgroup/system.slice/rw.service")
	if m.Mode() != ModeV2 {
		t.Fatalf("Mode() = %q, want %q (reason %q)", m.Mode(), ModeV2, m.Reason())
	}
	if got, want := m.v2.parent, filepath.Join(own, "rwtwo"); got != want {
		t.Errorf("parent = %s, want %s", got, want)
	}
	if exists(filepath.Join(own, "server/server")) {
		t.Errorf("a second leaf was nested in the first")
	}
}

func TestOpenV2AtRoot(t *testing.T) {
	// In the root cgroup (a container with its own cgroup namespace) the
	// server stays where it is: the root is exempt from the
	// no-internal-process rule, and its other processes are not ours.
	k := fakeV2(t, "/", "")
	m := openFake(t, k.config("rw"))
	cg := filepath.Join(k.root, "sys/fs/cgroup")
	if m.Mode() != ModeV2 {
		t.Fatalf("Mode() = %q, want %q (reason %q)", m.Mode(), ModeV2, m.Reason())
	}
	if exists(filepath.Join(cg, "server")) {
		t.Errorf("a server leaf was made in the root cgroup")
	}
	if got, want := readFile(t, filepath.Join(cg, "rw/cgroup.subtree_control")), "+cpu +memory +pids +io\n"; got != want {
		t.Errorf("rw/cgroup.subtree_control = %q, want %q", got, want)
	}
}

func TestOpenV2MissingControllers(t *testing.T) {
	k := fakeV2(t, "/system.slice/rw.service", "memory pids\n")
	m := openFake(t, k.config("rw"))
	for _, want := range []string{"cpu limits off", "io limits off"} {
		if !strings.Contains(m.Reason(), want) {
			t.Errorf("Reason() = %q, want it to say %q", m.Reason(), want)
		}
	}
	own := filepath.Join(k.root, "sys/fs/cgroup/system.slice/rw.service")
	if got, want := readFile(t, filepath.Join(own, "cgroup.subtree_control")), "+memory +pids\n"; got != want {
		t.Errorf("cgroup.subtree_control = %q, want %q", got, want)
	}
	_, err := m.Create("1", Limits{CPUs: 1})
	if !errors.Is(err, ErrNoController) {
		t.Errorf("Create with a CPU limit: err = %v, want ErrNoController", err)
	}
	if exists(filepath.Join(m.v2.parent, "rw-1")) {
		t.Errorf("a refused Create left its directory")
	}
	g, err := m.Create("2", Limits{MemoryBytes: 1 << 30})
	if err != nil {
		t.Fatalf("Create with a memory limit: %v", err)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
}

func TestCreateV2Limits(t *testing.T) {
	tests := []struct {
		name   string
		noSwap bool
		limits Limits
		want   map[string]string
	}{
		{"all", false, allLimits, map[string]string{
			"memory.max":      "67108864\n",
			"memory.swap.max": "0\n",
			"cpu.max":         "150000 100000\n",
			"pids.max":        "100\n",
			"io.max":          "259:0 rbps=1000 wbps=2000\n8:0 rbps=1000 wbps=2000\n254:0 rbps=1000 wbps=2000\n",
		}},
		{"none", false, Limits{}, map[string]string{
			"memory.max": "", "memory.swap.max": "", "cpu.max": "", "pids.max": "", "io.max": "",
		}},
		{"no swap file", true, Limits{MemoryBytes: 1 << 20}, map[string]string{
			"memory.max": "1048576\n",
		}},
		{"tiny CPU share", false, Limits{CPUs: 0.001}, map[string]string{"cpu.max": "1000 100000\n"}},
		{"read only", false, Limits{IOReadBytesPerSec: 5}, map[string]string{
			"io.max": "259:0 rbps=5\n8:0 rbps=5\n254:0 rbps=5\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
			k.noSwap = tt.noSwap
			m := openFake(t, k.config("rw"))
			g, err := m.Create("7", tt.limits)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if got, want := g.v2, filepath.Join(m.v2.parent, "rw-7"); got != want {
				t.Fatalf("group directory = %s, want %s", got, want)
			}
			for file, want := range tt.want {
				if got := readFile(t, filepath.Join(g.v2, file)); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
			if tt.noSwap && exists(filepath.Join(g.v2, "memory.swap.max")) {
				t.Errorf("memory.swap.max was created")
			}
		})
	}
}

func TestCreateV1Limits(t *testing.T) {
	for _, noSwap := range []bool{false, true} {
		k := fakeV1(t, false)
		k.noSwap = noSwap
		m := openFake(t, k.config("rw"))
		g, err := m.Create("7", allLimits)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		cg := filepath.Join(k.root, "sys/fs/cgroup")
		if got, want := g.v1Dir("memory"), filepath.Join(cg, "memory/svc/rw/rw-7"); got != want {
			t.Errorf("memory directory = %s, want %s", got, want)
		}
		want := map[string]string{
			"memory/svc/rw/rw-7/memory.limit_in_bytes":          "67108864\n",
			"cpu,cpuacct/svc/rw/rw-7/cpu.cfs_period_us":         "100000\n",
			"cpu,cpuacct/svc/rw/rw-7/cpu.cfs_quota_us":          "150000\n",
			"pids/svc/rw/rw-7/pids.max":                         "100\n",
			"blkio/svc/rw/rw-7/blkio.throttle.read_bps_device":  "259:0 1000\n8:0 1000\n254:0 1000\n",
			"blkio/svc/rw/rw-7/blkio.throttle.write_bps_device": "259:0 2000\n8:0 2000\n254:0 2000\n",
			"memory/svc/rw/rw-7/memory.memsw.limit_in_bytes":    "67108864\n",
			"freezer/svc/rw/rw-7/freezer.state":                 "",
			"cpu,cpuacct/svc/rw/rw-7/cpuacct.usage":             "0\n",
			"memory/svc/rw/rw-7/memory.max_usage_in_bytes":      "0\n",
			"memory/svc/rw/rw-7/memory.oom_control":             "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
			"blkio/svc/rw/rw-7/tasks":                           "",
		}
		if noSwap {
			delete(want, "memory/svc/rw/rw-7/memory.memsw.limit_in_bytes")
			if exists(filepath.Join(cg, "memory/svc/rw/rw-7/memory.memsw.limit_in_bytes")) {
				t.Errorf("noSwap: memory.memsw.limit_in_bytes was created")
			}
		}
		for file, want := range want {
			if got := readFile(t, filepath.Join(cg, file)); got != want {
				t.Errorf("noSwap=%v: %s = %q, want %q", noSwap, file, got, want)
			}
		}
	}
}

func TestOpenV1Layout(t *testing.T) {
	k := fakeV1(t, false)
	m := openFake(t, k.config("rw"))
	if got := m.Mode(); got != ModeV1 {
		t.Fatalf("Mode() = %q, want %q (reason %q)", got, ModeV1, m.Reason())
	}
	if got := m.Reason(); got != "" {
		t.Errorf("Reason() = %q, want none", got)
	}
	cg := filepath.Join(k.root, "sys/fs/cgroup")
	// The memory mount shows /docker/abc as its top, so the server's
	// /docker/abc/svc is svc under the mount.
	for _, dir := range []string{"cpu,cpuacct/svc/rw", "memory/svc/rw", "pids/svc/rw", "blkio/svc/rw", "freezer/svc/rw"} {
		if !exists(filepath.Join(cg, dir)) {
			t.Errorf("parent %s was not made", dir)
		}
	}
	for _, dir := range []string{"cpuset/rw", "systemd/svc/rw", "memory/docker", "svc/server"} {
		if exists(filepath.Join(cg, dir)) {
			t.Errorf("%s was made; rw leaves that hierarchy alone", dir)
		}
	}
	if n := len(m.v1); n != 5 {
		t.Errorf("%d v1 hierarchies used, want 5 (the memory mount seen twice counts once)", n)
	}
}

func TestOpenHybridLayout(t *testing.T) {
	k := fakeV1(t, true)
	m := openFake(t, k.config("rw"))
	if got := m.Mode(); got != ModeHybrid {
		t.Fatalf("Mode() = %q, want %q (reason %q)", got, ModeHybrid, m.Reason())
	}
	cg := filepath.Join(k.root, "sys/fs/cgroup")
	if !exists(filepath.Join(cg, "unified/svc/rw")) {
		t.Errorf("no parent in the cgroup2 mount")
	}
	// No controllers in the cgroup2 mount: nothing to enable, no rule
	// to obey, and the server stays where it is.
	if got := readFile(t, filepath.Join(cg, "unified/svc/cgroup.subtree_control")); got != "" {
		t.Errorf("unified/svc/cgroup.subtree_control = %q, want it untouched", got)
	}
	if exists(filepath.Join(cg, "unified/svc/server")) {
		t.Errorf("a server leaf was made in hybrid mode")
	}
	// cgroup.kill kills, so the freezer hierarchy is not needed.
	if exists(filepath.Join(cg, "freezer/svc/rw")) {
		t.Errorf("a parent was made in the freezer hierarchy")
	}
	g, err := m.Create("3", Limits{MemoryBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.v2, filepath.Join(cg, "unified/svc/rw/rw-3"); got != want {
		t.Errorf("cgroup2 directory = %s, want %s", got, want)
	}
	if got := readFile(t, filepath.Join(cg, "memory/svc/rw/rw-3/memory.limit_in_bytes")); got != "1048576\n" {
		t.Errorf("memory.limit_in_bytes = %q", got)
	}
}

func TestOpenOnly(t *testing.T) {
	// Config.only lets the tests run the v1 and v2 code on a hybrid host.
	for only, want := range map[string]Mode{"v1": ModeV1, "v2": ModeV2} {
		k := fakeV1(t, true)
		cfg := k.config("rw")
		cfg.only = only
		if got := openFake(t, cfg).Mode(); got != want {
			t.Errorf("only %s: Mode() = %q, want %q", only, got, want)
		}
	}
}

func TestOpenNone(t *testing.T) {
	noMounts := &fakeKernel{t: t, root: t.TempDir()}
	writeTestFile(t, filepath.Join(noMounts.root, "proc/self/mountinfo"), "22 1 0:21 / /sys rw - sysfs sysfs rw\n")
	writeTestFile(t, filepath.Join(noMounts.root, "proc/self/cgroup"), "0::/\n")
	// The server's cgroup directories do not exist (a file system that
	// refuses mkdir, as for a user who is not root).
	unwritable := fakeV1(t, false)
	for _, dir := range []string{"cpu,cpuacct", "memory", "pids", "blkio", "freezer"} {
		if err := os.RemoveAll(filepath.Join(unwritable.root, "sys/fs/cgroup", dir, "svc")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		k    *fakeKernel
		want string
	}{
		{"no cgroup mount", noMounts, "no cgroup filesystem is mounted"},
		{"no procfs", &fakeKernel{t: t, root: t.TempDir()}, "cannot read the mount table"},
		{"mkdir fails", unwritable, "run rw serve as root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := openFake(t, tt.k.config(""))
			if m.Mode() != ModeNone {
				t.Fatalf("Mode() = %q, want %q", m.Mode(), ModeNone)
			}
			if !strings.Contains(m.Reason(), tt.want) {
				t.Errorf("Reason() = %q, want it to say %q", m.Reason(), tt.want)
			}
			if _, err := m.Create("1", Limits{}); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Create: err = %v, want ErrUnavailable", err)
			}
			if k, r, err := m.Cleanup(); k != 0 || r != 0 || err != nil {
				t.Errorf("Cleanup() = %d, %d, %v; want 0, 0, nil", k, r, err)
			}
			if err := m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestOpenBadConfig(t *testing.T) {
	k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
	for _, cfg := range []Config{
		{Parent: "a/b"}, {Parent: ".."}, {Parent: "server"},
		{IODevices: []string{"nosuchdisk"}}, {IODevices: []string{"9:9"}}, {IODevices: []string{"../../etc"}},
	} {
		cfg.Root = k.root
		if _, err := Open(cfg); err == nil {
			t.Errorf("Open(Parent %q, IODevices %q) succeeded, want an error", cfg.Parent, cfg.IODevices)
		}
	}
}

func TestIODevices(t *testing.T) {
	root := t.TempDir()
	fakeBlock(t, root)
	m := &Manager{root: root}
	tests := []struct {
		spec []string
		want []string
	}{
		// loop0, zram0, ram0 and dm-0 (under /sys/devices/virtual) are
		// skipped; ReadDir's name order is kept.
		{nil, []string{"259:0", "8:0", "254:0"}},
		{[]string{"sda1"}, []string{"8:0"}},
		{[]string{"8:1"}, []string{"8:0"}},
		{[]string{"vda", "254:0", "sda"}, []string{"254:0", "8:0"}},
		{[]string{"loop0"}, []string{"7:0"}},
		{[]string{}, nil},
	}
	for _, tt := range tests {
		got, err := m.ioDevices(tt.spec)
		if err != nil {
			t.Errorf("ioDevices(%q): %v", tt.spec, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ioDevices(%q) = %q, want %q", tt.spec, got, tt.want)
		}
	}
	// No /sys/block at all: nothing to throttle, and Open says so.
	k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
	if err := os.RemoveAll(filepath.Join(k.root, "sys/block")); err != nil {
		t.Fatal(err)
	}
	m2 := openFake(t, k.config("rw"))
	if !strings.Contains(m2.Reason(), "IO limits off") {
		t.Errorf("Reason() = %q, want it to say IO limits are off", m2.Reason())
	}
	// An IO limit is then no error: there is nothing to throttle.
	if _, err := m2.Create("1", Limits{IOReadBytesPerSec: 1}); err != nil {
		t.Errorf("Create with an IO limit and no disk: %v", err)
	}
}

func TestCreateRefusals(t *testing.T) {
	k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
	m := openFake(t, k.config("rw"))
	for _, name := range []string{"", "a/b", "..", "x y"} {
		if _, err := m.Create(name, Limits{}); err == nil {
			t.Errorf("Create(%q) succeeded, want an error", name)
		}
	}
	for _, l := range []Limits{{MemoryBytes: -1}, {CPUs: -1}, {Pids: -1}, {IOWriteBytesPerSec: -1}} {
		if _, err := m.Create("1", l); err == nil {
			t.Errorf("Create with %+v succeeded, want an error", l)
		}
	}
	g, err := m.Create("1", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// A group of that name exists: the error says so, and the group
	// that was there is not touched.
	if _, err := m.Create("1", Limits{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create: err = %v, want fs.ErrExist", err)
	}
	if !exists(filepath.Join(g.v2, "cgroup.procs")) {
		t.Errorf("a refused second Create removed the first group")
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if exists(g.v2) {
		t.Errorf("Remove left %s", g.v2)
	}
	if err := g.Remove(); err != nil {
		t.Errorf("second Remove: %v, want nil", err)
	}
}

func TestUsageAndOOM(t *testing.T) {
	t.Run("v2", func(t *testing.T) {
		k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
		g, err := openFake(t, k.config("rw")).Create("1", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if g.OOMKilled() {
			t.Errorf("OOMKilled() with oom_kill 0 = true")
		}
		writeTestFile(t, filepath.Join(g.v2, "cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
		writeTestFile(t, filepath.Join(g.v2, "memory.peak"), "1234\n")
		writeTestFile(t, filepath.Join(g.v2, "memory.events"), "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n")
		checkUsage(t, g.Usage(), 2.5, 1234)
		if !g.OOMKilled() {
			t.Errorf("OOMKilled() with oom_kill 1 = false")
		}
		// A kernel without memory.peak (before 5.19) cannot say.
		os.Remove(filepath.Join(g.v2, "memory.peak"))
		if u := g.Usage(); u.MemoryPeakBytes != nil {
			t.Errorf("MemoryPeakBytes = %d without memory.peak, want nil", *u.MemoryPeakBytes)
		}
	})
	t.Run("v1", func(t *testing.T) {
		k := fakeV1(t, true)
		g, err := openFake(t, k.config("rw")).Create("1", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		cg := filepath.Join(k.root, "sys/fs/cgroup")
		writeTestFile(t, filepath.Join(cg, "cpu,cpuacct/svc/rw/rw-1/cpuacct.usage"), "1500000000\n")
		writeTestFile(t, filepath.Join(cg, "memory/svc/rw/rw-1/memory.max_usage_in_bytes"), "4096\n")
		checkUsage(t, g.Usage(), 1.5, 4096)
		if g.OOMKilled() {
			t.Errorf("OOMKilled() with oom_kill 0 = true")
		}
		writeTestFile(t, filepath.Join(cg, "memory/svc/rw/rw-1/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
		if !g.OOMKilled() {
			t.Errorf("OOMKilled() with oom_kill 2 = false")
		}
	})
}

func checkUsage(t *testing.T, u Usage, cpu float64, peak int64) {
	t.Helper()
	if u.CPUSeconds == nil || *u.CPUSeconds != cpu {
		t.Errorf("CPUSeconds = %v, want %v", fmtPtr(u.CPUSeconds), cpu)
	}
	if u.MemoryPeakBytes == nil || *u.MemoryPeakBytes != peak {
		t.Errorf("MemoryPeakBytes = %v, want %d", fmtPtr(u.MemoryPeakBytes), peak)
	}
}

func fmtPtr[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func TestCleanupFake(t *testing.T) {
	k := fakeV1(t, true)
	m := openFake(t, k.config("rw"))
	cg := filepath.Join(k.root, "sys/fs/cgroup")
	// A stale group made by hand in two hierarchies only, and a directory
	// that is no job's.
	for _, dir := range []string{"unified/svc/rw/rw-5", "memory/svc/rw/rw-5"} {
		if err := os.Mkdir(filepath.Join(cg, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		k.mkdir(filepath.Join(cg, dir))
	}
	if err := os.Mkdir(filepath.Join(cg, "unified/svc/rw/keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	killed, removed, err := m.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if killed != 0 || removed != 1 {
		t.Errorf("Cleanup() = %d killed, %d removed; want 0, 1", killed, removed)
	}
	for _, dir := range []string{"unified/svc/rw/rw-5", "memory/svc/rw/rw-5"} {
		if exists(filepath.Join(cg, dir)) {
			t.Errorf("Cleanup left %s", dir)
		}
	}
	if !exists(filepath.Join(cg, "unified/svc/rw/keep")) {
		t.Errorf("Cleanup removed a directory that is no job's")
	}
}

func TestParsing(t *testing.T) {
	if got, want := unescapeMount(`/mnt/a\040b\134c`), `/mnt/a b\c`; got != want {
		t.Errorf("unescapeMount = %q, want %q", got, want)
	}
	for in, want := range map[string]string{"7-rc1": "7", "18": "18", "x": ""} {
		if got := leadingDigits(in); got != want {
			t.Errorf("leadingDigits(%q) = %q, want %q", in, got, want)
		}
	}
	for cpus, want := range map[float64]int64{0.001: 1000, 0.5: 50000, 2: 200000, 1.234567: 123457} {
		if got := cpuQuota(cpus); got != want {
			t.Errorf("cpuQuota(%v) = %d, want %d", cpus, got, want)
		}
	}
}
