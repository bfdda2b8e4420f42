//go:build linux

package worker

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTimeLimit(t *testing.T) {
	p := newPool(t, Config{StopTimeout: time.Second})
	tests := []struct {
		name      string
		args      []string
		wantError string
	}{
		{"a job that exits on SIGTERM", []string{"sleep", "30s"}, "stopped: its time limit of 1s ran out"},
		{"a job that ignores SIGTERM", []string{"ignore-term"}, "stopped: its time limit of 1s ran out; killed with SIGKILL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := p.Start(Spec{Owner: "alice", Path: helperName, Args: tc.args, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			s := wait(t, p, id)
			if s.Status != StatusStopped || s.Reason != ReasonTimedOut || s.Error != tc.wantError || s.Timeout != time.Second {
				t.Errorf("got %s, %s, %q, timeout %v; want stopped, timed-out, %q", s.Status, s.Reason, s.Error, s.Timeout, tc.wantError)
			}
			// The limit, the grace period and a second of slack: far less
			// than the 30 s or hour the job would run.
			if ran := s.EndedAt.Sub(s.StartedAt); ran > 3*time.Second {
				t.Errorf("the job ran %v with a 1s limit and a 1s grace period", ran)
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
