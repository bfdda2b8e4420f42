package cli

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestRunTwice checks that Run leaves nothing behind that changes a later
// run in the same process: urfave/cli changes the commands it runs, so each
// run must build its own.
func TestRunTwice(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"version", []string{"rw", "version"}, exitOK},
		{"bad flag", []string{"rw", "ls", "--bogus"}, exitUsage},
		{"command help", []string{"rw", "stop", "--help"}, exitOK},
		{"unknown command", []string{"rw", "frobnicate"}, exitUsage},
		{"help command", []string{"rw", "help", "logs"}, exitOK},
		{"completion", []string{"rw", "completion", "fish"}, exitOK},
		{"manual page", []string{"rw", "man"}, exitOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var first string
			for i := range 2 {
				var stdout, stderr bytes.Buffer
				code := Run(context.Background(), tc.args, &stdout, &stderr)
				if code != tc.code {
					t.Errorf("run %d: exit %d, want %d; stderr:\n%s", i+1, code, tc.code, stderr.String())
				}
				got := stdout.String() + "\x00" + stderr.String()
				if i == 0 {
					first = got
				} else if got != first {
					t.Errorf("the second run printed\n%s\nthe first\n%s", got, first)
				}
			}
		})
	}
}

// TestHelpOrder checks that help lists the commands in the order newApp
// gives them: setting up first, then the client commands as a user meets
// them.
func TestHelpOrder(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"rw", "--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	_, commands, ok := strings.Cut(stdout.String(), "COMMANDS:\n")
	if !ok {
		t.Fatalf("no COMMANDS section in\n%s", stdout.String())
	}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^   (\S+) `).FindAllStringSubmatch(commands, -1) {
		if strings.HasPrefix(m[1], "-") {
			break // the global options
		}
		got = append(got, m[1])
	}
	want := []string{"gen-certs", "serve", "connect", "files,", "start", "stop", "kill", "rm", "ls,", "logs", "wait", "inspect", "run", "version", "help", "completion", "man"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("help lists %v, want %v", got, want)
	}
}

func TestNearestCommand(t *testing.T) {
	tests := []struct{ typed, want string }{
		{"strat", "start"},
		{"stpo", "stop"},
		{"lgos", "logs"},
		{"sl", "ls"},
		{"conect", "connect"},
		{"gencerts", "gen-certs"},
		{"versoin", "version"},
		{"frobnicate", ""},
		{"x", ""},
		{"stat", "start"},
	}
	app := newApp(io.Discard, io.Discard)
	for _, tc := range tests {
		if got := nearestCommand(app, tc.typed); got != tc.want {
			t.Errorf("nearestCommand(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
}
