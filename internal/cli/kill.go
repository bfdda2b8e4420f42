package cli

import (
	"time"

	ucli "github.com/urfave/cli/v2"
)

func killCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "kill",
		Usage: "kill a job at once with SIGKILL and print it in its final status",
		UsageText: `rw kill ID

   'rw stop --time 0': the job gets SIGKILL, with no SIGTERM and no grace
   period first, everything in it included; a queued one never starts.
   Prints the job as 'rw ls' does once it has ended. A job being stopped
   is killed at once too.

EXAMPLES:
   rw kill 7
   id=$(rw start ignore-term.sh) && rw kill "$id"`,
		Flags: connectionFlags(),
		Action: func(c *ucli.Context) error {
			id, err := jobID(c)
			if err != nil {
				return err
			}
			var now time.Duration
			return stopJob(c, id, &now)
		},
	}
}
