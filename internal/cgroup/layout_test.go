//go:build linux

package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests run against fake cgroup trees (see fakeKernel), on any host
// and as any user.

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

// TestGroupSkipsHierarchiesItDoesNotNeed checks that a job's cgroup has a
// directory only in the v1 hierarchies its limits and the mode need: each
// costs a directory and two moves of the forking thread per job.
func TestGroupSkipsHierarchiesItDoesNotNeed(t *testing.T) {
	tests := []struct {
		name    string
		unified bool
		limits  Limits
		want    []string // the v1 hierarchies with a directory, by mount
	}{
		{"hybrid, no limits", true, Limits{}, []string{"memory"}},
		{"hybrid, cpu and pids", true, Limits{CPUs: 1, Pids: 32}, []string{"cpu,cpuacct", "memory", "pids"}},
		{"v1, no limits: usage and kill need cpuacct and the freezer", false, Limits{}, []string{"cpu,cpuacct", "memory", "freezer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := openFake(t, fakeV1(t, tc.unified).config("rw"))
			g, err := m.Create("1", tc.limits)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, h := range m.v1 {
				if g.v1[i] != "" {
					got = append(got, filepath.Base(h.mount))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("directories in %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOpenParentOfAnotherUser checks that a parent this user cannot write
// (made by a server run as root, say) makes its hierarchy unusable, as one
// that cannot be made does: Open gives ModeNone with the reason, for auto
// to run without cgroups, rather than an error when it locks the parent.
func TestOpenParentOfAnotherUser(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write any directory: this needs an ordinary user")
	}
	k := fakeV1(t, true)
	cg := filepath.Join(k.root, "sys/fs/cgroup")
	for _, h := range []string{"unified", "cpu,cpuacct", "memory", "pids", "blkio", "freezer"} {
		if err := os.Mkdir(filepath.Join(cg, h, "svc/rw"), 0o500); err != nil {
			t.Fatal(err)
		}
	}
	m := openFake(t, k.config("rw"))
	defer m.Close()
	if got := m.Mode(); got != ModeNone || !strings.Contains(m.Reason(), "cannot write") {
		t.Errorf("Mode() = %q (reason %q), want %q saying the parent cannot be written", got, m.Reason(), ModeNone)
	}
}
