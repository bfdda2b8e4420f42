package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	ucli "github.com/urfave/cli/v2"
)

// metaArgs keys the command line as given in the app's Metadata.
const metaArgs = "args"

// printConfig prints every flag of the command with its effective value
// and where that came from: the command line, the environment, or the
// default. It reads the flags only: nothing is checked, made or opened.
func printConfig(c *ucli.Context) error {
	args, _ := c.App.Metadata[metaArgs].([]string)
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FLAG\tVALUE\tSOURCE")
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if name == "print-config" {
			continue
		}
		fmt.Fprintf(tw, "--%s\t%s\t%s\n", name, flagValue(c, name), flagSource(f, args))
	}
	return tw.Flush()
}

// flagValue writes a flag's value as it would be given on the command
// line.
func flagValue(c *ucli.Context, name string) string {
	switch v := c.Value(name).(type) {
	case ucli.StringSlice:
		return strings.Join(v.Value(), ",")
	case *ucli.StringSlice:
		return strings.Join(v.Value(), ",")
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// flagSource says where a flag's value came from: "flag" when args give
// it (by any of its names), "env" when one of its variables is set,
// "default" otherwise.
func flagSource(f ucli.Flag, args []string) string {
	for _, name := range f.Names() {
		// Only flag words: a value that happens to spell a flag's name
		// ("--data-dir pki") is not that flag.
		if slices.ContainsFunc(args, func(a string) bool {
			n, _ := flagName(a)
			return isFlag(a) && n == name
		}) {
			return "flag"
		}
	}
	if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
		for _, env := range ef.GetEnvVars() {
			if _, set := os.LookupEnv(env); set {
				return "env"
			}
		}
	}
	return "default"
}
