package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/client"
	ucli "github.com/urfave/cli/v2"
)

// exitCannotRun is rw run's exit code for a job that was accepted but could
// not be started, as docker run has it.
const exitCannotRun = 126

func runCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "run",
		Usage: "start a job, stream its output and exit with its exit code",
		UsageText: `rw run [--memory SIZE] [--cpus N] [--pids N] [--io-read RATE] [--io-write RATE] [--time-limit D] [--isolate] PATH [ARGS...]

   Like 'ssh host cmd' or 'docker run': starts the job, writes its output to
   stdout as it comes, and exits with the job's exit code. The first Ctrl-C
   stops the job (its exit code then says how it ended, 143 for SIGTERM);
   a second one leaves at once, exit 130, and the server goes on stopping it.
   A job that could not be started exits 126.

EXAMPLES:
   rw run add.exe 8 10
   rw run counter.sh 3 && echo done
   rw run fail.sh 4; echo "exit $?"
   rw run --memory 64MiB --pids 32 add.exe 1 2`,
		Flags:  append(requestLimitFlags(), connectionFlags()...),
		Action: runAction,
	}
}

func runAction(c *ucli.Context) error {
	if c.NArg() < 1 {
		return usagef("run needs the PATH of an executable in the server's jobs directory")
	}
	opts, err := startOptions(c)
	if err != nil {
		return err
	}
	hintFlagsAfterPath(c, c.App.ErrWriter)
	// The requests below have contexts of their own: see the signals.
	conn, _, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()

	// rw run handles its own signals: the first stops the job, the second
	// leaves. The stream must outlive the first, so it does not use the
	// command's context, which the first signal ends.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, leave := context.WithCancel(context.Background())
	defer leave()

	startCtx, cancel := conn.bounded(ctx)
	job, err := conn.Start(startCtx, c.Args().First(), c.Args().Tail(), opts)
	cancel()
	if err != nil {
		return explain(conn, err)
	}
	if job.Reason == api.ReasonStartFailed {
		// The answer says so already: there is no output to follow.
		return jobExit(job, false)
	}
	out, err := conn.Logs(ctx, job.ID, true)
	if err != nil {
		return explain(conn, err)
	}
	defer out.Close()
	sayGap(c.App.ErrWriter, job.ID, out)

	var wg sync.WaitGroup
	defer wg.Wait()
	streamed := make(chan struct{})
	defer close(streamed)
	var stopped atomic.Bool // the first signal came and the job is being stopped
	// The goroutines below read the id alone: job is read again at the end.
	id := job.ID
	if job.Status == api.StatusQueued {
		wg.Go(func() { sayQueued(ctx, conn, id, streamed, c.App.ErrWriter) })
	}
	wg.Go(func() {
		select {
		case <-sigs:
		case <-streamed:
			return
		}
		fmt.Fprintf(c.App.ErrWriter, "rw: stopping job %d (Ctrl-C again to leave it)\n", id)
		stopped.Store(true)
		stopEnded := make(chan struct{})
		wg.Go(func() {
			defer close(stopEnded)
			if _, err := conn.Stop(ctx, id, conn.timeout, client.StopOptions{}); err != nil && ctx.Err() == nil {
				// Its hint too, as rw's own errors have: rw run goes on.
				report(c.App.ErrWriter, fmt.Errorf("stop job %d: %w", id, explain(conn, err)))
			}
		})
		select {
		case <-sigs:
			// Leaving ends the stop request: the server must have it
			// first, or the job would run on.
			waitStopping(ctx, conn, id, stopEnded, sigs)
			leave()
		case <-streamed:
		}
	})

	_, copyErr := io.Copy(c.App.Writer, out)
	if ctx.Err() != nil {
		return exitStatus(exitInterrupted)
	}
	if copyErr != nil {
		return explain(conn, fmt.Errorf("output of job %d: %w", job.ID, copyErr))
	}
	if api.FinalStatus(job.Status) {
		// It had ended when the server answered the start.
		return jobExit(job, false)
	}
	queryCtx, cancel := conn.bounded(ctx)
	defer cancel()
	job, err = conn.Query(queryCtx, job.ID)
	if err != nil {
		return explain(conn, err)
	}
	return jobExit(job, stopped.Load())
}

// stoppingPoll is how often rw run, asked to leave, looks whether the
// server has its stop yet.
const stoppingPoll = 20 * time.Millisecond

// waitStopping returns once the server has taken the stop of job id (the
// job is stopping, or has ended), the stop request has ended (stopEnded),
// the server cannot tell (a query fails), another signal comes, or the
// request timeout passes: a second signal may come before the stop
// request the first one sent has reached the server, and leaving ends that
// request.
func waitStopping(ctx context.Context, conn *connection, id int64, stopEnded <-chan struct{}, sigs <-chan os.Signal) {
	ctx, cancel := conn.bounded(ctx)
	defer cancel()
	for {
		job, err := conn.Query(ctx, id)
		if err != nil || job.Status == api.StatusStopping || api.FinalStatus(job.Status) {
			return
		}
		select {
		case <-stopEnded:
			return
		case <-sigs:
			return
		case <-ctx.Done():
			return
		case <-time.After(stoppingPoll):
		}
	}
}

// queuedWait is how long rw run waits silently for a queued job to start.
const queuedWait = time.Second

// sayQueued says on w that job id waits for a worker, and how many jobs
// are ahead of it, if it still does after queuedWait, so that a run that
// prints nothing says why. It ends then, or when the stream has ended
// (done).
func sayQueued(ctx context.Context, conn *connection, id int64, done <-chan struct{}, w io.Writer) {
	wait := time.NewTimer(queuedWait)
	defer wait.Stop()
	select {
	case <-wait.C:
	case <-done:
		return
	}
	qctx, cancel := conn.bounded(ctx)
	defer cancel()
	job, err := conn.Query(qctx, id)
	if err != nil || job.Status != api.StatusQueued {
		return // the stream says what happens next
	}
	if job.QueuePosition != nil {
		fmt.Fprintf(w, "rw: waiting for a worker (%d ahead)\n", *job.QueuePosition)
		return
	}
	fmt.Fprintln(w, "rw: waiting for a worker")
}

// jobExit turns a final job into rw run's exit.
func jobExit(job api.Job, interrupted bool) error {
	switch {
	case job.ExitCode != nil && *job.ExitCode == 0:
		return nil
	case job.ExitCode != nil:
		return exitStatus(*job.ExitCode)
	case job.Status == api.StatusStopped && interrupted:
		return exitStatus(exitInterrupted)
	case job.Status == api.StatusStopped:
		return fmt.Errorf("job %d was stopped before it started", job.ID)
	case job.Status == api.StatusFailed:
		return &exitError{code: exitCannotRun, err: fmt.Errorf("job %d could not run: %s", job.ID, job.Error)}
	}
	return errors.New("the output ended before the job did: the server may be shutting down")
}
