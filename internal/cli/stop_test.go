package cli

import (
	"testing"
	"time"
)

// TestKillDue checks what rw stop says of a SIGKILL still to come: whole
// seconds rounded up, so that a kill due in under a second is not said to
// be due "in 0s", and "sent" once it is due.
func TestKillDue(t *testing.T) {
	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{9 * time.Second, "SIGTERM sent, SIGKILL in 9s"},
		{8*time.Second + time.Millisecond, "SIGTERM sent, SIGKILL in 9s"},
		{time.Millisecond, "SIGTERM sent, SIGKILL in 1s"},
		{0, "SIGKILL sent"},
		{-time.Second, "SIGKILL sent"},
	} {
		if got := killDue(tc.left); got != tc.want {
			t.Errorf("killDue(%v) = %q, want %q", tc.left, got, tc.want)
		}
	}
}
