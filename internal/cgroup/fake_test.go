//go:build linux

package cgroup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeKernel plays the kernel's part for a cgroup tree of plain files in a
// temporary directory: mkdir in a fake cgroup filesystem creates the
// control files a real one would have, and rmdir removes them. Values
// written by the package are appended to the files (see writeFile), so a
// test can read back every write in order.
type fakeKernel struct {
	t    *testing.T
	root string
	// mounts maps each fake mount point, relative to root, to its
	// controllers; "cgroup2" marks the unified hierarchy.
	mounts map[string][]string
	// noSwap leaves out the swap files (memory.swap.max,
	// memory.memsw.limit_in_bytes), as on a kernel built without swap.
	noSwap bool
}

// config returns a Config that runs the package against the fake tree.
func (k *fakeKernel) config(parent string) Config {
	return Config{Root: k.root, Parent: parent, afterMkdir: k.mkdir, beforeRmdir: k.rmdir}
}

// mountOf returns the mount point (relative to root) that holds dir, and
// its controllers.
func (k *fakeKernel) mountOf(dir string) (string, []string) {
	rel, err := filepath.Rel(k.root, dir)
	if err != nil {
		k.t.Fatalf("%s is outside the fake tree", dir)
	}
	best := ""
	for m := range k.mounts {
		if (rel == m || strings.HasPrefix(rel, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		k.t.Fatalf("%s is in no fake cgroup mount", dir)
	}
	return best, k.mounts[best]
}

// mkdir creates the control files of a new cgroup at dir.
func (k *fakeKernel) mkdir(dir string) {
	_, ctl := k.mountOf(dir)
	v2 := slices.Contains(ctl, "cgroup2")
	files := map[string]string{"cgroup.procs": ""}
	if v2 {
		// A child gets the controllers its parent enabled for it.
		var enabled []string
		for _, tok := range strings.Fields(readFile(k.t, filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"))) {
			// The kernel shows "cpu io"; the package writes "+cpu +io".
			if !strings.HasPrefix(tok, "-") {
				enabled = append(enabled, strings.TrimPrefix(tok, "+"))
			}
		}
		files["cgroup.controllers"] = strings.Join(enabled, " ") + "\n"
		files["cgroup.subtree_control"] = ""
		files["cgroup.events"] = "populated 0\nfrozen 0\n"
		files["cgroup.kill"] = ""
		files["cgroup.freeze"] = ""
		files["cpu.stat"] = "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"
		ctl = enabled
	} else {
		files["tasks"] = ""
	}
	for _, c := range ctl {
		switch c {
		case "memory":
			if v2 {
				files["memory.max"] = ""
				files["memory.peak"] = "0\n"
				files["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"
				if !k.noSwap {
					files["memory.swap.max"] = ""
				}
			} else {
				files["memory.limit_in_bytes"] = ""
				files["memory.max_usage_in_bytes"] = "0\n"
				files["memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"
				if !k.noSwap {
					files["memory.memsw.limit_in_bytes"] = ""
				}
			}
		case "cpu":
			if v2 {
				files["cpu.max"] = ""
			} else {
				files["cpu.cfs_period_us"] = ""
				files["cpu.cfs_quota_us"] = ""
			}
		case "cpuacct":
			files["cpuacct.usage"] = "0\n"
		case "pids":
			files["pids.max"] = ""
		case "io":
			files["io.max"] = ""
		case "blkio":
			files["blkio.throttle.read_bps_device"] = ""
			files["blkio.throttle.write_bps_device"] = ""
		case "freezer":
			files["freezer.state"] = ""
		}
	}
	for name, content := range files {
		writeTestFile(k.t, filepath.Join(dir, name), content)
	}
}

// rmdir removes the control files of the cgroup at dir, as the kernel
// does with the directory.
func (k *fakeKernel) rmdir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// cgroup makes a cgroup that exists before Open, at dir (relative to
// root), with exactly the given files.
func (k *fakeKernel) cgroup(dir string, files map[string]string) {
	abs := filepath.Join(k.root, dir)
	if err := os.MkdirAll(abs, 0o755); err != nil {
		k.t.Fatal(err)
	}
	for name, content := range files {
		writeTestFile(k.t, filepath.Join(abs, name), content)
	}
}

func writeTestFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// fakeBlock lays out a fake /sys/block, /sys/class/block and
// /sys/dev/block: a virtio disk vda (254:0), a SCSI disk sda (8:0) with a
// partition sda1 (8:1), an NVMe disk (259:0), and devices that are never
// throttled by default: loop0, zram0, ram0 and a device-mapper dm-0 under
// /sys/devices/virtual.
func fakeBlock(t *testing.T, root string) {
	t.Helper()
	type dev struct{ name, dir, num string }
	devs := []dev{
		{"vda", "devices/pci0000:00/0000:00:02.0/virtio1/block/vda", "254:0"},
		{"sda", "devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda", "8:0"},
		{"nvme0n1", "devices/pci0000:00/0000:00:03.0/nvme/nvme0/nvme0n1", "259:0"},
		{"loop0", "devices/virtual/block/loop0", "7:0"},
		{"zram0", "devices/virtual/block/zram0", "252:0"},
		{"dm-0", "devices/virtual/block/dm-0", "253:0"},
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(filepath.Dir(name), target)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(rel, name); err != nil {
			t.Fatal(err)
		}
	}
	sys := filepath.Join(root, "sys")
	for _, d := range devs {
		writeTestFile(t, filepath.Join(sys, d.dir, "dev"), d.num+"\n")
		link(filepath.Join(sys, d.dir), filepath.Join(sys, "block", d.name))
		link(filepath.Join(sys, d.dir), filepath.Join(sys, "class/block", d.name))
		link(filepath.Join(sys, d.dir), filepath.Join(sys, "dev/block", d.num))
	}
	// ram0 is an old-style ramdisk: a plain directory, no symlink.
	writeTestFile(t, filepath.Join(sys, "block/ram0/dev"), "1:0\n")
	part := filepath.Join(sys, "devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda/sda1")
	writeTestFile(t, filepath.Join(part, "dev"), "8:1\n")
	writeTestFile(t, filepath.Join(part, "partition"), "1\n")
	link(part, filepath.Join(sys, "class/block/sda1"))
	link(part, filepath.Join(sys, "dev/block/8:1"))
}

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
