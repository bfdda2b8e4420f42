package cli

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/rw-project/rw/internal/state"
	ucli "github.com/urfave/cli/v2"
)

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "print the version of rw and of the server it is connected to",
		UsageText: `rw version

   Prints this rw's version (its module version, or the commit it was built
   from) and, when connected, the server's, as 'docker version' does. When not
   connected, or when the server cannot be asked, it says the server's is
   unknown and why, and still succeeds. rw --version prints this rw's only.

EXAMPLES:
   rw version
   rw version --server localhost:3000 --user bob`,
		Flags:  connectionFlags(),
		Action: versionAction,
	}
}

func versionAction(c *ucli.Context) error {
	if c.Args().Present() {
		return usagef("version takes no arguments, got %q", c.Args().First())
	}
	w := c.App.Writer
	fmt.Fprintf(w, "rw client: %s\n", versionString())
	server, why := serverVersion(c)
	if why != "" {
		fmt.Fprintf(w, "rw server: unknown (%s)\n", why)
		return nil
	}
	fmt.Fprintf(w, "rw server: %s\n", server)
	return nil
}

// serverVersion asks the server rw is connected to for its version; when it
// cannot, it says why instead, in a few words for the version line.
func serverVersion(c *ucli.Context) (version, why string) {
	conn, ctx, cleanup, err := newClient(c)
	if err != nil {
		path, perr := statePath()
		if perr == nil && lookup(c, "server") == "" {
			if _, lerr := state.Load(path); errors.Is(lerr, state.ErrNotConnected) {
				return "", "not connected"
			}
		}
		return "", err.Error()
	}
	defer cleanup()
	v, err := conn.Version(ctx)
	if err != nil {
		return "", fmt.Sprintf("%s: %v", conn.server, explain(conn, err))
	}
	return v, ""
}

// versionString describes the build: the module version when rw was built
// as a module (go install ...@v1.2.3), and the commit, its time and whether
// the tree had changes when it was built from a clone, all of which the Go
// toolchain stamps into the binary.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module support)"
	}
	var revision, built string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			built = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	version := info.Main.Version
	if version == "" || version == "(devel)" {
		version = revision
	}
	if version == "" {
		// go run and go test stamp neither a version nor a commit.
		return "unknown (built without version control information: build with 'go build' in a clone)"
	}
	var details []string
	if revision != "" {
		details = append(details, "commit "+revision)
	}
	if built != "" {
		details = append(details, built)
	}
	if modified {
		details = append(details, "modified")
	}
	if len(details) == 0 {
		return version
	}
	return fmt.Sprintf("%s (%s)", version, strings.Join(details, ", "))
}
