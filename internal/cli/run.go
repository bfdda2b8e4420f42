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
	out, err := conn.Logs(ctx, job.ID, true)
	if err != nil {
		return explain(conn, err)
	}
	defer out.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	streamed := make(chan struct{})
	defer close(streamed)
	var stopped atomic.Bool // the first signal came and the job is being stopped
	wg.Go(func() {
		select {
		case <-sigs:
		case <-streamed:
			return
		}
		fmt.Fprintf(c.App.ErrWriter, "rw: stopping job %d (Ctrl-C again to leave it)\n", job.ID)
		stopped.Store(true)
		wg.Go(func() {
			if _, err := conn.Stop(ctx, job.ID, conn.timeout, client.StopOptions{}); err != nil && ctx.Err() == nil {
				fmt.Fprintf(c.App.ErrWriter, "rw: error: stop job %d: %v\n", job.ID, explain(conn, err))
			}
		})
		select {
		case <-sigs:
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
	queryCtx, cancel := conn.bounded(ctx)
	defer cancel()
	job, err = conn.Query(queryCtx, job.ID)
	if err != nil {
		return explain(conn, err)
	}
	return jobExit(job, stopped.Load())
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
