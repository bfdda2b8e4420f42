//go:build linux

// Package server is rw's HTTP API: routing, authentication and permission
// checks, the mapping of worker errors to status codes, live output
// streaming and graceful serving over mutual TLS.
//
// It depends on the worker only through the Pool interface below, so that
// handlers can be tested with a fake and the worker can change inside.
package server

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/auth"
	"github.com/rw-project/rw/internal/worker"
)

// Pool is what the server needs from the worker.
type Pool interface {
	Start(spec worker.Spec) (int64, error)
	WaitStarted(ctx context.Context, id int64) (worker.Snapshot, error)
	StopWithin(ctx context.Context, id int64, grace time.Duration) (worker.Snapshot, error)
	Query(id int64) (worker.Snapshot, error)
	Scan(after int64, fn func(worker.Snapshot) bool) error
	Tail(id int64, n int64) ([]byte, bool, error)
	Follow(ctx context.Context, id, offset int64, follow bool) (Output, error)
	Remove(id int64) error
	Stats() worker.Stats
	Writable() error
	Files(limit int) ([]worker.File, bool, error)
}

// Output is a job's output as the pool reads it.
type Output interface {
	io.ReadCloser
	// GapAt is where output a follower skips begins, or -1 when it skips
	// none: see worker.Reader.GapAt.
	GapAt() int64
}

// PoolOf adapts a worker.Pool to Pool.
func PoolOf(p *worker.Pool) Pool { return workerPool{p} }

type workerPool struct{ *worker.Pool }

func (p workerPool) Follow(ctx context.Context, id, offset int64, follow bool) (Output, error) {
	r, err := p.Pool.Follow(ctx, id, offset, follow)
	if err != nil {
		// Not r: a nil *worker.Reader in an Output is not a nil Output.
		return nil, err
	}
	return r, nil
}

// Config configures a Server.
type Config struct {
	Pool Pool
	// TokenKey verifies the bearer tokens.
	TokenKey *ecdsa.PublicKey
	Log      zerolog.Logger
	// StopTimeout is the pool's grace period; a POST /stop may take that
	// long, and the response's write deadline allows for it.
	StopTimeout time.Duration
	// WriteTimeout bounds writing a whole response other than a log
	// stream; StopTimeout plus 30 seconds if zero.
	WriteTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body, from
	// its first byte; DefaultReadTimeout if zero.
	ReadTimeout time.Duration
	// Metrics are served on GET /metrics; new ones, reading Pool.Stats, if
	// nil.
	Metrics *Metrics
	// Version is what GET /healthz says the server runs.
	Version string
	// MaxConns bounds the connections open at once: past it, Serve
	// closes new ones before their handshake. MaxConnsPerUser bounds the
	// connections one user holds, counted from the first authenticated
	// request on each until it closes, and MaxStreamsPerUser the GET
	// /logs?follow=true streams one user holds: past them a request gets
	// 429 too_many_requests. Zero for no bound.
	MaxConns          int
	MaxConnsPerUser   int
	MaxStreamsPerUser int
	// StartWait bounds how long POST /start waits for a job that a free
	// worker took to leave starting; DefaultStartWait if zero.
	StartWait time.Duration
}

// Server is the rw API as an http.Handler.
type Server struct {
	pool   Pool
	authn  *auth.Authenticator
	log    zerolog.Logger
	routes map[string]route
	// writeTimeout bounds writing a whole non-streaming response, and
	// readTimeout reading a whole request.
	writeTimeout time.Duration
	readTimeout  time.Duration
	// startWait bounds how long POST /start waits for a spawn.
	startWait time.Duration
	// stopTimeout is the pool's grace period, announced to clients in
	// the header whose value is stopHeader.
	stopTimeout time.Duration
	stopHeader  []string
	metrics     *Metrics
	version     string
	started     time.Time
	// limits counts what each user holds open; maxConns bounds the
	// connections of all users together.
	limits   *userLimits
	maxConns int
	// refusedLog rate-limits the log lines of requests refused for a
	// user's bound.
	refusedLog *logLimit
	// stopping is set once the server no longer accepts requests, so that
	// health checks say so while the jobs are stopped.
	stopping atomic.Bool
}

// route is one endpoint: its method and handler.
type route struct {
	method  string
	handler func(w http.ResponseWriter, r *http.Request, c *caller)
}

// Timeouts of the connection and of one write of a stream.
const (
	readHeaderTimeout  = 10 * time.Second
	idleTimeout        = 2 * time.Minute
	streamWriteTimeout = 30 * time.Second
	maxHeaderBytes     = 16 << 10
)

// DefaultReadTimeout bounds reading a whole request, headers and body.
const DefaultReadTimeout = 10 * time.Second

// New returns the API handler.
func New(cfg Config) *Server {
	stopTimeout := cfg.StopTimeout
	if stopTimeout <= 0 {
		stopTimeout = worker.DefaultStopTimeout
	}
	s := &Server{
		pool:         cfg.Pool,
		authn:        auth.NewAuthenticator(cfg.TokenKey),
		log:          cfg.Log,
		writeTimeout: cfg.WriteTimeout,
		readTimeout:  cmp.Or(cfg.ReadTimeout, DefaultReadTimeout),
		startWait:    cmp.Or(cfg.StartWait, DefaultStartWait),
		stopTimeout:  stopTimeout,
		stopHeader:   []string{stopTimeout.String()},
		metrics:      cfg.Metrics,
		version:      cfg.Version,
		started:      time.Now(),
		limits:       newUserLimits(cfg.MaxConnsPerUser, cfg.MaxStreamsPerUser),
		maxConns:     cfg.MaxConns,
		refusedLog:   &logLimit{log: cfg.Log, source: "limits", what: "refused requests", now: time.Now},
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(cfg.Pool.Stats)
	}
	s.metrics.countTokens(s.authn)
	s.metrics.countHeld(s.limits)
	if s.writeTimeout <= 0 {
		s.writeTimeout = stopTimeout + 30*time.Second
	}
	// Every route checks its query string: none takes one but /query and
	// /logs.
	s.routes = map[string]route{
		api.PathStart:   {http.MethodPost, withParams(s.handleStart)},
		api.PathStop:    {http.MethodPost, withParams(s.handleStop)},
		api.PathQuery:   {http.MethodGet, withParams(s.handleQuery, queryParams...)},
		api.PathLogs:    {http.MethodGet, withParams(s.handleLogs, logsParams...)},
		api.PathRemove:  {http.MethodPost, withParams(s.handleRemove)},
		api.PathMetrics: {http.MethodGet, withParams(s.handleMetrics)},
		api.PathHealth:  {http.MethodGet, withParams(s.handleHealth)},
		api.PathVersion: {http.MethodGet, withParams(s.handleVersion)},
		api.PathFiles:   {http.MethodGet, withParams(s.handleFiles)},
	}
	return s
}
