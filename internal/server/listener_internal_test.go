//go:build linux

package server

import "testing"

// TestDefaultMaxConns checks the bound on connections derived from the
// limit on open files: room for jobs and files first, two descriptors per
// connection after, and never below a floor.
func TestDefaultMaxConns(t *testing.T) {
	tests := []struct {
		name           string
		files          uint64
		workers, queue int
		want           int
	}{
		{"the kernel's default soft limit", 1024, 4, 64, (1024 - 256 - 4*16 - 64) / 2},
		{"a common hard limit", 1 << 20, 4, 64, ((1 << 20) - 256 - 4*16 - 64) / 2},
		{"more workers leave fewer", 4096, 64, 1000, (4096 - 256 - 64*16 - 1000) / 2},
		{"too little room keeps the floor", 300, 4, 64, minDefaultConns},
		{"no room at all keeps the floor", 0, 4, 64, minDefaultConns},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DefaultMaxConns(tc.files, tc.workers, tc.queue); got != tc.want {
				t.Errorf("DefaultMaxConns(%d, %d, %d) = %d, want %d", tc.files, tc.workers, tc.queue, got, tc.want)
			}
		})
	}
}
