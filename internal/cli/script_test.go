package cli

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary run as the rw command inside the scripts, so
// that they exercise the real command line: argument parsing, output and
// exit codes included.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"rw": func() { os.Exit(Run(context.Background(), os.Args, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the command-line scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "../../testdata/script",
		Setup: func(env *testscript.Env) error {
			// Keep every default path inside the script's work directory.
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/config")
			env.Setenv("HOME", env.WorkDir+"/home")
			return nil
		},
	})
}
