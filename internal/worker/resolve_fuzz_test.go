//go:build linux

package worker

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenExecutable checks the jobs directory's path resolution: whatever
// the path, what opens is an executable regular file inside the directory,
// and what is refused is refused with ErrNotAllowed or ErrNoSuchFile.
func FuzzOpenExecutable(f *testing.F) {
	base := f.TempDir()
	jobs := filepath.Join(base, "jobs")
	for _, d := range []string{jobs, filepath.Join(jobs, "sub"), filepath.Join(jobs, "loop")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	write := func(path string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			f.Fatal(err)
		}
	}
	write(filepath.Join(jobs, "add.exe"), 0o755)
	write(filepath.Join(jobs, "sub", "b.sh"), 0o755)
	write(filepath.Join(jobs, "notexec.txt"), 0o644)
	write(filepath.Join(base, "outside.sh"), 0o755)
	for link, target := range map[string]string{
		"in.sh":        "add.exe",
		"sub/up.sh":    "../add.exe",
		"out.sh":       "../outside.sh",
		"abs.sh":       filepath.Join(base, "outside.sh"),
		"sh":           "/bin/sh",
		"loop/a":       "b",
		"loop/b":       "a",
		"subdir":       "sub",
		"dangling.sh":  "nowhere.sh",
		"sub/deep/x":   "../../add.exe",
		"sub/escape":   "../..",
		"sub/selfloop": ".",
	} {
		path := filepath.Join(jobs, link)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			f.Fatal(err)
		}
	}
	root, err := os.OpenRoot(jobs)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	// The files a path may open: the executables inside.
	var allowed []os.FileInfo
	for _, p := range []string{"add.exe", "sub/b.sh"} {
		info, err := os.Stat(filepath.Join(jobs, p))
		if err != nil {
			f.Fatal(err)
		}
		allowed = append(allowed, info)
	}

	// The property below holds trivially if everything is refused: it is
	// not.
	for _, ok := range []string{"add.exe", "in.sh", "sub/up.sh", "subdir/b.sh"} {
		file, err := openExecutableIn(root, ok)
		if err != nil {
			f.Fatalf("%q: %v", ok, err)
		}
		file.Close()
	}
	for _, seed := range []string{
		"add.exe", "./add.exe", "sub/b.sh", "sub/../add.exe", "in.sh", "sub/up.sh", "subdir/b.sh", "sub/deep/x",
		"", "/bin/sh", "../outside.sh", "out.sh", "abs.sh", "sh", "loop/a", "dangling.sh", "notexec.txt", "sub",
		".", "..", "sub/escape/outside.sh", "sub/selfloop/b.sh", "add.exe\x00", "add.exe/", "sub//b.sh",
		"ADD.EXE", "add.exe/.", "sub/./../sub/b.sh", "\\..\\outside.sh", "%2e%2e/outside.sh", "nope.exe",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		file, err := openExecutableIn(root, name)
		if err != nil {
			if !errors.Is(err, ErrNotAllowed) && !errors.Is(err, ErrNoSuchFile) {
				t.Fatalf("%q: %v, want ErrNotAllowed or ErrNoSuchFile", name, err)
			}
			return
		}
		defer file.Close()
		info, err := file.Stat()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range allowed {
			if os.SameFile(info, a) {
				return
			}
		}
		t.Fatalf("%q opened %s, which is not an executable inside the jobs directory", name, info.Name())
	})
}
