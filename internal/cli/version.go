package cli

import (
	"fmt"
	"runtime/debug"

	ucli "github.com/urfave/cli/v2"
)

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "print the version of rw",
		UsageText: `rw version

   Prints the module version and the commit the binary was built from (also
   rw --version).

EXAMPLES:
   rw version`,
		Action: func(c *ucli.Context) error {
			fmt.Fprintln(c.App.Writer, "rw", versionString())
			return nil
		},
	}
}

// versionString reads the module version and the VCS commit that the Go
// toolchain stamps into the binary.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var commit, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if commit != "" {
		return fmt.Sprintf("%s (commit %s%s)", version, commit, modified)
	}
	return version
}
