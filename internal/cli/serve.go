//go:build linux

package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rw-project/rw/internal/cgroup"
	"github.com/rw-project/rw/internal/ondisk"
	"github.com/rw-project/rw/internal/store"

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
   grace period and exits 0; a second one, half a second or more after the
   first, kills the jobs at once (signals closer together count as one).

EXAMPLES:
   rw gen-certs --user alice:admin && rw serve --jobs-dir testdata/jobs
   rw serve --addr 0.0.0.0:3000 --pki /etc/rw/pki --jobs-dir /srv/jobs --workers 8`,
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "addr", Value: "localhost:3000", EnvVars: []string{"RW_ADDR"}, Usage: "address to listen on"},
			pkiDirFlag("pki"),
			&ucli.StringFlag{Name: "jobs-dir", Value: "jobs", EnvVars: []string{"RW_JOBS_DIR"}, Usage: "directory of the executables jobs may run"},
			&ucli.StringFlag{Name: "data-dir", EnvVars: []string{"RW_DATA_DIR"}, Usage: "where job records and output are kept; made if missing (default: /var/lib/rw as root, else ~/.local/state/rw)"},
			&ucli.IntFlag{Name: "workers", Value: worker.DefaultWorkers, EnvVars: []string{"RW_WORKERS"}, Usage: "jobs that run at once"},
			&ucli.IntFlag{Name: "queue", Value: worker.DefaultQueueSize, EnvVars: []string{"RW_QUEUE"}, Usage: "jobs that may wait for a worker"},
			&ucli.IntFlag{Name: "max-jobs-per-user", Value: -1, EnvVars: []string{"RW_MAX_JOBS_PER_USER"}, Usage: "jobs one user may have queued or running at once, admins included; 0 for no bound (default: half of --workers plus --queue)"},
			&ucli.IntFlag{Name: "max-conns", Value: -1, DefaultText: "half the limit on open files, less room for jobs and files", EnvVars: []string{"RW_MAX_CONNS"}, Usage: "connections open at once; past it new ones are closed before their TLS handshake; 0 for no bound"},
			&ucli.IntFlag{Name: "max-conns-per-user", Value: server.DefaultMaxConnsPerUser, EnvVars: []string{"RW_MAX_CONNS_PER_USER"}, Usage: "connections one user may hold open, admins included, counted from their first authenticated request; past it requests get 429; 0 for no bound"},
			&ucli.IntFlag{Name: "max-streams-per-user", Value: server.DefaultMaxStreamsPerUser, EnvVars: []string{"RW_MAX_STREAMS_PER_USER"}, Usage: "log streams (logs -f) one user may follow at once, admins included; past it they get 429; 0 for no bound"},
			&ucli.DurationFlag{Name: "stop-timeout", Value: worker.DefaultStopTimeout, EnvVars: []string{"RW_STOP_TIMEOUT"}, Usage: "grace period between SIGTERM and SIGKILL"},
			&ucli.DurationFlag{Name: "start-wait", Value: server.DefaultStartWait, EnvVars: []string{"RW_START_WAIT"}, Usage: "how long POST /start waits for a free worker's spawn, so that its answer says how the start went, before it answers starting (up to 10s)"},
			&ucli.StringFlag{Name: "max-output", Value: "64MiB", EnvVars: []string{"RW_MAX_OUTPUT"}, Usage: "output kept per job (bytes, or with KiB, MiB, GiB)"},
			&ucli.StringFlag{Name: "run-as", EnvVars: []string{"RW_RUN_AS"}, Usage: "the user jobs run as, a name or UID:GID (default: nobody when the server runs as root, else the server's own user)"},
			&ucli.BoolFlag{Name: "isolate", EnvVars: []string{"RW_ISOLATE"}, Usage: "run jobs that do not say otherwise in namespaces of their own (needs root)"},
			&ucli.DurationFlag{Name: "job-timeout", EnvVars: []string{"RW_JOB_TIMEOUT"}, Usage: "time limit of a job that asks for none; 0 for none"},
			&ucli.DurationFlag{Name: "max-job-timeout", EnvVars: []string{"RW_MAX_JOB_TIMEOUT"}, Usage: "the longest time limit a job may ask for; 0 for no cap"},
			&ucli.DurationFlag{Name: "retain", Value: 7 * 24 * time.Hour, EnvVars: []string{"RW_RETAIN"}, Usage: "remove ended jobs, with their output, this long after they end; 0 keeps them"},
			&ucli.IntFlag{Name: "retain-jobs", Value: 10000, EnvVars: []string{"RW_RETAIN_JOBS"}, Usage: "keep at most this many ended jobs, removing the oldest; 0 for no bound"},
			&ucli.StringFlag{Name: "max-data-size", EnvVars: []string{"RW_MAX_DATA_SIZE"}, Usage: "bound on the output kept in the data directory (bytes, or with KiB, MiB, GiB): the oldest ended jobs' output goes first, then new output is dropped (default: none)"},
			&ucli.StringFlag{Name: "cgroups", Value: string(server.CgroupsAuto), EnvVars: []string{"RW_CGROUPS"}, Usage: "run jobs in cgroups: auto (where the host allows), required (refuse to start without), or off"},
			&ucli.StringFlag{Name: "cgroup-parent", Value: "rw", EnvVars: []string{"RW_CGROUP_PARENT"}, Usage: "name of the cgroup, under the server's own, that holds the job cgroups"},
			&ucli.StringSliceFlag{Name: "job-io-devices", EnvVars: []string{"RW_JOB_IO_DEVICES"}, Usage: "block devices IO limits throttle, as MAJ:MIN or a name like vda (default: every non-virtual disk)"},
			&ucli.StringFlag{Name: "log-format", EnvVars: []string{"RW_LOG_FORMAT"}, Usage: "json or console (default: console when stderr is a terminal, else json)"},
			&ucli.StringFlag{Name: "metrics-addr", EnvVars: []string{"RW_METRICS_ADDR"}, Usage: "also serve /metrics and /healthz, without authentication, over plain HTTP at this address (keep it on loopback), e.g. 127.0.0.1:9464"},
			&ucli.BoolFlag{Name: "print-config", Usage: "print the effective configuration, each value with where it came from (default, env, flag), and exit"},
			&ucli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"RW_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
		}, serverLimitFlags()...),
		Action: serve,
	}
}

func serve(c *ucli.Context) error {
	if c.Args().Present() {
		return usagef("serve takes no arguments, got %q", c.Args().First())
	}
	if c.Bool("print-config") {
		return printConfig(c)
	}
	cfg, err := serveConfig(c)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	cfg.Signals = sigs
	err = server.Run(c.Context, cfg)
	switch {
	case errors.Is(err, server.ErrListen) && badAddress(err):
		return withHint(err, "give --addr as HOST:PORT, such as localhost:3000 or 0.0.0.0:3000")
	case errors.Is(err, server.ErrListen):
		return withHint(err, "choose another --addr, or stop what listens on %s", cfg.Addr)
	case errors.Is(err, store.ErrLocked):
		return withHint(err, "another rw serve uses this data directory: stop it, or give this server another --data-dir")
	case errors.Is(err, store.ErrCorrupt):
		return withHint(err, "restore %s from a backup, or move it away to start with no job records", worker.StoreFile)
	case errors.Is(err, store.ErrNewerSchema):
		return withHint(err, "run the rw that wrote it, or a newer one; or restore a copy this version wrote")
	case errors.Is(err, server.ErrPool):
		return withHint(err, "check --jobs-dir and --data-dir")
	case errors.Is(err, server.ErrCgroups):
		return withHint(err, "run rw serve as root on a host with a writable cgroup filesystem (under systemd: Delegate=yes), check --cgroup-parent and --job-io-devices, or pass --cgroups off to run without limits")
	}
	return err
}

// badAddress reports whether a listen error is about the address itself
// (a port that is not a number, a host that does not resolve) rather than
// about something else holding it.
func badAddress(err error) bool {
	var addrErr *net.AddrError
	var dnsErr *net.DNSError
	return errors.As(err, &addrErr) || errors.As(err, &dnsErr) || errors.Is(err, strconv.ErrSyntax)
}

// jobsPerUser is --max-jobs-per-user, or by default half of what the pool
// holds at once (workers and queue), at least 1, so that one user cannot
// take it all.
func jobsPerUser(c *ucli.Context) int {
	if n := c.Int("max-jobs-per-user"); n >= 0 {
		return n
	}
	return max((c.Int("workers")+c.Int("queue"))/2, 1)
}

// dataDir returns the data directory named by --data-dir, or the default
// one, made (0700) if it is missing.
func dataDir(flag string) (string, error) {
	dir := flag
	if dir == "" {
		var err error
		if dir, err = ondisk.StateDir(); err != nil {
			return "", withHint(err, "pass --data-dir")
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", withHint(fmt.Errorf("data directory %s: %w", dir, err), "pass a --data-dir this server may create and write")
	}
	return dir, nil
}

// serveConfig reads rw serve's flags and the server's PKI files. Everything
// that can fail on bad configuration fails here, before the pool starts,
// each with a hint.
func serveConfig(c *ucli.Context) (server.RunConfig, error) {
	pool, err := poolConfig(c)
	if err != nil {
		return server.RunConfig{}, err
	}
	policy := server.CgroupPolicy(c.String("cgroups"))
	switch policy {
	case server.CgroupsAuto, server.CgroupsRequired, server.CgroupsOff:
	default:
		return server.RunConfig{}, usagef("--cgroups %q: use auto, required or off", policy)
	}
	// Longer, a start would come near the 30 s a client waits for an
	// answer by default (--timeout).
	if w := c.Duration("start-wait"); w < time.Millisecond || w > 10*time.Second {
		return server.RunConfig{}, usagef("--start-wait %v: give a duration from 1ms to 10s, such as 1s", w)
	}
	maxConns := c.Int("max-conns")
	if maxConns < -1 {
		return server.RunConfig{}, usagef("--max-conns must be 0 (no bound) or more")
	}
	for _, f := range []string{"max-conns-per-user", "max-streams-per-user"} {
		if c.Int(f) < 0 {
			return server.RunConfig{}, usagef("--%s must be 0 (no bound) or more", f)
		}
	}
	logger, err := newLogger(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return server.RunConfig{}, err
	}
	dir, err := pkiDir(c, "pki")
	if err != nil {
		return server.RunConfig{}, err
	}
	tlsCfg, err := pki.LoadServerTLS(dir)
	if err != nil {
		return server.RunConfig{}, withHint(err, "run 'rw gen-certs' to create %s, or point --pki at the directory that holds server.pem, server-key.pem, client-ca.pem and token-pub.pem", dir)
	}
	tokenKey, err := pki.ReadPublicKey(filepath.Join(dir, pki.TokenPub))
	if err != nil {
		return server.RunConfig{}, withHint(err, "run 'rw gen-certs' to create it, or copy %s from where the PKI was made", pki.TokenPub)
	}
	if err := pki.CheckServerDir(dir); err != nil {
		return server.RunConfig{}, err
	}
	if pool.RunAs, err = runAs(c.String("run-as")); err != nil {
		return server.RunConfig{}, err
	}
	if err := checkDataDir(logger, pool.DataDir, pool.RunAs); err != nil {
		return server.RunConfig{}, err
	}
	warnPermissions(logger, dir, pool.JobsDir, pool.RunAs)
	return server.RunConfig{
		StartWait:         c.Duration("start-wait"),
		Addr:              c.String("addr"),
		MaxConns:          maxConns,
		MaxConnsPerUser:   c.Int("max-conns-per-user"),
		MaxStreamsPerUser: c.Int("max-streams-per-user"),
		TLS:               tlsCfg,
		TokenKey:          tokenKey,
		Pool:              pool,
		Cgroups:           policy,
		MetricsAddr:       c.String("metrics-addr"),
		Version:           versionString(),
		Cgroup:            cgroup.Config{Parent: c.String("cgroup-parent"), IODevices: c.StringSlice("job-io-devices")},
		Log:               logger,
	}, nil
}

// poolConfig reads the flags of the worker pool: its size, the jobs
// directory, and what each job may use.
func poolConfig(c *ucli.Context) (worker.Config, error) {
	maxOutput, err := parseSize(c.String("max-output"))
	if err != nil {
		return worker.Config{}, usagef("--max-output: %v", err)
	}
	for _, f := range []string{"workers", "queue"} {
		if c.Int(f) < 1 {
			return worker.Config{}, usagef("--%s must be at least 1", f)
		}
	}
	if c.Duration("stop-timeout") <= 0 {
		return worker.Config{}, usagef("--stop-timeout must be positive")
	}
	defaults, maxima, err := serverLimits(c)
	if err != nil {
		return worker.Config{}, err
	}
	if c.Bool("isolate") && !worker.CanIsolate() {
		return worker.Config{}, withHint(errors.New("--isolate: isolating jobs needs a server run as root"), "run rw serve as root, or drop --isolate")
	}
	if err := worker.CheckTimeouts(c.Duration("job-timeout"), c.Duration("max-job-timeout")); err != nil {
		return worker.Config{}, usagef("--job-timeout, --max-job-timeout: %v", err)
	}
	jobsDir, err := filepath.Abs(c.String("jobs-dir"))
	if err != nil {
		return worker.Config{}, err
	}
	if info, err := os.Stat(jobsDir); err != nil || !info.IsDir() {
		return worker.Config{}, withHint(fmt.Errorf("jobs directory %s does not exist or is not a directory", jobsDir), "create it and put the executables jobs may run in it, or pass --jobs-dir")
	}
	dataDir, err := dataDir(c.String("data-dir"))
	if err != nil {
		return worker.Config{}, err
	}
	var maxData int64
	if v := c.String("max-data-size"); v != "" {
		if maxData, err = parseBytes(v); err != nil {
			return worker.Config{}, usagef("--max-data-size: %v", err)
		}
	}
	if c.Duration("retain") < 0 || c.Int("retain-jobs") < 0 {
		return worker.Config{}, usagef("--retain and --retain-jobs cannot be negative; 0 keeps every ended job")
	}
	return worker.Config{
		JobsDir:        jobsDir,
		DataDir:        dataDir,
		Retain:         c.Duration("retain"),
		RetainJobs:     c.Int("retain-jobs"),
		MaxDataSize:    maxData,
		Workers:        c.Int("workers"),
		MaxJobsPerUser: jobsPerUser(c),
		QueueSize:      c.Int("queue"),
		StopTimeout:    c.Duration("stop-timeout"),
		MaxOutput:      maxOutput,
		DefaultLimits:  defaults,
		MaxLimits:      maxima,
		Isolate:        c.Bool("isolate"),
		DefaultTimeout: c.Duration("job-timeout"),
		MaxTimeout:     c.Duration("max-job-timeout"),
	}, nil
}

// logTimeFormat is RFC 3339 with milliseconds.
const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func newLogger(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if isTerminal(w) {
			format = "console"
		}
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: logTimeFormat}
	default:
		return zerolog.Logger{}, usagef("--log-format %q: use json or console", format)
	}
	// Milliseconds: a request and the job it started often fall in the
	// same second. zerolog keeps the format in a package variable; rw
	// serve is the one logger of its process.
	zerolog.TimeFieldFormat = logTimeFormat
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// parseSize reads a positive byte count with an optional binary unit.
func parseSize(s string) (int64, error) {
	n, err := parseBytes(s)
	if err == nil && n == 0 {
		err = fmt.Errorf("%q is not a size: use a positive number of bytes, or KiB, MiB, GiB", s)
	}
	return n, err
}
