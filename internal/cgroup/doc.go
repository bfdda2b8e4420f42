//go:build linux

// Package cgroup contains rw's jobs with Linux control groups: it detects
// how the host mounts cgroups, creates one cgroup per job, writes the job's
// limits (memory, CPUs, pids, IO bandwidth), starts the job's process
// inside it with no window in which a child could land elsewhere, reads the
// job's usage, tells whether the kernel OOM-killed anything in it, kills
// everything in it (setsid'd and double-forked children included), waits
// until it is empty, and removes it.
//
// The package knows nothing of jobs, HTTP, the command line or a store: the
// worker calls it from the one place where it spawns processes, and gives
// each job cgroup a name of its own choosing.
//
// Open detects one of four modes (see Mode): ModeV2 (unified hierarchy),
// ModeHybrid (v1 controllers plus a cgroup2 mount without controllers),
// ModeV1 (v1 controllers only) and ModeNone, where the caller falls back to
// process groups and limits are off. Open never fails because of the host:
// a host without usable cgroups gives a Manager in ModeNone whose Reason
// says why.
//
// Every job cgroup is a directory named "rw-" plus the job's name, inside a
// parent directory (Config.Parent, "rw" by default) under the server's own
// cgroup in each hierarchy. Directories named "rw-*" found in the parent at
// start belong to a server that died; Cleanup kills and removes them.
//
// docs/cgroups.md describes what each mode guarantees and why.
package cgroup
