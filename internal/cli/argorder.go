package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// urfave/cli, like Go's flag package, stops reading flags at the first
// argument that is not one: 'rw logs 7 -f' would see "-f" as a second ID.
// docker and kubectl take flags anywhere, so rw moves a command's flags
// ahead of its arguments before urfave/cli reads them.

// jobArgsCommands are the commands whose words after PATH belong to the
// job, even those that look like flags: their flags go before PATH.
var jobArgsCommands = []string{"start", "run"}

// completionFlag ends the command line of a completion script asking what
// can come next.
const completionFlag = "--generate-bash-completion"

// reorderArgs returns args (args[0] is the program name) with the flags of
// the command moved ahead of its arguments, each with its value. A "--"
// ends the flags: what follows it stays an argument, after a "--" of its
// own. A help flag among the command's flags asks for the command's help
// alone, since urfave/cli would take the first argument as a help topic.
// The commands in jobArgsCommands keep their order: only a help flag
// before PATH counts.
func reorderArgs(app *ucli.App, args []string) []string {
	if args[len(args)-1] == completionFlag {
		// The shell asks what comes next, and urfave/cli looks for its
		// flag at the end.
		return args
	}
	i := 1
	for i < len(args) && isFlag(args[i]) {
		i += flagWords(app.Flags, args[i:])
	}
	if i >= len(args) {
		return args
	}
	var cmd *ucli.Command
	for _, c := range app.Commands {
		if c.HasName(args[i]) {
			cmd = c
		}
	}
	if cmd == nil {
		return args
	}
	head, rest := args[:i+1], args[i+1:]
	var flags, positional []string
	ended := false // a "--" was seen
	help := false  // a help flag was seen
	for j := 0; j < len(rest); {
		switch {
		case ended:
			positional = append(positional, rest[j])
			j++
		case rest[j] == "--":
			ended = true
			j++
		case isFlag(rest[j]):
			n := flagWords(cmd.Flags, rest[j:])
			help = help || isHelpFlag(rest[j])
			flags = append(flags, rest[j:j+n]...)
			j += n
		case slices.Contains(jobArgsCommands, cmd.Name):
			// PATH: the rest is the job's.
			if help {
				return append(slices.Clone(head), "--help")
			}
			return args
		default:
			positional = append(positional, rest[j])
			j++
		}
	}
	if help {
		return append(slices.Clone(head), "--help")
	}
	out := append(slices.Clone(head), flags...)
	if ended {
		out = append(out, "--")
	}
	return append(out, positional...)
}

// isFlag reports whether arg is spelled as a flag: "-" alone is an
// argument (stdin, for some), "--" ends the flags.
func isFlag(arg string) bool {
	return len(arg) > 1 && arg[0] == '-' && arg != "--"
}

// flagName is the name of the flag arg spells: "--user=bob" is "user".
func flagName(arg string) (name string, hasValue bool) {
	name, _, hasValue = strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name, hasValue
}

// flagWords returns how many words of args, which starts with a flag, that
// flag takes: two for a flag with its value in the next word, else one.
// A flag not in flags counts one word, and urfave/cli then refuses it.
func flagWords(flags []ucli.Flag, args []string) int {
	name, hasValue := flagName(args[0])
	if hasValue || len(args) < 2 {
		return 1
	}
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		if v, ok := f.(interface{ TakesValue() bool }); ok && v.TakesValue() {
			return 2
		}
		return 1
	}
	return 1
}

// isHelpFlag reports whether arg, a flag, asks for help.
func isHelpFlag(arg string) bool {
	name, _ := flagName(arg)
	return name == "h" || name == "help"
}

// hintFlagsAfterPath tells the user of start or run that words after PATH
// spelled as the command's own flags went to the job, and where rw's flags
// go: 'rw start add.exe --memory 64MiB' gives add.exe "--memory" "64MiB",
// which is seldom what was meant. The job still starts: such words are the
// job's to take.
func hintFlagsAfterPath(c *ucli.Context, w io.Writer) {
	words := c.Args().Slice()
	for j := 1; j < len(words); j++ {
		if !isFlag(words[j]) {
			continue
		}
		name, _ := flagName(words[j])
		if !slices.ContainsFunc(c.Command.Flags, func(f ucli.Flag) bool { return slices.Contains(f.Names(), name) }) {
			continue
		}
		n := flagWords(c.Command.Flags, words[j:])
		moved := slices.Concat([]string{"rw", c.Command.Name}, words[j:j+n], words[:1])
		fmt.Fprintf(w, "rw: hint: %s after PATH went to the job; flags go before PATH: %s ...\n", words[j], strings.Join(moved, " "))
		return
	}
}
