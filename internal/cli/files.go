package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	ucli "github.com/urfave/cli/v2"
)

func filesCommand() *ucli.Command {
	return &ucli.Command{
		Name:    "files",
		Aliases: []string{"ls-files"},
		Usage:   "list the programs you may start",
		UsageText: `rw files [-l | --json]

   The executables in the server's jobs directory, one path a line, as
   rw start takes them: regular files with an execute bit, subdirectories
   included, symlinks only where they stay inside the directory. -l adds
   mode, size and modification time. At most 10000 are listed; past that
   rw says so on stderr.

EXAMPLES:
   rw files
   rw files -l
   rw files --json | jq -r '.files[].path'`,
		Flags: append([]ucli.Flag{
			&ucli.BoolFlag{Name: "long", Aliases: []string{"l"}, Usage: "an aligned table with mode, size and modification time"},
			&ucli.BoolFlag{Name: "json", Usage: "print the API's JSON"},
		}, connectionFlags()...),
		Action: filesAction,
	}
}

func filesAction(c *ucli.Context) error {
	if c.NArg() > 0 {
		return usagef("files takes no arguments")
	}
	if c.Bool("long") && c.Bool("json") {
		return usagef("give -l or --json, not both")
	}
	conn, ctx, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	list, err := conn.Files(ctx)
	if err != nil {
		return explain(conn, err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, list)
	}
	if c.Bool("long") {
		tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MODE\tSIZE\tMODIFIED\tPATH")
		for _, f := range list.Files {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Mode, sizeText(f.Size), f.ModTime.Local().Format(time.DateTime), f.Path)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else {
		for _, f := range list.Files {
			fmt.Fprintln(c.App.Writer, f.Path)
		}
	}
	if list.Truncated {
		fmt.Fprintf(c.App.ErrWriter, "rw: only the first %d files are listed: the jobs directory holds more\n", len(list.Files))
	}
	if len(list.Files) == 0 && isTerminal(c.App.Writer) {
		fmt.Fprintln(c.App.ErrWriter, "no executables in the jobs directory")
	}
	return nil
}
