//go:build linux

package worker

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nobody is the user the run-as tests run jobs as.
var nobody = &Credential{Name: "nobody", Uid: 65534, Gid: 65534}

// runAsPool starts a pool whose jobs run as nobody, or skips the test
// where the tests do not run as root. Its data directory is one nobody may
// enter, as rw serve checks at start.
func runAsPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running jobs as another user needs root")
	}
	data := t.TempDir()
	for _, d := range []string{filepath.Dir(data), data} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	cfg.DataDir = data
	cfg.RunAs = nobody
	return newPool(t, cfg)
}

func TestRunAsUser(t *testing.T) {
	p := runAsPool(t, Config{})
	id := start(t, p, "ids")
	s := wait(t, p, id)
	out := string(readOutput(t, p, id))
	want := "uid 65534 euid 65534 gid 65534 egid 65534 groups []\nNoNewPrivs: 1\n"
	if s.Status != StatusFinished || !strings.HasPrefix(out, want) {
		t.Errorf("job %s said:\n%s\nwant it to start with:\n%s", s.Status, out, want)
	}
}

func TestEveryJobHasNoNewPrivs(t *testing.T) {
	// Without a run-as user too: a job never gains privileges through exec.
	p := newPool(t, Config{})
	id := start(t, p, "ids")
	wait(t, p, id)
	if out := string(readOutput(t, p, id)); !strings.Contains(out, "NoNewPrivs: 1\n") {
		t.Errorf("job said:\n%s\nwant NoNewPrivs: 1", out)
	}
}

func TestSetuidBinaryDoesNotElevate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a setuid-root binary needs root to make")
	}
	idPath, err := exec.LookPath("id")
	if err != nil {
		t.Skip("no id command")
	}
	jobs := t.TempDir()
	copyFile(t, idPath, filepath.Join(jobs, "id"), 0o4755)
	p := runAsPool(t, Config{JobsDir: jobs})
	id, err := p.Start(Spec{Owner: "alice", Path: "id", Args: []string{"-u"}})
	if err != nil {
		t.Fatal(err)
	}
	s := wait(t, p, id)
	if out := strings.TrimSpace(string(readOutput(t, p, id))); s.Status != StatusFinished || out != "65534" {
		t.Errorf("setuid-root id as nobody: %s, effective uid %q; want 65534", s.Status, out)
	}
}

func TestJobFileTheUserMayNotRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running jobs as another user needs root")
	}
	jobs := t.TempDir()
	if err := os.WriteFile(filepath.Join(jobs, "private.sh"), []byte("#!/bin/sh\necho hi\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := runAsPool(t, Config{JobsDir: jobs})
	id, err := p.Start(Spec{Owner: "alice", Path: "private.sh"})
	if err != nil {
		t.Fatal(err)
	}
	s := wait(t, p, id)
	if s.Status != StatusFailed || s.Reason != ReasonStartFailed || !strings.Contains(s.Error, "nobody may not run private.sh") {
		t.Errorf("got %s, %s, %q; want failed, start-failed, a sentence naming nobody and private.sh", s.Status, s.Reason, s.Error)
	}
}

func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	// Chmod after the write: a write clears the setuid bit.
	if err := os.Chmod(dst, mode); err != nil {
		t.Fatal(err)
	}
}
