// Package cli is the rw command line: one file per subcommand, all built on
// urfave/cli. It owns the output rules below and the exit codes; everything
// else (serving, talking to the server, the PKI) lives in the packages it
// calls.
//
// Output rules, for every command: data goes to stdout, diagnostics to stderr
// as "rw: error: ..." followed by "rw: hint: ..." lines when there is a next
// step to suggest, lower case and without a trailing period.
//
// Exit codes:
//
//	0    success
//	1    a failure reported by the server, the network or the system
//	2    a usage error (bad arguments or flags)
//	N    rw run, rw wait, rw logs -f: the job's own exit code (128+S if a
//	     signal S killed it)
//	126  rw run: the server accepted the job but could not start it
//	130  interrupted by Ctrl-C (for rw run, the second one), or rw run's job
//	     was stopped before it started
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	ucli "github.com/urfave/cli/v2"
)

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitInterrupted is what shells report for a command ended by SIGINT;
	// rw run also uses it when left with a second Ctrl-C, or when its job
	// was stopped before it started.
	exitInterrupted = 130
)

// usageError marks an error in the command line itself; command, when
// known, names the command whose help to suggest.
type usageError struct{ msg, command string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// hintError carries an error and the next step a user can take.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// exitError ends rw with code, printing err unless it is nil: rw run passes
// the job's exit code through this way.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitStatus ends rw quietly with code.
func exitStatus(code int) error { return &exitError{code: code} }

// withHint attaches a hint line to err.
func withHint(err error, format string, args ...any) error {
	return &hintError{err: err, hint: fmt.Sprintf(format, args...)}
}

// newApp builds the rw command line writing to stdout and stderr. Every call
// makes fresh command values, since urfave/cli changes them as it runs, and
// the list below is the order help shows them in: the server's setup first,
// then the client commands in the order a user meets them.
func newApp(stdout, stderr io.Writer) *ucli.App {
	commands := []*ucli.Command{
		genCertsCommand(),
		serveCommand(),
		connectCommand(),
		filesCommand(),
		startCommand(),
		stopCommand(),
		killCommand(),
		rmCommand(),
		lsCommand(),
		logsCommand(),
		waitCommand(),
		inspectCommand(),
		runCommand(),
		versionCommand(),
		helpCommand(),
		completionCommand(),
		manCommand(),
	}
	for _, cmd := range commands {
		// rw help COMMAND is the one help command: without this, urfave/cli
		// gives every command a help subcommand of its own, which the
		// completions would offer.
		cmd.HideHelpCommand = true
		// A bad flag is a usage error with a one-line hint, not a page of
		// help on stdout.
		cmd.OnUsageError = func(c *ucli.Context, err error, _ bool) error {
			return &usageError{msg: err.Error(), command: c.Command.Name}
		}
	}
	return &ucli.App{
		Name:      "rw",
		Usage:     "run jobs on a remote worker over mutual TLS",
		Version:   versionString(),
		Writer:    stdout,
		ErrWriter: stderr,
		Commands:  commands,
		// urfave/cli adds --help only to an app without a help command.
		Flags: append(connectionFlags(), ucli.HelpFlag),
		// rw's own help command takes its place: urfave/cli's would take
		// a mistyped name for a help topic.
		HideHelpCommand: true,
		// The completion scripts ask rw for the words that can come next.
		EnableBashCompletion: true,
		// Errors are printed by Run, once, in the rw format.
		ExitErrHandler: func(*ucli.Context, error) {},
		OnUsageError: func(_ *ucli.Context, err error, _ bool) error {
			return &usageError{msg: err.Error()}
		},
		Action: func(c *ucli.Context) error {
			if c.Args().Present() {
				return unknownCommand(c.App, c.Args().First())
			}
			return ucli.ShowAppHelp(c)
		},
	}
}

// Run runs the rw command line with args (args[0] is the program name) and
// returns the process exit code. Only main exits. It may be called more than
// once in a process: each call builds its own app.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	// The command line as given, for rw serve --print-config to say which
	// values came from it.
	app.Metadata = map[string]any{metaArgs: args}
	err := app.RunContext(ctx, reorderArgs(app, args))
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Ctrl-C during a request: the user knows why it ended.
		fmt.Fprintln(stderr, "rw: interrupted")
		return exitInterrupted
	}
	return report(stderr, err)
}

// report prints err in the rw format and returns its exit code.
func report(stderr io.Writer, err error) int {
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err == nil {
			return ee.code
		}
		code = ee.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		code = exitUsage
	}
	fmt.Fprintf(stderr, "rw: error: %s\n", err)
	var he *hintError
	if errors.As(err, &he) {
		fmt.Fprintf(stderr, "rw: hint: %s\n", he.hint)
	} else if ue != nil && ue.command != "" {
		fmt.Fprintf(stderr, "rw: hint: see 'rw %s --help'\n", ue.command)
	} else if ue != nil {
		fmt.Fprintln(stderr, "rw: hint: see 'rw --help' or 'rw COMMAND --help'")
	}
	return code
}
