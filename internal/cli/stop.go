package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/client"
	ucli "github.com/urfave/cli/v2"
)

func stopCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "stop",
		Usage: "stop a job and print it in its final status",
		UsageText: `rw stop [--time D] ID

   A running job gets SIGTERM, then SIGKILL after the grace period: the
   server's (--stop-timeout), or --time, which may be shorter but not
   longer; --time 0 kills at once, as 'rw kill'. A queued one never starts.
   Waits for the job to end, up to the grace period plus --timeout, and
   prints it as 'rw ls' does; when that takes more than a second, says on
   stderr when SIGKILL is due. Stopping a job being stopped can only bring
   its SIGKILL forward; stopping a job that already ended prints it
   unchanged.

EXAMPLES:
   rw stop 7
   rw stop --time 3s 7
   id=$(rw start ignore-term.sh) && rw stop "$id"   # SIGKILL after the grace period`,
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "time", Aliases: []string{"t"}, Usage: "grace period between SIGTERM and SIGKILL, at most the server's: a duration (3s) or seconds (3)", DefaultText: "the server's"},
		}, connectionFlags()...),
		Action: func(c *ucli.Context) error {
			id, err := jobID(c)
			if err != nil {
				return err
			}
			grace, err := graceFlag(c)
			if err != nil {
				return err
			}
			return stopJob(c, id, grace)
		},
	}
}

// graceFlag reads --time: nil when not given.
func graceFlag(c *ucli.Context) (*time.Duration, error) {
	if !c.IsSet("time") {
		return nil, nil
	}
	v := c.String("time")
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.Atoi(v); nerr == nil {
		// Seconds, as docker stop --time takes them.
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < 0 {
		return nil, usagef("--time %q: give a grace period such as 3s, or 0 to kill at once", v)
	}
	return &d, nil
}

// slowStop is how long a stop waits before it says what it waits for.
const slowStop = time.Second

// stopJob stops job id with grace (the server's if nil), waits for it to
// end and prints it as rw ls does. A stop that takes more than slowStop
// says on stderr when SIGKILL is due, so that a wait for a job that
// ignores SIGTERM is not silent.
func stopJob(c *ucli.Context, id int64, grace *time.Duration) error {
	// A stop may take the server's grace period on top of --timeout, which
	// Stop learns from the server and bounds itself: the context of one
	// request is not the one to give it.
	conn, _, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	type answer struct {
		job api.Job
		err error
	}
	sending := make(chan time.Duration, 1)
	answered := make(chan answer, 1)
	// The stop runs on its own goroutine so that this one can speak while
	// it waits; the goroutine ends with the request, which --timeout and
	// the grace period bound.
	go func() {
		job, err := conn.Stop(c.Context, id, conn.timeout, client.StopOptions{
			Grace:   grace,
			Sending: func(d time.Duration) { sending <- d },
		})
		answered <- answer{job, err}
	}()
	var a answer
	select {
	case a = <-answered:
	case g := <-sending:
		sent := time.Now()
		slow := time.NewTimer(slowStop)
		defer slow.Stop()
		select {
		case a = <-answered:
		case <-slow.C:
			fmt.Fprintf(c.App.ErrWriter, "rw: stopping job %d: %s\n", id, killDue(g-time.Since(sent)))
			a = <-answered
		}
	}
	if a.err != nil {
		return explain(conn, a.err)
	}
	fmt.Fprintln(c.App.Writer, shortLine(a.job))
	return nil
}

// killDue says when a stop's SIGKILL is due, left from now, in whole
// seconds rounded up: "in 0s" would say it is sent.
func killDue(left time.Duration) string {
	if left <= 0 {
		return "SIGKILL sent"
	}
	return fmt.Sprintf("SIGTERM sent, SIGKILL in %v", (left + time.Second - 1).Truncate(time.Second))
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
