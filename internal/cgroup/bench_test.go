//go:build linux

package cgroup

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// BenchmarkStart measures what a job's cgroup costs: Create, Start,
// Wait and Remove around /bin/true, against a bare Start and Wait.
func BenchmarkStart(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, only := range []string{"", "v1", "v2"} {
		b.Run("cgroup"+only, func(b *testing.B) {
			if os.Geteuid() != 0 {
				b.Skip("skipped: needs root")
			}
			m, err := Open(Config{Parent: "rwbench-" + strconv.Itoa(os.Getpid()), only: only})
			if err != nil {
				b.Fatal(err)
			}
			if m.Mode() == ModeNone {
				b.Skipf("skipped: %s", m.Reason())
			}
			defer m.Close()
			i := 0
			for b.Loop() {
				i++
				g, err := m.Create(strconv.Itoa(i), Limits{})
				if err != nil {
					b.Fatal(err)
				}
				cmd := exec.Command("/bin/true")
				if err := g.Start(cmd); err != nil {
					b.Fatal(err)
				}
				if err := cmd.Wait(); err != nil {
					b.Fatal(err)
				}
				if err := g.Remove(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
