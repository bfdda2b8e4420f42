//go:build linux

package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// writeJob writes an executable shell script that prints what into dir.
func writeJob(t *testing.T, dir, name, what string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := errors.Join(os.WriteFile(path, []byte("#!/bin/sh\necho "+what+"\n"), 0o755), os.Chmod(path, 0o755)); err != nil {
		t.Fatal(err)
	}
}

// startOutput starts path as id through the API, waits for the job and
// returns its output as the API reports it.
func startOutput(t *testing.T, s *testenv.Server, id testenv.Identity, path string) string {
	t.Helper()
	job := s.StartJob(t, id, path)
	s.Wait(t, job)
	r := s.Call(t, id, "GET", idPath("/query", job), "")
	var j api.Job
	r.Decode(t, &j)
	if j.Output == nil {
		return ""
	}
	return *j.Output
}

// startStatus sends POST /start for path as id and returns the answer.
func startStatus(t *testing.T, s *testenv.Server, id testenv.Identity, path string) testenv.Response {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"filePath": path})
	return s.Call(t, id, "POST", "/start", string(b))
}

// TestJobsDirBehindSwitchedSymlink checks that a jobs directory reached
// through a symlink follows the symlink: switched to a new release, the
// next start runs the new release's file, and removing the old release
// changes nothing.
func TestJobsDirBehindSwitchedSymlink(t *testing.T) {
	base := t.TempDir()
	for _, rel := range []string{"v1", "v2"} {
		if err := os.Mkdir(filepath.Join(base, rel), 0o755); err != nil {
			t.Fatal(err)
		}
		writeJob(t, filepath.Join(base, rel), "which.sh", rel)
	}
	current := filepath.Join(base, "current")
	if err := os.Symlink("v1", current); err != nil {
		t.Fatal(err)
	}
	s := testenv.Serve(t, worker.Config{JobsDir: current})
	bob := s.IDs["bob"]
	if got := startOutput(t, s, bob, "which.sh"); got != "v1\n" {
		t.Fatalf("before the switch: output %q, want v1", got)
	}
	// Switch as a deployment does: a new link renamed over the old one.
	next := filepath.Join(base, "next")
	if err := errors.Join(os.Symlink("v2", next), os.Rename(next, current)); err != nil {
		t.Fatal(err)
	}
	if got := startOutput(t, s, bob, "which.sh"); got != "v2\n" {
		t.Errorf("after the switch: output %q, want v2", got)
	}
	if err := os.RemoveAll(filepath.Join(base, "v1")); err != nil {
		t.Fatal(err)
	}
	if got := startOutput(t, s, bob, "which.sh"); got != "v2\n" {
		t.Errorf("after removing the old release: output %q, want v2", got)
	}
	r := s.Call(t, bob, "GET", "/files", "")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"which.sh"`) {
		t.Errorf("GET /files after the switch: %d %s", r.Status, r.Body)
	}
}

// TestJobsDirRemovedAndRestored checks that a start while the jobs
// directory is missing is refused with 503 jobs_dir_unavailable (not a 404
// of the file), logged, and that starts work again once it is back.
func TestJobsDirRemovedAndRestored(t *testing.T) {
	jobs := testenv.JobsDir(t)
	s := testenv.Serve(t, worker.Config{JobsDir: jobs})
	bob := s.IDs["bob"]
	moved := jobs + ".away"
	if err := os.Rename(jobs, moved); err != nil {
		t.Fatal(err)
	}
	r := startStatus(t, s, bob, "add.exe")
	var e api.Error
	r.Decode(t, &e)
	if r.Status != http.StatusServiceUnavailable || e.Code != "jobs_dir_unavailable" {
		t.Errorf("start without a jobs directory: %d %s, want 503 jobs_dir_unavailable", r.Status, r.Body)
	}
	if strings.Contains(e.Error, jobs) {
		t.Errorf("the answer names the server's path: %q", e.Error)
	}
	s.Logs.WaitFor(t, `"level":"error"`, r.Header.Get("X-Request-Id"), "jobs directory "+jobs+" is missing")
	if r := s.Call(t, bob, "GET", "/files", ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("GET /files without a jobs directory: %d %s, want 503", r.Status, r.Body)
	}

	if err := os.Rename(moved, jobs); err != nil {
		t.Fatal(err)
	}
	if got := startOutput(t, s, bob, "echo.sh"); got != "\n" {
		t.Errorf("echo.sh without arguments: output %q, want an empty line", got)
	}
	if r := startStatus(t, s, bob, "add.exe"); r.Status != http.StatusOK {
		t.Errorf("start once the jobs directory is back: %d %s", r.Status, r.Body)
	}
}

// TestDataDirRemovedParts checks that the directories of output and of
// working directories, removed under a running server, are made again with
// their modes and logged, and that an output directory that cannot be
// made again refuses starts with 503 store_unavailable.
func TestDataDirRemovedParts(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	bob := s.IDs["bob"]
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"output", 0o700}, {"work", 0o711}} {
		dir := filepath.Join(s.DataDir, d.name)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if got := startOutput(t, s, bob, "slow.sh"); got != "before\nafter\n" {
			t.Errorf("with %s removed: output %q, want before and after", d.name, got)
		}
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatalf("%s was not made again: %v", d.name, err)
		}
		if got := info.Mode().Perm(); got != d.mode {
			t.Errorf("%s made again with mode %04o, want %04o", d.name, got, d.mode)
		}
		s.Logs.WaitFor(t, `"level":"warn"`, dir+" was missing, and was made again")
	}

	// A file where the output directory was: it cannot be made again.
	out := filepath.Join(s.DataDir, "output")
	if err := errors.Join(os.RemoveAll(out), os.WriteFile(out, nil, 0o600)); err != nil {
		t.Fatal(err)
	}
	r := startStatus(t, s, bob, "add.exe")
	var e api.Error
	r.Decode(t, &e)
	if r.Status != http.StatusServiceUnavailable || e.Code != api.CodeStoreUnavailable {
		t.Errorf("start with no output directory to be had: %d %s, want 503 %s", r.Status, r.Body, api.CodeStoreUnavailable)
	}
	s.Logs.WaitFor(t, `"level":"error"`, r.Header.Get("X-Request-Id"), "output directory "+out+" cannot be used")
}
