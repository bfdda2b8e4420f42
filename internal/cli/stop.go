package cli

import (
	"fmt"
	"strconv"

	"github.com/rw-project/rw/internal/client"
	ucli "github.com/urfave/cli/v2"
)

func stopCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "stop",
		Usage: "stop a job and print it in its final status",
		UsageText: `rw stop ID

   A running job gets SIGTERM, then SIGKILL after the server's grace period;
   a queued one never starts. Waits for the job to end, up to the grace
   period plus --timeout, and prints it as 'rw ls' does. Stopping a job that
   already ended prints it unchanged.

EXAMPLES:
   rw stop 7
   id=$(rw start ignore-term.sh) && rw stop "$id"   # SIGKILL after the grace period`,
		Flags:  connectionFlags(),
		Action: stopAction,
	}
}

func stopAction(c *ucli.Context) error {
	id, err := jobID(c)
	if err != nil {
		return err
	}
	// A stop may take the server's grace period on top of --timeout, which
	// Stop learns from the server and bounds itself: the context of one
	// request is not the one to give it.
	conn, _, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	job, err := conn.Stop(c.Context, id, conn.timeout, client.StopOptions{})
	if err != nil {
		return explain(conn, err)
	}
	fmt.Fprintln(c.App.Writer, shortLine(job))
	return nil
}

// jobID reads the one ID argument of a command.
func jobID(c *ucli.Context) (int64, error) {
	if c.NArg() != 1 {
		return 0, usagef("%s takes one job ID", c.Command.Name)
	}
	return parseJobID(c.Args().First())
}

// parseJobID reads one job ID argument.
func parseJobID(a string) (int64, error) {
	id, err := strconv.ParseInt(a, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef("%q is not a job ID: ids are integers from 1", a)
	}
	return id, nil
}
