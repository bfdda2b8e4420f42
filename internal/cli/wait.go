package cli

import (
	"fmt"
	"io"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/client"
	ucli "github.com/urfave/cli/v2"
)

func waitCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "wait",
		Usage: "wait for jobs to end and exit with their exit code",
		UsageText: `rw wait ID...

   Blocks until each job has ended and prints its exit code on a line of
   its own, in the order given. Exits as docker wait does: with the job's
   exit code for one ID, with the first that is not 0 for several. A job
   that ended without an exit code (stopped before it started, or unable to
   start) prints nothing on stdout and an error on stderr, and counts as 1.
   Ctrl-C exits 130 and leaves the jobs running.

EXAMPLES:
   rw wait 7
   id=$(rw start counter.sh 5) && rw wait "$id" && echo done
   rw wait 7 8 9`,
		Flags:  connectionFlags(),
		Action: waitAction,
	}
}

func waitAction(c *ucli.Context) error {
	ids, err := jobIDs(c)
	if err != nil {
		return err
	}
	conn, _, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	code := exitOK
	for _, id := range ids {
		// From the end of the output so far: the bytes are thrown away,
		// and a long output must not cross the network for nothing.
		none := int64(0)
		job, err := followToEnd(c, conn, id, io.Discard, client.LogsOptions{TailBytes: &none})
		if c.Context.Err() != nil {
			return exitStatus(exitInterrupted)
		}
		if err == nil && job.ExitCode != nil {
			fmt.Fprintln(c.App.Writer, *job.ExitCode)
		}
		if err == nil {
			err = jobExitCode(job)
		}
		n := exitOK
		if err != nil {
			n = report(c.App.ErrWriter, err)
		}
		if code == exitOK {
			code = n
		}
	}
	if code == exitOK {
		return nil
	}
	return exitStatus(code)
}

// followToEnd copies job id's output, from where opts says, to w until the job ends, and returns
// the job in its final status. A follow stream also ends when the server
// shuts down: that is an error, rather than a shortened output passing for
// the whole. The stream is bounded only by c's context, that is Ctrl-C.
func followToEnd(c *ucli.Context, conn *connection, id int64, w io.Writer, opts client.LogsOptions) (api.Job, error) {
	opts.Follow = true
	out, err := conn.LogsFrom(c.Context, id, opts)
	if err != nil {
		return api.Job{}, explain(conn, err)
	}
	defer out.Close()
	if w != io.Discard {
		// rw wait shows no output, so it skips none.
		sayGap(c.App.ErrWriter, id, out)
	}
	if _, err := io.Copy(w, out); err != nil {
		return api.Job{}, explain(conn, err)
	}
	qctx, cancel := conn.bounded(c.Context)
	defer cancel()
	job, err := conn.Query(qctx, id)
	if err != nil {
		return api.Job{}, explain(conn, fmt.Errorf("the output of job %d ended, and its status could not be checked: %w", id, err))
	}
	if !api.FinalStatus(job.Status) {
		return api.Job{}, fmt.Errorf("the output of job %d ended while the job is %s: the server may be shutting down", id, job.Status)
	}
	return job, nil
}

// sayGap says on w, before the stream, that a followed stream of job id
// skips output, if the server said so: its output went past the server's
// output cap before the stream began, so what came after the kept bytes
// and before what the server still holds is gone.
func sayGap(w io.Writer, id int64, out *client.LogStream) {
	if out.GapAt < 0 {
		return
	}
	fmt.Fprintf(w, "rw: job %d's output passed the server's --max-output before this stream began: after its first %d bytes (all that is kept), output no longer held is skipped; following live from there\n", id, out.GapAt)
}

// jobExitCode turns an ended job into rw's exit, as rw wait and rw logs -f
// end: quietly with the job's exit code, or with an error for a job that
// has none.
func jobExitCode(job api.Job) error {
	switch {
	case job.ExitCode != nil && *job.ExitCode == 0:
		return nil
	case job.ExitCode != nil:
		return exitStatus(*job.ExitCode)
	case job.Status == api.StatusFailed:
		return fmt.Errorf("job %d could not start, so it has no exit code: %s", job.ID, job.Error)
	}
	return fmt.Errorf("job %d was %s before it started, so it has no exit code", job.ID, job.Status)
}

// jobIDs reads the one or more ID arguments of a command.
func jobIDs(c *ucli.Context) ([]int64, error) {
	if c.NArg() < 1 {
		return nil, usagef("%s takes one or more job IDs", c.Command.Name)
	}
	var ids []int64
	for _, a := range c.Args().Slice() {
		id, err := parseJobID(a)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func inspectCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "inspect",
		Usage: "print a job in full, as indented JSON",
		UsageText: `rw inspect ID

   Prints the job as the API gives it: status, exit code, reason, error,
   times, limits, usage, time limit and isolation, indented. See the
   README's "A job" for every field.

EXAMPLES:
   rw inspect 7
   rw inspect 7 | jq .usage`,
		Flags: connectionFlags(),
		Action: func(c *ucli.Context) error {
			id, err := jobID(c)
			if err != nil {
				return err
			}
			conn, ctx, cleanup, err := newClient(c)
			if err != nil {
				return err
			}
			defer cleanup()
			job, err := conn.Query(ctx, id)
			if err != nil {
				return explain(conn, err)
			}
			return writeJSON(c.App.Writer, job)
		},
	}
}
