// Package state keeps the client's small state file: the server that
// 'rw connect' checked, and the identity it connected with. The file is
// written atomically with mode 0600. It knows nothing of how the server is
// reached.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// State is what 'rw connect' remembers.
type State struct {
	// Server is the HOST:PORT that was connected to.
	Server string `json:"server"`
	// User and Role are the identity's, as its certificate names them.
	User string `json:"user"`
	Role string `json:"role"`
	// The files of the identity, as absolute paths.
	Cert  string `json:"cert"`
	Key   string `json:"key"`
	CA    string `json:"ca"`
	Token string `json:"token"`
}

// ErrNotConnected means there is no state file: 'rw connect' never
// succeeded.
var ErrNotConnected = errors.New("not connected")

// DefaultPath returns rw/state.json under the user's configuration
// directory.
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory: %w", err)
	}
	return filepath.Join(dir, "rw", "state.json"), nil
}

// Load reads the state at path. A missing file is ErrNotConnected.
func Load(path string) (State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, ErrNotConnected
	}
	if err != nil {
		return State{}, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%s is damaged: %w", path, err)
	}
	if s.Server == "" {
		return State{}, ErrNotConnected
	}
	return s, nil
}

// Save writes s to path atomically: a temporary file beside it, synced, then
// renamed, so a reader never sees half a file and a crash never leaves one.
func Save(path string, s State) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".state-*.json")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(append(b, '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}
