//go:build linux

package cgroup

import (
	"path/filepath"
)

// Usage returns what the group has used: CPU time from cpuacct.usage (v1)
// or cpu.stat's usage_usec (cgroup2), and the memory peak from
// memory.max_usage_in_bytes (v1) or memory.peak (cgroup2, Linux 5.19 and
// later). It works while the processes run and after they are gone, until
// Remove. A figure the host cannot give is nil.
func (g *Group) Usage() Usage {
	var u Usage
	if dir := g.v1Dir("cpuacct"); dir != "" {
		if ns, err := readInt(filepath.Join(dir, "cpuacct.usage")); err == nil {
			s := float64(ns) / 1e9
			u.CPUSeconds = &s
		}
	} else if g.v2 != "" {
		// cpu.stat's usage_usec is there even without the cpu
		// controller.
		if us, err := readKeyed(filepath.Join(g.v2, "cpu.stat"), "usage_usec"); err == nil {
			s := float64(us) / 1e6
			u.CPUSeconds = &s
		}
	}
	if g.m.mode == ModeV2 {
		if n, err := readInt(filepath.Join(g.v2, "memory.peak")); err == nil {
			u.MemoryPeakBytes = &n
		}
	} else if dir := g.v1Dir("memory"); dir != "" {
		if n, err := readInt(filepath.Join(dir, "memory.max_usage_in_bytes")); err == nil {
			u.MemoryPeakBytes = &n
		}
	}
	return u
}

// OOMKilled reports whether the kernel's OOM killer killed a process of
// the group because the group reached its memory limit: the oom_kill count
// of memory.events (cgroup2) or memory.oom_control (v1, Linux 4.13 and
// later) is not zero. A host that cannot tell says false.
func (g *Group) OOMKilled() bool {
	var n int64
	var err error
	if g.m.mode == ModeV2 {
		n, err = readKeyed(filepath.Join(g.v2, "memory.events"), "oom_kill")
	} else if dir := g.v1Dir("memory"); dir != "" {
		n, err = readKeyed(filepath.Join(dir, "memory.oom_control"), "oom_kill")
	} else {
		return false
	}
	return err == nil && n > 0
}
