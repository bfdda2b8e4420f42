//go:build linux

package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

func TestFilesListsWhatMayBeStarted(t *testing.T) {
	jobs := testenv.JobsDir(t)
	outside := t.TempDir()
	write := func(path string, mode os.FileMode) {
		t.Helper()
		if err := errors.Join(os.MkdirAll(filepath.Dir(path), 0o755), os.WriteFile(path, []byte("#!/bin/sh\n"), mode), os.Chmod(path, mode)); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(jobs, "sub", "deep", "tool.sh"), 0o750)
	write(filepath.Join(outside, "secret.sh"), 0o755)
	for _, link := range []struct{ target, name string }{
		{"sleep.sh", "inside-link"},                         // stays inside: listed
		{filepath.Join(outside, "secret.sh"), "escape-abs"}, // leaves: not listed
		{"../" + filepath.Base(outside) + "/secret.sh", "escape-rel"},
		{outside, "outside-dir"}, // a directory outside: not walked
		{".", "loop"},            // a directory link: not walked
	} {
		if err := os.Symlink(link.target, filepath.Join(jobs, link.name)); err != nil {
			t.Fatal(err)
		}
	}
	s := testenv.Serve(t, worker.Config{JobsDir: jobs})
	r := s.Call(t, s.IDs["bob"], "GET", "/files", "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /files: %d %s", r.Status, r.Body)
	}
	var list api.FileList
	r.Decode(t, &list)
	var paths []string
	for _, f := range list.Files {
		paths = append(paths, f.Path)
	}
	want := []string{"add.exe", "echo.sh", "exit3.sh", "ignore.sh", "inside-link", "lines.sh", "sleep.sh", "slow.sh", "sub/deep/tool.sh", "zeros.sh"}
	if !slices.Equal(paths, want) || list.Truncated {
		t.Errorf("got %q (truncated %v), want %q (not truncated)", paths, list.Truncated, want)
	}
	for _, f := range list.Files {
		if f.Path == "sub/deep/tool.sh" && (f.Mode != "0750" || f.Size != int64(len("#!/bin/sh\n")) || f.ModTime.IsZero()) {
			t.Errorf("tool.sh: got %+v, want mode 0750, size 10 and a modification time", f)
		}
	}
	// Every listed file starts.
	for _, p := range paths {
		if p == "sleep.sh" || p == "inside-link" || p == "ignore.sh" {
			continue // they run until stopped
		}
		s.Wait(t, s.StartJob(t, s.IDs["alice"], p))
	}
}

func TestFilesIsBounded(t *testing.T) {
	jobs := t.TempDir()
	for i := range api.MaxFiles + 1 {
		path := filepath.Join(jobs, fmt.Sprintf("job%05d.sh", i))
		if err := errors.Join(os.WriteFile(path, nil, 0o755), os.Chmod(path, 0o755)); err != nil {
			t.Fatal(err)
		}
	}
	s := testenv.Serve(t, worker.Config{JobsDir: jobs})
	r := s.Call(t, s.IDs["alice"], "GET", "/files", "")
	var list api.FileList
	r.Decode(t, &list)
	if len(list.Files) != api.MaxFiles || !list.Truncated {
		t.Errorf("got %d files, truncated %v; want %d, truncated", len(list.Files), list.Truncated, api.MaxFiles)
	}
}

func TestFilesByRole(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	// Whoever may start jobs may list what there is to start.
	s.IDs["mona"] = s.Issue(t, "mona", "monitor")
	for name, want := range map[string]int{"alice": http.StatusOK, "bob": http.StatusOK, "mona": http.StatusForbidden, "carol": http.StatusForbidden} {
		if r := s.Call(t, s.IDs[name], "GET", "/files", ""); r.Status != want {
			t.Errorf("%s: status %d %s, want %d", name, r.Status, r.Body, want)
		}
	}
	if r := s.Call(t, s.IDs["alice"], "POST", "/files", ""); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST /files: status %d, want 405", r.Status)
	}
}
