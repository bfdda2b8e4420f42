package ondisk

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f.json")
	for _, data := range []string{"first", "second"} {
		if err := WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read back %q, %v; want %q", got, err, data)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	if info, err := os.Stat(filepath.Dir(path)); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v, %v; want mode 0700", info.Mode(), err)
	}
	assertEntries(t, filepath.Dir(path), "f.json")
}

func TestStageDiscardAndCommitAll(t *testing.T) {
	dir := t.TempDir()
	a, err := Stage(filepath.Join(dir, "a"), []byte("a"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Stage(filepath.Join(dir, "b"), []byte("b"), 0o400)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing is in place before the commit.
	if _, err := os.Stat(a.Path()); !os.IsNotExist(err) {
		t.Errorf("staged file is in place before its commit: %v", err)
	}
	DiscardAll([]*Staged{a, b})
	assertEntries(t, dir)

	a, _ = Stage(filepath.Join(dir, "a"), []byte("a"), 0o644)
	// A destination that cannot take the rename: a directory in its way.
	if err := os.Mkdir(filepath.Join(dir, "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ = Stage(filepath.Join(dir, "b"), []byte("b"), 0o600)
	c, _ := Stage(filepath.Join(dir, "c"), []byte("c"), 0o600)
	if err := CommitAll([]*Staged{a, b, c}); err == nil {
		t.Fatal("CommitAll over a non-empty directory succeeded")
	}
	// a was renamed before the failure; b's and c's temporaries are gone.
	assertEntries(t, dir, "a", "b")
}

func TestStateDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	t.Setenv("HOME", "/home/u")
	got, err := StateDir()
	want := "/state/rw"
	if os.Geteuid() == 0 {
		want = "/var/lib/rw"
	}
	if err != nil || got != want {
		t.Errorf("StateDir = %q, %v; want %q", got, err, want)
	}
	if os.Geteuid() != 0 {
		t.Setenv("XDG_STATE_HOME", "")
		if got, _ := StateDir(); got != "/home/u/.local/state/rw" {
			t.Errorf("StateDir without XDG_STATE_HOME = %q, want ~/.local/state/rw", got)
		}
	}
}

func TestConfigDir(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	got, err := ConfigDir("pki")
	if err != nil || got != "/cfg/rw/pki" {
		t.Errorf("ConfigDir = %q, %v; want /cfg/rw/pki", got, err)
	}
}

// assertEntries checks that dir holds exactly names.
func assertEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("%s holds %v, want %v", dir, got, names)
		}
	}
}
