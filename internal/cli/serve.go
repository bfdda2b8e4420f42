package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
	ucli "github.com/urfave/cli/v2"
)

func serveCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "serve",
		Usage: "run the rw server: the job API over mutual TLS",
		UsageText: `rw serve [--addr HOST:PORT] [--pki DIR] [--jobs-dir DIR] [options]

   Serves POST /start, POST /stop, GET /query and GET /logs to clients with a
   certificate from the client CA and a token bound to it. The first SIGINT or
   SIGTERM stops accepting, ends log streams, stops running jobs with the
   grace period and exits 0; a second one kills the jobs at once.

EXAMPLES:
   rw gen-certs --user alice:admin && rw serve --jobs-dir testdata/jobs
   rw serve --addr 0.0.0.0:3000 --pki /etc/rw/pki --jobs-dir /srv/jobs --workers 8`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "addr", Value: "localhost:3000", EnvVars: []string{"RW_ADDR"}, Usage: "address to listen on"},
			pkiDirFlag("pki"),
			&ucli.StringFlag{Name: "jobs-dir", Value: "jobs", EnvVars: []string{"RW_JOBS_DIR"}, Usage: "directory of the executables jobs may run"},
			&ucli.StringFlag{Name: "data-dir", EnvVars: []string{"RW_DATA_DIR"}, Usage: "where job output is spooled (default: the system's temporary directory)"},
			&ucli.IntFlag{Name: "workers", Value: worker.DefaultWorkers, EnvVars: []string{"RW_WORKERS"}, Usage: "jobs that run at once"},
			&ucli.IntFlag{Name: "queue", Value: worker.DefaultQueueSize, EnvVars: []string{"RW_QUEUE"}, Usage: "jobs that may wait for a worker"},
			&ucli.DurationFlag{Name: "stop-timeout", Value: worker.DefaultStopTimeout, EnvVars: []string{"RW_STOP_TIMEOUT"}, Usage: "grace period between SIGTERM and SIGKILL"},
			&ucli.StringFlag{Name: "max-output", Value: "64MiB", EnvVars: []string{"RW_MAX_OUTPUT"}, Usage: "output kept per job (bytes, or with KiB, MiB, GiB)"},
			&ucli.StringFlag{Name: "log-format", EnvVars: []string{"RW_LOG_FORMAT"}, Usage: "json or console (default: console when stderr is a terminal, else json)"},
			&ucli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"RW_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
		},
		Action: serve,
	}
}

func serve(c *ucli.Context) error {
	if c.Args().Present() {
		return usagef("serve takes no arguments, got %q", c.Args().First())
	}
	maxOutput, err := parseSize(c.String("max-output"))
	if err != nil {
		return usagef("--max-output: %v", err)
	}
	for _, f := range []string{"workers", "queue"} {
		if c.Int(f) < 1 {
			return usagef("--%s must be at least 1", f)
		}
	}
	if c.Duration("stop-timeout") <= 0 {
		return usagef("--stop-timeout must be positive")
	}
	logger, err := newLogger(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return err
	}
	dir, err := pkiDir(c, "pki")
	if err != nil {
		return err
	}

	// Everything that can fail on bad configuration fails before the pool
	// starts, each with a hint.
	tlsCfg, err := pki.LoadServerTLS(dir)
	if err != nil {
		return withHint(err, "run 'rw gen-certs' to create %s, or point --pki at the directory that holds server.pem, server-key.pem, client-ca.pem and token-pub.pem", dir)
	}
	tokenKey, err := pki.ReadPublicKey(filepath.Join(dir, pki.TokenPub))
	if err != nil {
		return withHint(err, "run 'rw gen-certs' to create it, or copy %s from where the PKI was made", pki.TokenPub)
	}
	jobsDir := c.String("jobs-dir")
	jobsInfo, err := os.Stat(jobsDir)
	if err != nil || !jobsInfo.IsDir() {
		return withHint(fmt.Errorf("jobs directory %s does not exist or is not a directory", jobsDir), "create it and put the executables jobs may run in it, or pass --jobs-dir")
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return withHint(err, "choose another --addr, or stop what listens on %s", c.String("addr"))
	}
	defer ln.Close()

	pool, err := worker.New(worker.Config{
		JobsDir:     jobsDir,
		DataDir:     c.String("data-dir"),
		Workers:     c.Int("workers"),
		QueueSize:   c.Int("queue"),
		StopTimeout: c.Duration("stop-timeout"),
		MaxOutput:   maxOutput,
		OnChange:    logTransition(logger),
	})
	if err != nil {
		return withHint(err, "check --jobs-dir and --data-dir")
	}
	api := server.New(server.Config{
		Pool:        server.PoolOf(pool),
		TokenKey:    tokenKey,
		Log:         logger,
		StopTimeout: c.Duration("stop-timeout"),
	})
	abs, _ := filepath.Abs(jobsDir)
	if info, err := os.Stat(filepath.Join(dir, pki.ServerKey)); err == nil && info.Mode().Perm()&0o077 != 0 {
		logger.Warn().Str("file", filepath.Join(dir, pki.ServerKey)).Msg("the server's private key is readable by others: chmod 600 it")
	}
	if jobsInfo.Mode().Perm()&0o022 != 0 {
		logger.Warn().Str("jobs_dir", abs).Msg("the jobs directory is writable by others: anyone who can write there can run code as this server")
	}
	logger.Info().
		Str("addr", ln.Addr().String()).
		Str("jobs_dir", abs).
		Int("workers", c.Int("workers")).
		Int("queue", c.Int("queue")).
		Dur("stop_timeout", c.Duration("stop-timeout")).
		Int64("max_output", maxOutput).
		Msg("rw serving")

	// The first signal ends c.Context; a second one skips the grace
	// period. Counting from before Serve means a second signal that comes
	// while the server winds down is never lost.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	var watcher sync.WaitGroup
	defer watcher.Wait()
	defer close(done)
	watcher.Go(func() {
		for seen := 0; ; {
			select {
			case <-sigs:
				if seen++; seen == 2 {
					logger.Warn().Msg("second signal: killing jobs")
					pool.Kill()
				}
			case <-done:
				return
			}
		}
	})

	serveErr := api.Serve(c.Context, ln, tlsCfg)
	logger.Info().Msg("shutting down: stopping jobs")
	shutdownCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shutdownErr := pool.Shutdown(shutdownCtx)
	if err := errors.Join(serveErr, shutdownErr); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info().Msg("stopped")
	return nil
}

// logTransition logs each change of a job's status.
func logTransition(logger zerolog.Logger) func(worker.Snapshot) {
	return func(s worker.Snapshot) {
		e := logger.Info().Int64("job", s.ID).Str("owner", s.Owner).Str("path", s.Path).Str("status", string(s.Status))
		if s.ExitCode != nil {
			e = e.Int("exit_code", *s.ExitCode)
		}
		if s.Reason != "" {
			e = e.Str("reason", s.Reason)
		}
		e.Msg("job")
	}
}

func newLogger(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if info, err := f.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
				format = "console"
			}
		}
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Logger{}, usagef("--log-format %q: use json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// parseSize reads a byte count with an optional binary unit.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}, {"", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 || n > (1<<62)/u.mult {
			break
		}
		return n * u.mult, nil
	}
	return 0, fmt.Errorf("%q is not a size: use a positive number of bytes, or KiB, MiB, GiB", s)
}
