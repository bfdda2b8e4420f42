//go:build linux

package jobinit

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// BenchmarkStart measures what isolation costs per job: starting a
// trivial job (/bin/true) and waiting for its end, plainly, in new
// namespaces without an init, and isolated (namespaces, init, the status
// report). The test binary stands in for rw as the init; "self" is what
// starting it plainly costs, the part of isolation that depends on the
// binary.
func BenchmarkStart(b *testing.B) {
	needRoot(b)
	const truePath = "/bin/true"
	run := func(b *testing.B, flags uintptr, path string, argv ...string) {
		for b.Loop() {
			cmd := &exec.Cmd{
				Path:        path,
				Args:        argv,
				SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Cloneflags: flags},
			}
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("plain", func(b *testing.B) { run(b, 0, truePath, "true") })
	b.Run("namespaces", func(b *testing.B) { run(b, cloneFlags, truePath, "true") })
	b.Run("namespaces-but-net", func(b *testing.B) { run(b, cloneFlags&^syscall.CLONE_NEWNET, truePath, "true") })
	b.Run("self", func(b *testing.B) { run(b, 0, "/proc/self/exe", helperName, "exit", "0") })
	b.Run("isolated", func(b *testing.B) {
		out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		spec := Spec{Hostname: "rw-bench", Path: "/proc/self/fd/3", Args: []string{"true"}, Dir: "/"}
		for b.Loop() {
			exe, err := os.Open(truePath)
			if err != nil {
				b.Fatal(err)
			}
			cmd, status, err := Command("/proc/self/exe", spec, exe, out)
			if err != nil {
				b.Fatal(err)
			}
			err = cmd.Start()
			exe.Close()
			if err == nil {
				err = cmd.Wait()
			}
			if err != nil {
				status.Close()
				b.Fatal(err)
			}
			ws, err := status.Read()
			status.Close()
			if err != nil || ws != 0 {
				b.Fatalf("job status %#x, err %v; want exited 0", ws, err)
			}
		}
	})
}
