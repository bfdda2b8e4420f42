package cli

import (
	"context"
	"errors"
	"io"

	ucli "github.com/urfave/cli/v2"
)

func logsCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "logs",
		Usage: "write a job's output to stdout",
		UsageText: `rw logs [-f] ID

   Writes the job's raw output bytes (stdout and stderr merged, as the job
   wrote them) from the first byte. With -f it follows new output until the
   job ends, then exits with the job's exit code, as rw wait does (a job
   that never ran exits 1, saying so); Ctrl-C ends it quietly, exit 130.

EXAMPLES:
   rw logs 7 > out.bin
   rw logs -f 7 | grep -m1 ready`,
		Flags: append([]ucli.Flag{
			&ucli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow the output until the job ends"},
		}, connectionFlags()...),
		Action: logsAction,
	}
}

func logsAction(c *ucli.Context) error {
	id, err := jobID(c)
	if err != nil {
		return err
	}
	conn, ctx, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	if c.Bool("follow") {
		// A followed stream lasts as long as the job: only Ctrl-C ends it.
		job, err := followToEnd(c, conn, id, c.App.Writer)
		if c.Context.Err() != nil {
			return exitStatus(exitInterrupted)
		}
		if err != nil {
			return err
		}
		return jobExitCode(job)
	}
	// Without -f the whole answer is bounded by --timeout.
	out, err := conn.Logs(ctx, id, false)
	if err != nil {
		if c.Context.Err() != nil {
			return nil // Ctrl-C before the first byte
		}
		return explain(conn, err)
	}
	defer out.Close()
	if _, err := io.Copy(c.App.Writer, out); err != nil {
		if c.Context.Err() != nil {
			return nil // Ctrl-C: the user is done reading
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return withHint(err, "the output is larger than --timeout allows; raise it, or use -f")
		}
		return explain(conn, err)
	}
	return nil
}
