//go:build linux

package jobinit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestExitStatus checks that init exits as the job did, and that the status
// it reports tells a job killed by signal N from one that exited 128+N.
func TestExitStatus(t *testing.T) {
	needRoot(t)
	t.Parallel()
	for _, tc := range []struct {
		name     string
		args     []string
		initCode int
		exited   int // the job's exit code, or -1 if it was signaled
		signal   syscall.Signal
	}{
		{"zero", []string{"exit", "0"}, 0, 0, 0},
		{"three", []string{"exit", "3"}, 3, 3, 0},
		{"137 by itself", []string{"exit", "137"}, 137, 137, 0},
		{"killed", []string{"kill-self"}, 137, -1, syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := startIsolated(t, helperSpec(tc.args...), "")
			if out := j.lines(); len(out) != 0 {
				t.Errorf("output %q, want none", out)
			}
			code, ws, err := j.wait()
			if err != nil {
				t.Fatalf("Status.Read: %v", err)
			}
			if code != tc.initCode {
				t.Errorf("init exited %d, want %d", code, tc.initCode)
			}
			if tc.exited >= 0 && (!ws.Exited() || ws.ExitStatus() != tc.exited) {
				t.Errorf("job status %#x, want exited %d", ws, tc.exited)
			}
			if tc.exited < 0 && (!ws.Signaled() || ws.Signal() != tc.signal) {
				t.Errorf("job status %#x, want signaled %v", ws, tc.signal)
			}
		})
	}
}

// TestNotStarted checks that a job that cannot be executed, or a namespace
// init cannot set up, gives init's failure code, one "rw: " line on the
// job's output, and a StartError rather than a wait status.
func TestNotStarted(t *testing.T) {
	needRoot(t)
	t.Parallel()
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := helperSpec()
	missing.Path = "/no/such/job"
	noDir := helperSpec("exit", "0")
	noDir.Dir = "/no/such/dir"
	badHost := helperSpec("exit", "0")
	badHost.Hostname = strings.Repeat("h", hostNameMax+1)
	for _, tc := range []struct {
		name      string
		spec      Spec
		exe       string
		unchecked bool // past Command's checks, as if they had missed something
		code      int
		reason    string
	}{
		{"missing", missing, "", false, CodeExecFailed, "exec /no/such/job in /: no such file or directory"},
		{"not executable", helperSpec(), plain, false, CodeExecFailed, "exec /proc/self/fd/3 in /: permission denied"},
		{"no working directory", noDir, "", false, CodeExecFailed, "exec /proc/self/fd/3 in /no/such/dir: no such file or directory"},
		{"setup fails", badHost, "", true, CodeSetupFailed, "set the hostname to \"" + badHost.Hostname + "\": invalid argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var j *isolated
			if tc.unchecked {
				j = startUnchecked(t, tc.spec)
			} else {
				j = startIsolated(t, tc.spec, tc.exe)
			}
			out := j.lines()
			code, _, err := j.wait()
			if code != tc.code {
				t.Errorf("init exited %d, want %d", code, tc.code)
			}
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("Status.Read error %v, want a StartError", err)
			}
			if se.Code != tc.code || se.Reason != tc.reason {
				t.Errorf("got StartError{%d, %q}, want {%d, %q}", se.Code, se.Reason, tc.code, tc.reason)
			}
			want := "rw: error: the isolated job did not start: " + tc.reason
			if len(out) != 1 || out[0] != want {
				t.Errorf("output %q, want the one line %q", out, want)
			}
		})
	}
}

// TestCloseEndsRead checks that Close makes a Read that waits for a
// running init return, so that a caller is never stuck on the pipe.
func TestCloseEndsRead(t *testing.T) {
	needRoot(t)
	t.Parallel()
	j := startIsolated(t, helperSpec("trap"), "")
	if got := j.line(); got != "ready" {
		t.Fatalf("got %q, want ready", got)
	}
	read := make(chan error, 1)
	go func() { // ends when Close makes Read return
		_, err := j.status.Read()
		read <- err
	}()
	j.status.Close()
	if err := <-read; !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: got %v, want os.ErrClosed", err)
	}
}
