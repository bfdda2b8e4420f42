//go:build linux

package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// These tests run against fake cgroup trees (see fakeKernel), on any host
// and as any user.

// allLimits sets every limit, with values that are easy to spot.
var allLimits = Limits{MemoryBytes: 64 << 20, CPUs: 1.5, Pids: 100, IOReadBytesPerSec: 1000, IOWriteBytesPerSec: 2000}

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

func TestPossibleCPUs(t *testing.T) {
	tests := []struct {
		content string
		want    int
	}{
		{"0\n", 1},
		{"0-1\n", 2},
		{"0-3,8-11\n", 8},
		{"0,2,4-5\n", 4},
		{"3-1\n", 0},
		{"x\n", 0},
	}
	for _, tt := range tests {
		file := filepath.Join(t.TempDir(), "possible")
		writeTestFile(t, file, tt.content)
		if got := possibleCPUs(file); got != tt.want {
			t.Errorf("possibleCPUs(%q) = %d, want %d", tt.content, got, tt.want)
		}
	}
	if got := possibleCPUs(filepath.Join(t.TempDir(), "missing")); got != 0 {
		t.Errorf("possibleCPUs of a missing file = %d, want 0", got)
	}
}

// A CPU limit of as many CPUs as the host can ever have never holds a job
// back: it is not written. The job still gets its cgroup in the v1 cpu
// hierarchy, so that the scheduler weighs it as one group beside the
// server, and a cap on the parent covers it. One CPU less is written as
// before.
func TestCPULimitThatCannotBindIsSkipped(t *testing.T) {
	const possible = "sys/devices/system/cpu/possible"
	t.Run("hybrid", func(t *testing.T) {
		k := fakeV1(t, true)
		writeTestFile(t, filepath.Join(k.root, possible), "0-1\n")
		m := openFake(t, k.config("rw"))
		g, err := m.Create("1", Limits{MemoryBytes: 64 << 20, CPUs: 2})
		if err != nil {
			t.Fatal(err)
		}
		dir := g.v1Dir("cpu")
		if dir == "" {
			t.Fatal("a limit of every CPU made no cgroup in the cpu hierarchy")
		}
		if data, err := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us")); err == nil && len(data) > 0 {
			t.Errorf("a limit of every CPU wrote cpu.cfs_quota_us = %q", data)
		}
		g, err = m.Create("2", Limits{MemoryBytes: 64 << 20, CPUs: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := readFile(t, filepath.Join(g.v1Dir("cpu"), "cpu.cfs_quota_us")), "100000\n"; got != want {
			t.Errorf("a limit of one CPU of two: cpu.cfs_quota_us = %q, want %q", got, want)
		}
	})
	t.Run("v2", func(t *testing.T) {
		k := fakeV2(t, "/system.slice/rw.service", "cpu io memory pids\n")
		writeTestFile(t, filepath.Join(k.root, possible), "0-1\n")
		m := openFake(t, k.config("rw"))
		for _, tt := range []struct {
			cpus float64
			want string
		}{{2, ""}, {4, ""}, {1.5, "150000 100000\n"}} {
			g, err := m.Create(strconv.FormatFloat(tt.cpus*10, 'f', 0, 64), Limits{CPUs: tt.cpus})
			if err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(g.v2, "cpu.max")); got != tt.want {
				t.Errorf("a limit of %v CPUs of 2: cpu.max = %q, want %q", tt.cpus, got, tt.want)
			}
		}
	})
}
