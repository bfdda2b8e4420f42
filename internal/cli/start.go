package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"
)

func startCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "start",
		Usage: "start a job and print its id",
		UsageText: `rw start PATH [ARGS...]

   PATH is relative to the server's jobs directory. Everything after PATH
   reaches the job as it is, strings, without a shell, even words that look
   like flags (and a --, which is passed on too). rw's own flags go before
   PATH; put -- before a PATH that starts with '-'. Prints only the id, so
   that id=$(rw start ...) works.

EXAMPLES:
   rw start add.exe 8 10
   id=$(rw start build.sh --verbose) && rw logs -f "$id"
   rw start --user bob add.exe -5 7`,
		Flags:  connectionFlags(),
		Action: startAction,
	}
}

func startAction(c *ucli.Context) error {
	if c.NArg() < 1 {
		return usagef("start needs the PATH of an executable in the server's jobs directory")
	}
	conn, ctx, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	job, err := conn.Start(ctx, c.Args().First(), c.Args().Tail())
	if err != nil {
		return explain(conn, err)
	}
	fmt.Fprintln(c.App.Writer, job.ID)
	return nil
}
