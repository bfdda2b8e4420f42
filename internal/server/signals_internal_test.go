//go:build linux

package server

import (
	"testing"
	"time"
)

// TestSignalCount checks which signals count: one that comes within
// SignalWindow of the last counted one is a repeat of it, as when GNU
// timeout signals the server and then its process group.
func TestSignalCount(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		after []time.Duration // since t0, one per signal
		want  []int
	}{
		{"one", []time.Duration{0}, []int{1}},
		{"two at once", []time.Duration{0, time.Microsecond}, []int{1, 0}},
		{"two just inside the window", []time.Duration{0, SignalWindow - time.Nanosecond}, []int{1, 0}},
		{"two a window apart", []time.Duration{0, SignalWindow}, []int{1, 2}},
		{"two a second apart", []time.Duration{0, time.Second}, []int{1, 2}},
		// The window runs from the signal counted, not from each repeat:
		// a steady stream of signals still reaches the second.
		{"repeats every 300ms", []time.Duration{0, 300 * time.Millisecond, 600 * time.Millisecond, 900 * time.Millisecond}, []int{1, 0, 2, 0}},
		{"a burst then one later", []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 2 * time.Second}, []int{1, 0, 0, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c signalCount
			for i, d := range tc.after {
				if got := c.add(t0.Add(d)); got != tc.want[i] {
					t.Errorf("signal %d at +%v: got %d, want %d", i+1, d, got, tc.want[i])
				}
			}
		})
	}
}
