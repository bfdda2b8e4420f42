//go:build linux

package server

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rw-project/rw/internal/cgroup"
	"golang.org/x/sys/unix"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/worker"
)

// Sentinels for what Run could not set up; the command line turns each
// into a hint about the flag concerned.
var (
	// ErrListen means the address could not be listened on.
	ErrListen = errors.New("cannot listen")
	// ErrPool means the worker pool could not be created from its
	// configuration (jobs or data directory).
	ErrPool = errors.New("cannot start the worker pool")
	// ErrCgroups means cgroups were required and cannot be had, or their
	// configuration is wrong.
	ErrCgroups = errors.New("cannot use cgroups")
)

// CgroupPolicy says whether jobs run in cgroups.
type CgroupPolicy string

// The cgroup policies. The zero value is CgroupsOff.
const (
	// CgroupsAuto uses cgroups where the host allows it, and warns that
	// limits are off where it does not.
	CgroupsAuto CgroupPolicy = "auto"
	// CgroupsRequired refuses to start without working cgroups.
	CgroupsRequired CgroupPolicy = "required"
	// CgroupsOff never uses them: jobs are process groups only.
	CgroupsOff CgroupPolicy = "off"
)

// RunConfig is what a whole rw server needs: where to listen, how to
// authenticate, and the pool to run jobs in.
type RunConfig struct {
	// Addr is the HOST:PORT to listen on.
	Addr string
	// TLS is the server's TLS configuration (pki.LoadServerTLS).
	TLS *tls.Config
	// TokenKey verifies the bearer tokens.
	TokenKey *ecdsa.PublicKey
	// Pool configures the worker pool. Its StopTimeout is also the grace
	// period the API announces and waits for; OnChange, if nil, logs each
	// transition.
	Pool worker.Config
	Log  zerolog.Logger
	// MetricsAddr, if set, is a second, plain-HTTP listener for local
	// scrapers: /metrics and /healthz only, without authentication.
	MetricsAddr string
	// Version is what /healthz reports.
	Version string
	// ReadTimeout bounds reading a whole request; DefaultReadTimeout if
	// zero.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a whole response other than a log
	// stream; the grace period plus 30 seconds if zero.
	WriteTimeout time.Duration
	// Cgroups says whether jobs run in cgroups, and Cgroup how to lay them
	// out. The zero value leaves cgroups off.
	Cgroups CgroupPolicy
	Cgroup  cgroup.Config
	// MaxConns bounds the connections open at once, past which new ones
	// are closed before their handshake: zero for no bound, negative for
	// DefaultMaxConns of the limit on open files. MaxConnsPerUser and
	// MaxStreamsPerUser bound one user's connections and follow streams
	// (Config); zero for no bound.
	MaxConns          int
	MaxConnsPerUser   int
	MaxStreamsPerUser int
	// StartWait bounds how long POST /start waits for a spawn (Config);
	// DefaultStartWait if zero.
	StartWait time.Duration
	// Signals, if set, delivers the process's SIGINT and SIGTERM: the first
	// begins the shutdown (as the end of ctx does), the second makes the
	// pool kill its jobs at once instead of waiting out the grace period.
	Signals <-chan os.Signal
	// Ready, if set, is called once the server listens, before it serves,
	// with the listening address and the pool. Tests use it to find both.
	Ready func(addr net.Addr, pool *worker.Pool)
}

// Run is rw serve: it listens, starts the pool, serves the API until ctx
// ends or the first signal comes, then shuts the server down and stops
// every job with the grace period. It is the one owner of that order, so
// the command line and the tests run a server the same way.
//
// Errors in the configuration come back before anything runs, wrapping
// ErrListen or ErrPool.
func Run(ctx context.Context, cfg RunConfig) error {
	log := cfg.Log
	ln, err := listen(cfg.Addr, log)
	if err != nil {
		// The address is in the message already; net's "listen tcp"
		// prefix would only repeat it.
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			err = opErr.Err
		}
		return fmt.Errorf("%w on %s: %w", ErrListen, cfg.Addr, err)
	}
	defer ln.Close()
	// The metrics read the pool, which reports to them: the pool is set
	// once it exists, before any job can start.
	var pool *worker.Pool
	metrics := NewMetrics(func() worker.Stats { return pool.Stats() })
	if cfg.Pool.OnChange == nil {
		logJob := logTransition(log)
		cfg.Pool.OnChange = func(s worker.Snapshot) {
			logJob(s)
			metrics.ObserveJob(s)
		}
	}
	if cfg.Pool.OnError == nil {
		cfg.Pool.OnError = func(id int64, err error) { log.Warn().Int64("job", id).Err(err).Msg("job") }
	}
	openFiles, err := prepareProcess(log)
	if err != nil {
		return err
	}
	if cfg.MaxConns < 0 {
		cfg.MaxConns = DefaultMaxConns(openFiles, cmp.Or(cfg.Pool.Workers, worker.DefaultWorkers), cmp.Or(cfg.Pool.QueueSize, worker.DefaultQueueSize))
	}
	cgroups, err := openCgroups(cfg.Cgroups, cfg.Cgroup, log)
	if err != nil {
		return err
	}
	if cgroups != nil {
		defer func() {
			if err := cgroups.Close(); err != nil {
				log.Warn().Err(err).Msg("remove the cgroup parent")
			}
		}()
	}
	cfg.Pool.Cgroups = cgroups
	pool, err = worker.New(cfg.Pool)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPool, err)
	}
	if r := pool.Recovered(); r.Jobs > 0 {
		log.Warn().Int("jobs", r.Jobs).Int("killed", r.Killed).
			Msg("recovered the jobs the last server left queued or running: they ended failed, reason server-restarted")
	}
	srv := New(Config{Pool: PoolOf(pool), TokenKey: cfg.TokenKey, Log: log, StopTimeout: cfg.Pool.StopTimeout,
		WriteTimeout: cfg.WriteTimeout, ReadTimeout: cfg.ReadTimeout, Metrics: metrics, Version: cfg.Version,
		MaxConns: cfg.MaxConns, MaxConnsPerUser: cfg.MaxConnsPerUser, MaxStreamsPerUser: cfg.MaxStreamsPerUser,
		StartWait: cfg.StartWait})
	if cfg.MetricsAddr != "" {
		stopLocal, err := serveLocal(cfg.MetricsAddr, srv.LocalHandler(), log)
		if err != nil {
			pool.Shutdown(context.Background())
			return fmt.Errorf("%w: --metrics-addr: %w", ErrListen, err)
		}
		// Closed last: health says shutting_down while the jobs stop.
		defer stopLocal()
	}
	logServing(log, cfg, ln)
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr(), pool)
	}

	// The watcher counts signals from before Serve, so a second signal that
	// comes while the server winds down is never lost; it ends with Run.
	serveCtx, endServe := context.WithCancel(ctx)
	defer endServe()
	done := make(chan struct{})
	var watcher sync.WaitGroup
	defer watcher.Wait()
	defer close(done)
	watcher.Go(func() { watchSignals(cfg.Signals, done, endServe, pool, log) })

	// Ready: the listener accepts, the pool runs. Serve only adds the
	// handshakes, so systemd may start what depends on rw now.
	if err := notify("READY=1\nSTATUS=serving on " + ln.Addr().String()); err != nil {
		log.Warn().Err(err).Msg("notify")
	}
	serveErr := srv.Serve(serveCtx, ln, cfg.TLS)
	srv.stopping.Store(true)
	if err := notify("STOPPING=1\nSTATUS=stopping jobs"); err != nil {
		log.Warn().Err(err).Msg("notify")
	}
	log.Info().Msg("shutting down: stopping jobs")
	// The pool's own stop timeout bounds the shutdown; a second signal
	// cuts it short.
	shutdownErr := pool.Shutdown(context.Background())
	if err := errors.Join(serveErr, shutdownErr); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}

// prepareProcess sets what the server's jobs inherit from it and raises its
// limit on open files, which it returns.
func prepareProcess(log zerolog.Logger) (uint64, error) {
	if err := restrictInherited(); err != nil {
		return 0, err
	}
	files, err := raiseFileLimit()
	if err != nil {
		log.Warn().Err(err).Uint64("open_files", files).Msg("could not raise the limit on open files")
	} else {
		log.Info().Uint64("open_files", files).Msg("limit on open files")
	}
	return files, nil
}

// logServing logs the one line that says the server serves, and how, with
// a warning first where jobs run with the server's rights or root's.
func logServing(log zerolog.Logger, cfg RunConfig, ln net.Listener) {
	runAs := "the server's own user"
	switch c := cfg.Pool.RunAs; {
	case c == nil:
		log.Warn().Msg("jobs run as this server's own user: they can read its keys, its job store and every job's output; run rw serve as root to run them as --run-as")
	case c.Uid == 0:
		runAs = c.Name
		log.Warn().Msg("jobs run as root: a job can then do anything this server can, read its keys included")
	default:
		runAs = c.Name
	}
	e := log.Info().Str("addr", ln.Addr().String())
	if m, ok := ln.(*multiListener); ok {
		addrs := make([]string, 0, len(m.lns))
		for _, a := range m.Addrs() {
			addrs = append(addrs, a.String())
		}
		e = e.Strs("addrs", addrs)
	}
	e.
		Str("run_as", runAs).
		Str("jobs_dir", cfg.Pool.JobsDir).
		Int("workers", cfg.Pool.Workers).
		Int("queue", cfg.Pool.QueueSize).
		Dur("stop_timeout_ms", cfg.Pool.StopTimeout).
		Int64("max_output", cfg.Pool.MaxOutput).
		Int("max_conns", cfg.MaxConns).
		Int("max_conns_per_user", cfg.MaxConnsPerUser).
		Int("max_streams_per_user", cfg.MaxStreamsPerUser).
		Msg("rw serving")
}

// restrictInherited sets what every job inherits from the server: a umask
// of 077, so the files a job makes are its own, and a core file size of 0,
// so that a crashing job leaves no image of its memory behind. The server
// itself creates its files with explicit modes and never dumps core.
func restrictInherited() error {
	unix.Umask(0o077)
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("limit core files to 0: %w", err)
	}
	return nil
}

// raiseFileLimit raises the soft limit on open files to the hard one, as
// a server with many connections, streams and jobs needs; the kernel's
// default soft limit (1024) is a relic of select(2). It returns the limit
// in force.
func raiseFileLimit() (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, err
		}
	}
	return lim.Cur, nil
}

// openCgroups opens the job cgroups as policy says, logs the mode in one
// line, and kills and removes what a server that died left behind. It
// returns nil where jobs run without cgroups.
func openCgroups(policy CgroupPolicy, cfg cgroup.Config, log zerolog.Logger) (*cgroup.Manager, error) {
	switch policy {
	case "", CgroupsOff:
		log.Warn().Str("cgroups", "off").Msg("cgroups are off: jobs are process groups only, with no limits, and a job that leaves its group escapes stop")
		return nil, nil
	case CgroupsAuto, CgroupsRequired:
	default:
		return nil, fmt.Errorf("%w: unknown policy %q: use auto, required or off", ErrCgroups, policy)
	}
	m, err := cgroup.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCgroups, err)
	}
	if m.Mode() == cgroup.ModeNone {
		if policy == CgroupsRequired {
			return nil, fmt.Errorf("%w: %s", ErrCgroups, m.Reason())
		}
		log.Warn().Str("cgroups", string(m.Mode())).Str("why", m.Reason()).
			Msg("no usable cgroups: jobs are process groups only, with no limits, and a job that leaves its group escapes stop")
		return nil, nil
	}
	e := log.Info().Str("cgroups", string(m.Mode()))
	if r := m.Reason(); r != "" {
		e = e.Str("note", r)
	}
	e.Msg("jobs run in cgroups")
	killed, removed, err := m.Cleanup()
	if err != nil {
		log.Warn().Err(err).Msg("clean up the job cgroups of an earlier server")
	}
	if killed > 0 || removed > 0 {
		log.Warn().Int("killed", killed).Int("removed", removed).Msg("cleaned up the job cgroups an earlier server left: its processes are gone")
	}
	return m, nil
}

// serveLocal serves h on a plain-HTTP listener at addr until the returned
// func is called, which shuts it down and waits for it.
func serveLocal(addr string, h http.Handler, log zerolog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		ErrorLog: stdlog.New(newErrorLogWriter(log), "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics listener")
		}
	}()
	log.Info().Str("metrics_addr", ln.Addr().String()).Msg("serving /metrics and /healthz without authentication")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
		<-done
	}, nil
}

// SignalWindow is how close together signals count as one. GNU timeout,
// and service managers like it, signal the server and then its whole
// process group: the server gets the same SIGTERM twice within
// microseconds, which must not skip the grace period as a second signal
// from an operator does.
const SignalWindow = 500 * time.Millisecond

// signalCount tells the signals that begin the shutdown and that kill the
// jobs from the repeats of one that arrive within SignalWindow of it.
type signalCount struct {
	seen int       // signals counted
	last time.Time // when the last counted one came
}

// add counts a signal that came at t and returns its number: 1 for the
// first, 2 for the second and so on, or 0 for a repeat of the last one.
func (c *signalCount) add(t time.Time) int {
	if c.seen > 0 && t.Sub(c.last) < SignalWindow {
		return 0
	}
	c.seen++
	c.last = t
	return c.seen
}

// watchSignals ends serving on the first signal and kills the pool's jobs
// on the second, until done is closed; signals within SignalWindow of the
// one before count as that one. A nil sigs never delivers.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, endServe func(), pool *worker.Pool, log zerolog.Logger) {
	var count signalCount
	for {
		select {
		case sig := <-sigs:
			switch count.add(time.Now()) {
			case 0:
				log.Info().Str("signal", sig.String()).Dur("window_ms", SignalWindow).
					Msg("signal within the window of the one before: counted as that one")
			case 1:
				log.Info().Str("signal", sig.String()).Msg("first signal: shutting down, jobs get the grace period")
				endServe()
			case 2:
				log.Warn().Str("signal", sig.String()).Msg("second signal: killing jobs")
				pool.Kill()
			}
		case <-done:
			return
		}
	}
}

// logTransition logs each change of a job's status.
func logTransition(log zerolog.Logger) func(worker.Snapshot) {
	return func(s worker.Snapshot) {
		e := log.Info().Int64("job", s.ID).Str("owner", s.Owner).Str("path", s.Path).Str("status", string(s.Status))
		if s.ExitCode != nil {
			e = e.Int("exit_code", *s.ExitCode)
		}
		if s.Reason != "" {
			e = e.Str("reason", string(s.Reason))
		}
		if s.Error != "" {
			e = e.Str("error", s.Error)
		}
		if s.Status.Final() && !s.StartedAt.IsZero() {
			e = e.Dur("duration_ms", s.EndedAt.Sub(s.StartedAt))
		}
		if u := s.Usage; u.CPUSeconds != nil {
			e = e.Float64("cpu_seconds", *u.CPUSeconds)
		}
		if u := s.Usage; u.MemoryPeakBytes != nil {
			e = e.Int64("memory_peak_bytes", *u.MemoryPeakBytes)
		}
		e.Msg("job")
	}
}
