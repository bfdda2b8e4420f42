//go:build !linux

package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServeNeedsLinux checks that rw serve, in every form, says it needs
// Linux and exits 1 where it cannot run.
func TestServeNeedsLinux(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no flags", []string{"rw", "serve"}},
		{"flags", []string{"rw", "serve", "--addr", "localhost:3000", "--jobs-dir", "jobs"}},
		{"help", []string{"rw", "serve", "--help"}},
		{"print config", []string{"rw", "serve", "--print-config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), tc.args, &stdout, &stderr)
			if code != exitFailure || !strings.HasPrefix(stderr.String(), "rw: error: rw serve needs Linux") || stdout.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and only an error that rw serve needs Linux", code, stdout.String(), stderr.String())
			}
		})
	}
}
