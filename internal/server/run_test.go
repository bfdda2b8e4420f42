//go:build linux

package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/cgroup"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// TestRunRefusesBadConfiguration checks that Run says which part of its
// configuration is wrong, before anything runs, and leaves nothing
// listening.
func TestRunRefusesBadConfiguration(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	jobs := testenv.JobsDir(t)
	tests := []struct {
		name string
		cfg  server.RunConfig
		want error
	}{
		{"address in use", server.RunConfig{Addr: busy.Addr().String(), Pool: worker.Config{JobsDir: jobs}}, server.ErrListen},
		{"invalid address", server.RunConfig{Addr: "127.0.0.1:3000x", Pool: worker.Config{JobsDir: jobs}}, server.ErrListen},
		{"no jobs directory", server.RunConfig{Addr: "127.0.0.1:0", Pool: worker.Config{JobsDir: filepath.Join(t.TempDir(), "none")}}, server.ErrPool},
		// A root with no cgroup filesystem in it stands for a host without
		// cgroups, whoever runs the test.
		{"cgroups required on a host without", server.RunConfig{Addr: "127.0.0.1:0", Pool: worker.Config{JobsDir: jobs},
			Cgroups: server.CgroupsRequired, Cgroup: cgroup.Config{Root: t.TempDir()}}, server.ErrCgroups},
		{"a cgroup parent that is a path", server.RunConfig{Addr: "127.0.0.1:0", Pool: worker.Config{JobsDir: jobs},
			Cgroups: server.CgroupsAuto, Cgroup: cgroup.Config{Parent: "../up"}}, server.ErrCgroups},
		{"an unknown cgroup policy", server.RunConfig{Addr: "127.0.0.1:0", Pool: worker.Config{JobsDir: jobs},
			Cgroups: "sometimes"}, server.ErrCgroups},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Log = zerolog.Nop()
			tc.cfg.Ready = func(net.Addr, *worker.Pool) { t.Error("Run served with a bad configuration") }
			if err := server.Run(context.Background(), tc.cfg); !errors.Is(err, tc.want) {
				t.Errorf("Run: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestRunFirstSignalStopsJobs checks the order Run owns: a signal ends
// serving, then every job is stopped with the grace period, then Run
// returns.
func TestRunFirstSignalStopsJobs(t *testing.T) {
	s := testenv.Serve(t, worker.Config{StopTimeout: 5 * time.Second})
	job := s.StartJob(t, s.IDs["bob"], "sleep.sh")
	waitOutput(t, s, job, "ready\n")
	s.Signal()
	if err := s.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	snap := s.Recorded(t, job)
	if snap.Status != worker.StatusStopped || snap.ExitCode == nil || *snap.ExitCode != 143 {
		t.Errorf("job after shutdown: %+v; want stopped by SIGTERM (143)", snap)
	}
	s.Logs.WaitFor(t, `"message":"stopped"`)
	if _, err := net.Dial("tcp", s.Addr); err == nil {
		t.Errorf("%s still accepts connections after Run returned", s.Addr)
	}
}

// TestRunSecondSignalKillsJobs checks that a second signal skips the grace
// period: with a grace of ten minutes, only the kill can end Run in time.
func TestRunSecondSignalKillsJobs(t *testing.T) {
	s := testenv.Serve(t, worker.Config{StopTimeout: 10 * time.Minute})
	job := s.StartJob(t, s.IDs["bob"], "ignore.sh")
	waitOutput(t, s, job, "ignoring\n")
	s.Signal()
	s.Logs.WaitFor(t, `"message":"shutting down: stopping jobs"`)
	s.SignalAgain(t)
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run still waits for the grace period after a second signal")
	}
	snap := s.Recorded(t, job)
	if snap.Status != worker.StatusStopped || snap.ExitCode == nil || *snap.ExitCode != 137 {
		t.Errorf("job after the second signal: %+v; want stopped by SIGKILL (137)", snap)
	}
	s.Logs.WaitFor(t, `"message":"second signal: killing jobs"`)
}

// TestRunSignalsTogetherCountAsOne checks that two signals that come at
// once, as GNU timeout sends them to the server and then its process
// group, begin one graceful shutdown: the job gets SIGTERM and the grace
// period, not SIGKILL.
func TestRunSignalsTogetherCountAsOne(t *testing.T) {
	s := testenv.Serve(t, worker.Config{StopTimeout: 10 * time.Minute})
	job := s.StartJob(t, s.IDs["bob"], "sleep.sh")
	waitOutput(t, s, job, "ready\n")
	s.Signal()
	s.Signal()
	if err := s.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	snap := s.Recorded(t, job)
	if snap.Status != worker.StatusStopped || snap.ExitCode == nil || *snap.ExitCode != 143 {
		t.Errorf("job after two signals at once: %+v; want stopped by SIGTERM (143)", snap)
	}
	s.Logs.WaitFor(t, `"message":"signal within the window of the one before: counted as that one"`)
	if strings.Contains(s.Logs.String(), "second signal") {
		t.Errorf("two signals at once took the kill path:\n%s", s.Logs.String())
	}
}

// waitOutput waits until job has written want, so that it is past its
// start (a script's traps set, say).
func waitOutput(t *testing.T, s *testenv.Server, job int64, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.Pool.Follow(ctx, job, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(out, got); err != nil || string(got) != want {
		t.Fatalf("output of job %d: %q, %v; want %q", job, got, err, want)
	}
}

// TestRunNotifiesSystemd plays systemd's part: a unixgram socket named by
// NOTIFY_SOCKET receives READY=1 once the server listens and STOPPING=1
// when it shuts down, as a Type=notify unit expects.
func TestRunNotifiesSystemd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	read := func() string {
		t.Helper()
		sock.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 4096)
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("read the notify socket: %v", err)
		}
		return string(buf[:n])
	}
	s := testenv.Serve(t, worker.Config{})
	if got := read(); !strings.HasPrefix(got, "READY=1\n") || !strings.Contains(got, s.Addr) {
		t.Errorf("first notification %q, want READY=1 and the address", got)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := read(); !strings.HasPrefix(got, "STOPPING=1\n") {
		t.Errorf("second notification %q, want STOPPING=1", got)
	}
}
