//go:build !linux

package cli

import (
	"errors"
	"runtime"

	ucli "github.com/urfave/cli/v2"
)

// errNeedsLinux is what server-side commands say off Linux: jobs run in
// Linux process groups, cgroups and namespaces, which other systems lack.
var errNeedsLinux = errors.New("rw serve needs Linux: jobs run in Linux process groups, cgroups and namespaces")

// serveCommand is rw serve where it cannot run: it takes any arguments and
// flags, so that every form of the command gets the same answer.
func serveCommand() *ucli.Command {
	return &ucli.Command{
		Name:            "serve",
		Usage:           "run the rw server (needs Linux)",
		UsageText:       "rw serve [options]\n\n   The server runs on Linux only; the client commands work here.",
		SkipFlagParsing: true,
		Action: func(*ucli.Context) error {
			return withHint(errNeedsLinux, "run rw serve on a Linux host; on %s, use the client commands, such as rw connect, rw start and rw ls", runtime.GOOS)
		},
	}
}
