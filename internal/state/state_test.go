package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSaveAndLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rw", "state.json")
	if _, err := Load(path); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Load of a missing file: %v", err)
	}
	want := State{Server: "localhost:3000", User: "alice", Role: "admin", Cert: "/c", Key: "/k", CA: "/ca", Token: "/t"}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil || got != want {
		t.Fatalf("Load = %+v, %v; want %+v", got, err, want)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	// Saving again replaces the file and leaves no temporary behind.
	want.Server = "other:1"
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only state.json", len(entries))
	}
	if got, _ := Load(path); got.Server != "other:1" {
		t.Errorf("second Save not read back: %+v", got)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || errors.Is(err, ErrNotConnected) {
		t.Errorf("damaged file: %v", err)
	}
}
