package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/rw-project/rw/internal/api"
	ucli "github.com/urfave/cli/v2"
)

func startCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "start",
		Usage: "start a job and print its id",
		UsageText: `rw start [--memory SIZE] [--cpus N] [--pids N] [--io-read RATE] [--io-write RATE] [--time-limit D] [--isolate] PATH [ARGS...]

   PATH is relative to the server's jobs directory. Everything after PATH
   reaches the job as it is, strings, without a shell, even words that look
   like flags (and a --, which is passed on too). rw's own flags go before
   PATH; put -- before a PATH that starts with '-'. Prints only the id, so
   that id=$(rw start ...) works. The limit flags cap what the job may use
   (sizes and rates in bytes, or with KiB, MiB, GiB; 0 for no limit); what
   is not given takes the server's default, and the server refuses what is
   over its maxima. Limits need a server with cgroups.

EXAMPLES:
   rw files
   rw start add.exe 8 10
   id=$(rw start counter.sh 5) && rw logs -f "$id"
   rw start --user bob add.exe -5 7
   rw start --memory 256MiB --cpus 0.5 --pids 64 add.exe 1 2`,
		Flags:  append(requestLimitFlags(), connectionFlags()...),
		Action: startAction,
	}
}

func startAction(c *ucli.Context) error {
	if c.NArg() < 1 {
		return usagef("start needs the PATH of an executable in the server's jobs directory")
	}
	opts, err := startOptions(c)
	if err != nil {
		return err
	}
	hintFlagsAfterPath(c, c.App.ErrWriter)
	conn, ctx, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	job, err := conn.Start(ctx, c.Args().First(), c.Args().Tail(), opts)
	if err != nil {
		return explain(conn, err)
	}
	fmt.Fprintln(c.App.Writer, job.ID)
	return startFailure(ctx, conn, job)
}

// spawnWait bounds how long rw start watches a new job for a failure to
// start: spawning takes milliseconds, and a job still waiting for a worker
// after this is left to it.
const spawnWait = time.Second

// spawnPoll is how often rw start asks again about a job that has not
// left the queue or starting yet.
const spawnPoll = 10 * time.Millisecond

// startFailure watches a job that was just accepted until it runs, ends or
// spawnWait passes, so that a job that could not start (an interpreter
// that does not exist, a file that is not a program) is an error, exit 1,
// and not an id that looks like success. The server answers POST /start
// once a job that a free worker took has left starting, so that answer
// tells already, and no second request is sent. A job answered queued
// waits for a busy worker, and one answered starting has taken the
// server's whole wait: both are asked about again every spawnPoll, the
// first time after one too, since asking at once would find them as they
// were.
func startFailure(ctx context.Context, conn *connection, job api.Job) error {
	deadline := time.Now().Add(spawnWait)
	for spawnPending(job) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(spawnPoll):
		}
		var err error
		if job, err = conn.Query(ctx, job.ID); err != nil {
			return nil // it was accepted: what it does next is rw ls's to tell
		}
	}
	if job.Reason == api.ReasonStartFailed {
		return withHint(fmt.Errorf("job %d: %s", job.ID, job.Error), "rw inspect %d shows the job", job.ID)
	}
	return nil
}

// spawnPending reports whether job has yet to show whether it could start.
func spawnPending(job api.Job) bool {
	return job.Status == api.StatusQueued || job.Status == api.StatusStarting
}
