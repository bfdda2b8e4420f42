// Package ondisk is how rw keeps its own files: where they live by default,
// and how they are written so that a reader never sees half of one and a
// crash never leaves one. The client's state, the PKI, and later the job
// store and output files use it.
//
// It knows nothing of what the files hold.
package ondisk

import (
	"fmt"
	"os"
	"path/filepath"
)

// ConfigDir returns rw's directory under the user's configuration directory
// ($XDG_CONFIG_HOME/rw, or ~/.config/rw), joined with elem.
func ConfigDir(elem ...string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory: %w", err)
	}
	return filepath.Join(append([]string{dir, "rw"}, elem...)...), nil
}

// StateDir returns where a server keeps its state (job records and
// output) unless told otherwise: /var/lib/rw for root, as system services
// do, and $XDG_STATE_HOME/rw (~/.local/state/rw) for anyone else.
func StateDir() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/lib/rw", nil
	}
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "rw"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "rw"), nil
}

// Staged is a file written in full under a temporary name beside its
// destination, waiting for Commit to rename it into place or Discard to
// remove it.
type Staged struct {
	tmp, path string
}

// Stage writes data to a temporary file beside path, with mode set before
// the first byte is written (so a private key is never readable by others,
// not even for a moment), and syncs it, so that the rename that follows
// never exposes a half-written file.
func Stage(path string, data []byte, mode os.FileMode) (*Staged, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &Staged{tmp: tmp, path: path}, nil
}

// Commit renames the staged file into place, replacing what was there.
func (s *Staged) Commit() error {
	if err := os.Rename(s.tmp, s.path); err != nil {
		os.Remove(s.tmp)
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

// Discard removes the staged file.
func (s *Staged) Discard() {
	os.Remove(s.tmp)
}

// Path is the file's destination.
func (s *Staged) Path() string { return s.path }

// WriteFile writes data to path atomically with mode, creating path's
// directory (mode 0700) if it is missing.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	s, err := Stage(path, data, mode)
	if err != nil {
		return err
	}
	return s.Commit()
}

// CommitAll renames every staged file into place, in order. If one fails,
// the ones not yet renamed are removed and the error says which failed;
// those already renamed stay.
func CommitAll(files []*Staged) error {
	for i, f := range files {
		if err := f.Commit(); err != nil {
			for _, rest := range files[i+1:] {
				rest.Discard()
			}
			return err
		}
	}
	return nil
}

// DiscardAll removes every staged file.
func DiscardAll(files []*Staged) {
	for _, f := range files {
		f.Discard()
	}
}
