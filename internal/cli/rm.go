package cli

import (
	"errors"
	"fmt"

	"github.com/rw-project/rw/internal/client"
	ucli "github.com/urfave/cli/v2"
)

func rmCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "rm",
		Usage: "remove ended jobs: their records and their output",
		UsageText: `rw rm ID...

   Removes each job, which must have ended, with its output; its id is
   never given again. A job still running is left as it is: stop it first.
   Prints the id of each job removed. Goes on past a job it cannot remove,
   and exits 1 if there was one.

EXAMPLES:
   rw rm 7
   rw rm 7 8 9`,
		Flags:  connectionFlags(),
		Action: rmAction,
	}
}

func rmAction(c *ucli.Context) error {
	ids, err := jobIDs(c)
	if err != nil {
		return err
	}
	conn, ctx, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	var failed error
	for _, id := range ids {
		if _, err := conn.Remove(ctx, id); err != nil {
			if errors.Is(err, client.ErrConflict) {
				err = withHint(explain(conn, err), "stop it first: rw stop %d && rw rm %d", id, id)
			} else {
				err = explain(conn, err)
			}
			report(c.App.ErrWriter, fmt.Errorf("remove job %d: %w", id, err))
			failed = exitStatus(exitFailure)
			continue
		}
		fmt.Fprintln(c.App.Writer, id)
	}
	return failed
}
