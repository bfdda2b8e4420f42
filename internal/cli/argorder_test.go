package cli

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	tests := []struct {
		name string
		args string
		want string
	}{
		{"flag after the id", "rw logs 7 -f", "rw logs -f 7"},
		{"flag with its value", "rw stop 7 --user alice", "rw stop --user alice 7"},
		{"value after =", "rw stop 7 --user=alice", "rw stop --user=alice 7"},
		{"flags on both sides", "rw logs -f 7 --timeout 5s", "rw logs -f --timeout 5s 7"},
		{"global flags first", "rw --user bob logs 7 -f", "rw --user bob logs -f 7"},
		{"connect", "rw connect 127.0.0.1:3000 --user alice", "rw connect --user alice 127.0.0.1:3000"},
		{"several ids", "rw rm 7 --user bob 8", "rw rm --user bob 7 8"},
		{"-- ends the flags", "rw rm 7 -- -f 8", "rw rm -- 7 -f 8"},
		{"flags before --", "rw rm 7 --user bob -- 8", "rw rm --user bob -- 7 8"},
		{"unknown flag", "rw logs 7 --bogus x", "rw logs --bogus 7 x"},
		{"help after the id", "rw logs 7 -h", "rw logs --help"},
		{"a value that looks like help", "rw logs 7 --user -h", "rw logs --user -h 7"},
		{"start keeps the job's words", "rw start add.exe --memory 64MiB", "rw start add.exe --memory 64MiB"},
		{"start's flags before PATH", "rw start --memory 64MiB add.exe -f", "rw start --memory 64MiB add.exe -f"},
		{"start help before PATH", "rw start -h add.exe", "rw start --help"},
		{"start help after PATH is the job's", "rw start add.exe -h", "rw start add.exe -h"},
		{"run keeps the job's words", "rw run add.exe 1 --user bob", "rw run add.exe 1 --user bob"},
		{"no command", "rw --user bob", "rw --user bob"},
		{"unknown command", "rw frobnicate 7 -f", "rw frobnicate 7 -f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := newApp(io.Discard, io.Discard)
			got := strings.Join(reorderArgs(app, strings.Fields(tc.args)), " ")
			if got != tc.want {
				t.Errorf("reorderArgs(%q) = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
}

// TestReorderArgsKeepsInput checks that the caller's slice is left alone.
func TestReorderArgsKeepsInput(t *testing.T) {
	args := []string{"rw", "logs", "7", "-f"}
	before := slices.Clone(args)
	reorderArgs(newApp(io.Discard, io.Discard), args)
	if !slices.Equal(args, before) {
		t.Errorf("args changed to %q, want %q", args, before)
	}
}
