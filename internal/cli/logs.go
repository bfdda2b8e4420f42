package cli

import (
	"context"
	"errors"
	"io"

	"github.com/rw-project/rw/internal/client"

	ucli "github.com/urfave/cli/v2"
)

func logsCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "logs",
		Usage: "write a job's output to stdout",
		UsageText: `rw logs [-f] [--tail N | --tail-bytes N] ID

   Writes the job's raw output bytes (stdout and stderr merged, as the job
   wrote them) from the first byte, or with --tail N from the start of its
   last N lines (--tail-bytes N: its last N bytes); the server finds them
   from the end without reading the whole output. With -f it follows new
   output until the job ends, then exits with the job's exit code, as rw
   wait does (a job that never ran exits 1, saying so); Ctrl-C ends it
   quietly, exit 130. -f --tail 0 shows only new output.

EXAMPLES:
   rw logs 7 > out.bin
   id=$(rw start counter.sh 30) && rw logs -f --tail 10 "$id"
   rw logs --tail 10 7
   rw logs -f 7 | grep -m1 ready`,
		Flags: append([]ucli.Flag{
			&ucli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow the output until the job ends"},
			&ucli.Int64Flag{Name: "tail", Aliases: []string{"n"}, Usage: "start at the last `N` lines of the output"},
			&ucli.Int64Flag{Name: "tail-bytes", Usage: "start at the last `N` bytes of the output"},
		}, connectionFlags()...),
		Action: logsAction,
	}
}

func logsAction(c *ucli.Context) error {
	id, err := jobID(c)
	if err != nil {
		return err
	}
	opts, err := tailOptions(c)
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
		job, err := followToEnd(c, conn, id, c.App.Writer, opts)
		if c.Context.Err() != nil {
			return exitStatus(exitInterrupted)
		}
		if err != nil {
			return err
		}
		return jobExitCode(job)
	}
	// Without -f the whole answer is bounded by --timeout.
	out, err := conn.LogsFrom(ctx, id, opts)
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

// tailOptions reads --tail and --tail-bytes, of which at most one may be
// given.
func tailOptions(c *ucli.Context) (client.LogsOptions, error) {
	var opts client.LogsOptions
	if c.IsSet("tail") && c.IsSet("tail-bytes") {
		return opts, usagef("give --tail or --tail-bytes, not both")
	}
	for _, f := range []struct {
		name string
		dst  **int64
	}{{"tail", &opts.TailLines}, {"tail-bytes", &opts.TailBytes}} {
		if !c.IsSet(f.name) {
			continue
		}
		n := c.Int64(f.name)
		if n < 0 {
			return opts, usagef("--%s %d: give a count from 0", f.name, n)
		}
		*f.dst = &n
	}
	return opts, nil
}
