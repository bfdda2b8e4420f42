package cli

import (
	"fmt"
	"slices"

	ucli "github.com/urfave/cli/v2"
)

func helpCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "help",
		Usage: "show the commands, or one command's help",
		UsageText: `rw help [COMMAND]

   The same as 'rw --help' and 'rw COMMAND --help'.

EXAMPLES:
   rw help
   rw help start`,
		Action: func(c *ucli.Context) error {
			switch c.NArg() {
			case 0:
				return ucli.ShowAppHelp(c)
			case 1:
			default:
				return usagef("help takes one command, got %d words", c.NArg())
			}
			name := c.Args().First()
			if findCommand(c.App, name) == nil {
				return unknownCommand(c.App, name)
			}
			// The help of a command is looked up among the commands of the
			// context given: the app's, one up from help's own.
			return ucli.ShowCommandHelp(c.Lineage()[1], name)
		},
	}
}

// findCommand returns app's command named name (or with name as an alias),
// or nil.
func findCommand(app *ucli.App, name string) *ucli.Command {
	for _, cmd := range app.Commands {
		if cmd.HasName(name) {
			return cmd
		}
	}
	return nil
}

// unknownCommand is the usage error for a command rw does not have, with
// the nearest name there is when one is near enough to be a typo.
func unknownCommand(app *ucli.App, name string) error {
	err := usagef("unknown command %q", name)
	if near := nearestCommand(app, name); near != "" {
		return withHint(err, "did you mean '%s'?", near)
	}
	return err
}

// nearestCommand returns the visible command name (or alias) closest to
// name, if it is at most two edits away and name is not mostly edits: one
// for names of up to four letters. A transposition ("strat") is one edit.
func nearestCommand(app *ucli.App, name string) string {
	limit := 2
	if len(name) <= 4 {
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, cmd := range app.VisibleCommands() {
		for _, n := range cmd.Names() {
			if d := editDistance(name, n); d < bestDist {
				best, bestDist = n, d
			}
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes, each one edit.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = slices.Min([]int{d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + cost})
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// bashCompletion asks rw itself for the words that can come next, as
// urfave/cli's bash_autocomplete script does, without needing the
// bash-completion package and without eval.
const bashCompletion = `# bash completion for rw: source <(rw completion bash)
_rw_complete() {
	local cur="${COMP_WORDS[COMP_CWORD]}"
	local words=("${COMP_WORDS[@]:0:COMP_CWORD}")
	local opts
	if [[ "$cur" == -* ]]; then
		opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _rw_complete rw
`

// zshCompletion is urfave/cli's zsh_autocomplete script for rw.
const zshCompletion = `#compdef rw
# zsh completion for rw: source <(rw completion zsh), or save it as _rw
# in a directory of $fpath

_rw_complete() {
	local -a opts
	local cur
	cur=${words[-1]}
	if [[ "$cur" == "-"* ]]; then
		opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
	else
		opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
	fi
	if [[ "${opts[1]}" != "" ]]; then
		_describe 'values' opts
	else
		_files
	fi
}

compdef _rw_complete rw
`

func completionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "completion",
		Usage: "print a shell completion script (bash, zsh or fish)",
		UsageText: `rw completion bash|zsh|fish

   Prints a script that completes rw's commands and flags in the shell
   named; the shell asks rw itself what can come next.

EXAMPLES:
   source <(rw completion bash)                # in ~/.bashrc
   source <(rw completion zsh)                 # in ~/.zshrc, after compinit
   rw completion fish > ~/.config/fish/completions/rw.fish`,
		Action: func(c *ucli.Context) error {
			if c.NArg() != 1 {
				return usagef("completion takes one shell: bash, zsh or fish")
			}
			w := c.App.Writer
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := fmt.Fprint(w, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(w, zshCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("fish completion: %w", err)
				}
				_, err = fmt.Fprint(w, script)
				return err
			default:
				return usagef("no completion for %q: the shells are bash, zsh and fish", shell)
			}
		},
	}
}

func manCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "man",
		Usage: "print rw's manual page",
		UsageText: `rw man

   Prints the manual page, in section 1, in the man format, made from the
   same text as the help.

EXAMPLES:
   rw man | man -l -
   rw man > /usr/local/share/man/man1/rw.1`,
		Action: func(c *ucli.Context) error {
			if c.Args().Present() {
				return usagef("man takes no arguments; use 'rw help COMMAND' for one command")
			}
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return fmt.Errorf("manual page: %w", err)
			}
			_, err = fmt.Fprint(c.App.Writer, page)
			return err
		},
	}
}
