//go:build linux

package worker

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTimeLimit checks that a job's time limit stops it as Stop does:
// SIGTERM, then SIGKILL once the grace period has passed. Neither outcome
// may depend on the host's load. The job that exits on SIGTERM gets a
// grace period of a minute, which only a hung stop runs out, so it is
// never killed. The job that ignores SIGTERM must have ignored it before
// its limit runs out, which a loaded host may take more than a second to
// reach: a run in which it had not (it never said "ready") proves
// nothing, and is tried again with twice the limit.
func TestTimeLimit(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		grace     time.Duration
		wantError string // with the limit for %v
	}{
		{"a job that exits on SIGTERM", []string{"sleep", "1h"}, time.Minute, "stopped: its time limit of %v ran out"},
		{"a job that ignores SIGTERM", []string{"ignore-term"}, time.Second, "stopped: its time limit of %v ran out; killed with SIGKILL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, Config{StopTimeout: tc.grace})
			for limit := time.Second; ; limit *= 2 {
				id, err := p.Start(Spec{Owner: "alice", Path: helperName, Args: tc.args, Timeout: limit})
				if err != nil {
					t.Fatal(err)
				}
				s := wait(t, p, id)
				out := string(readOutput(t, p, id))
				if !strings.Contains(out, "ready") {
					if limit >= 32*time.Second {
						t.Fatalf("the job never got as far as saying ready within its limit: %s, %q", s.Error, out)
					}
					t.Logf("the job did not say ready within its limit of %v (a loaded host): again with twice the limit", limit)
					continue
				}
				want := fmt.Sprintf(tc.wantError, limit)
				if s.Status != StatusStopped || s.Reason != ReasonTimedOut || s.Error != want || s.Timeout != limit {
					t.Errorf("got %s, %s, %q, timeout %v; want stopped, timed-out, %q", s.Status, s.Reason, s.Error, s.Timeout, want)
				}
				return
			}
		})
	}
}

func TestTimeLimitDefaultAndMaximum(t *testing.T) {
	p := newPool(t, Config{DefaultTimeout: time.Hour, MaxTimeout: 2 * time.Hour})
	id := start(t, p, "exit", "0")
	if s := wait(t, p, id); s.Timeout != time.Hour || s.Reason != ReasonExited {
		t.Errorf("a job that asks for no limit: timeout %v, reason %s; want the default 1h, exited", s.Timeout, s.Reason)
	}
	for _, d := range []time.Duration{-time.Second, 3 * time.Hour} {
		if _, err := p.Start(Spec{Path: helperName, Args: []string{"exit", "0"}, Timeout: d}); !errors.Is(err, ErrInvalidTimeout) {
			t.Errorf("timeout %v: %v, want ErrInvalidTimeout", d, err)
		}
	}
}

func TestCheckTimeouts(t *testing.T) {
	for _, tc := range []struct {
		def, max time.Duration
		ok       bool
	}{{0, 0, true}, {time.Minute, 0, true}, {time.Minute, time.Hour, true}, {0, time.Hour, false}, {2 * time.Hour, time.Hour, false}, {-1, 0, false}} {
		err := CheckTimeouts(tc.def, tc.max)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "time limit")) {
			t.Errorf("CheckTimeouts(%v, %v) = %v", tc.def, tc.max, err)
		}
	}
}
