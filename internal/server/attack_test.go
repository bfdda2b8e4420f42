//go:build linux

package server_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// TestJobsCannotReachTheServer runs, as a user-role caller, a job that
// runs any shell command it is given, as an attacker with such a job in the
// jobs directory would: as the unprivileged run-as user, every step toward
// the server's secrets, other jobs' output and the jobs directory fails.
func TestJobsCannotReachTheServer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running jobs as an unprivileged user needs a server run as root")
	}
	jobs := testenv.JobsDir(t)
	shell := filepath.Join(jobs, "shell.sh")
	if err := errors.Join(os.WriteFile(shell, []byte("#!/bin/sh\nexec /bin/sh -c \"$1\"\n"), 0o755), os.Chmod(shell, 0o755)); err != nil {
		t.Fatal(err)
	}
	// A data directory the jobs' user may enter, as rw serve checks.
	data := t.TempDir()
	for _, d := range []string{filepath.Dir(data), data} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	// The victim below must be running, with its pid, once its start is
	// answered.
	s := testenv.Serve(t, worker.Config{JobsDir: jobs, DataDir: data, RunAs: &worker.Credential{Name: "nobody", Uid: 65534, Gid: 65534}}, waitForSpawns)
	alice, bob := s.IDs["alice"], s.IDs["bob"]

	// Another user's job, with output worth stealing.
	secret := s.StartJob(t, alice, "echo.sh", "alice's secret")
	if snap := s.Wait(t, secret); snap.Status != worker.StatusFinished {
		t.Fatalf("alice's job: %s (%s)", snap.Status, snap.Error)
	}
	var spool string
	_ = filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".out") && spool == "" {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), "alice's secret") {
				spool = path
			}
		}
		return nil
	})
	if spool == "" {
		var files []string
		_ = filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
			files = append(files, fmt.Sprint(path, " ", err))
			return nil
		})
		t.Fatalf("found no output file holding alice's job's output in %s", files)
	}

	// The control: the job runs, and as nobody, so that the attacks below
	// fail for the reason they are meant to.
	control := s.StartJob(t, bob, "shell.sh", "id -u; echo $HOME")
	if snap := s.Wait(t, control); snap.Status != worker.StatusFinished {
		t.Fatalf("the control job: %s (%s)", snap.Status, snap.Error)
	}
	r := s.Call(t, bob, "GET", idPath("/query", control), "")
	var cj api.Job
	r.Decode(t, &cj)
	if cj.Output == nil || !strings.HasPrefix(*cj.Output, "65534\n"+data) {
		t.Fatalf("the control job said %v, want uid 65534 and a home in %s", cj.Output, data)
	}

	attacks := []struct{ name, cmd string }{
		{"read the client CA key", "cat " + filepath.Join(s.Dir, "client-ca-key.pem")},
		{"read the token key", "cat " + filepath.Join(s.Dir, "token-key.pem")},
		{"read the server key", "cat " + filepath.Join(s.Dir, "server-key.pem")},
		{"list the PKI directory", "ls " + s.Dir},
		{"read another job's output", "cat " + spool},
		{"list the data directory", "ls " + data},
		{"read the server's environment", "cat /proc/$PPID/environ"},
		{"signal the server", "kill -0 $PPID"},
		{"write into the jobs directory", "echo 'echo owned' > " + filepath.Join(jobs, "add.exe")},
		{"add a file to the jobs directory", "touch " + filepath.Join(jobs, "new.sh")},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			id := s.StartJob(t, bob, "shell.sh", a.cmd)
			snap := s.Wait(t, id)
			r := s.Call(t, bob, "GET", idPath("/query", id), "")
			var j api.Job
			r.Decode(t, &j)
			if snap.Status != worker.StatusFailed || snap.Reason != worker.ReasonExited {
				t.Errorf("%q: %s (%s), want it to fail; output: %v", a.cmd, snap.Status, snap.Error, j.Output)
			}
			if j.Output != nil && (strings.Contains(*j.Output, "PRIVATE KEY") || strings.Contains(*j.Output, "secret")) {
				t.Errorf("%q printed a secret: %s", a.cmd, *j.Output)
			}
		})
	}
	// Jobs that share the run-as user can signal each other unless the
	// attacker's job is isolated: then alice's job is not even in its
	// PID namespace.
	victim := s.StartJob(t, alice, "sleep.sh")
	vsnap, _ := s.Pool.Query(victim)
	body := fmt.Sprintf(`{"filePath": "shell.sh", "args": ["kill -9 %d"], "isolate": true}`, vsnap.PID)
	r = s.Call(t, bob, "POST", "/start", body)
	var kj api.Job
	r.Decode(t, &kj)
	if r.Status != 200 || !kj.Isolated {
		t.Fatalf("isolated start: %d %s", r.Status, r.Body)
	}
	if snap := s.Wait(t, kj.ID); snap.Status != worker.StatusFailed {
		t.Errorf("an isolated job's kill of another user's job: %s, want it to fail", snap.Status)
	}
	if vsnap, _ := s.Pool.Query(victim); vsnap.Status != worker.StatusRunning {
		t.Errorf("alice's job is %s after bob's isolated job tried to kill it", vsnap.Status)
	}

	if b, err := os.ReadFile(filepath.Join(jobs, "add.exe")); err != nil || strings.Contains(string(b), "owned") {
		t.Errorf("add.exe was changed: %q, %v", b, err)
	}
}
