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

	"github.com/rw-project/rw/internal/ondisk"
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
	return ondisk.ConfigDir("state.json")
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

// Save writes s to path atomically with mode 0600, creating its directory
// if needed: a reader never sees half a file and a crash never leaves one.
func Save(path string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := ondisk.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
