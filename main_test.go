package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit checks dist/rw.service with systemd's own verifier where
// systemd is installed. The binary's path is the one thing the test host
// lacks: a copy of the unit runs /bin/true in its place.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: cannot verify dist/rw.service")
	}
	unit, err := os.ReadFile("dist/rw.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/rw serve ") {
		t.Fatal("dist/rw.service no longer starts /usr/local/bin/rw serve")
	}
	copy := filepath.Join(t.TempDir(), "rw.service")
	text := strings.Replace(string(unit), "ExecStart=/usr/local/bin/rw serve", "ExecStart=/bin/true serve", 1)
	if err := os.WriteFile(copy, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copy).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
