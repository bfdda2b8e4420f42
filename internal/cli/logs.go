package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rw-project/rw/internal/api"

	ucli "github.com/urfave/cli/v2"
)

func logsCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "logs",
		Usage: "write a job's output to stdout",
		UsageText: `rw logs [-f] ID

   Writes the job's raw output bytes (stdout and stderr merged, as the job
   wrote them) from the first byte. With -f it follows new output until the
   job ends; Ctrl-C ends it quietly.

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
		// Without -f the whole answer is bounded by --timeout.
		ctx = c.Context
	}
	out, err := conn.Logs(ctx, id, c.Bool("follow"))
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
	if !c.Bool("follow") || c.Context.Err() != nil {
		return nil
	}
	// A follow stream also ends when the server shuts down: say so rather
	// than let a shortened output pass for the whole.
	qctx, cancel := conn.bounded(c.Context)
	defer cancel()
	job, err := conn.Query(qctx, id)
	if err != nil {
		return explain(conn, fmt.Errorf("the output of job %d ended, and its status could not be checked: %w", id, err))
	}
	if !api.FinalStatus(job.Status) {
		return fmt.Errorf("the output of job %d ended while the job is %s: the server may be shutting down", id, job.Status)
	}
	return nil
}
