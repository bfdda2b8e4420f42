//go:build linux

package server

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rw-project/rw/internal/auth"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
)

// Metrics are the server's Prometheus metrics, in a registry of their own.
// No label carries a user name, a path or an argument: their number would
// grow without bound, and they are not the scraper's to know.
type Metrics struct {
	reg             *prometheus.Registry
	jobStarts       prometheus.Counter
	jobEnds         *prometheus.CounterVec
	startLatency    prometheus.Histogram
	runTime         prometheus.Histogram
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	streams         prometheus.Gauge
	connections     prometheus.Gauge
	streamedBytes   prometheus.Counter
	authFailures    *prometheus.CounterVec
	refused         *prometheus.CounterVec

	// byRequest keeps the children of requests and requestDuration for
	// each endpoint and code seen: WithLabelValues hashes its labels and
	// takes a lock on every call. Its size is that of the two vectors.
	byRequestMu sync.RWMutex
	byRequest   map[requestKey]requestMetrics
}

type requestKey struct {
	endpoint string
	code     int
}

type requestMetrics struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// NewMetrics makes the metrics, with the Go runtime's and the process's,
// reading the pool's state at each scrape through stats.
func NewMetrics(stats func() worker.Stats) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		jobStarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rw_job_starts_total", Help: "Jobs accepted by POST /start."}),
		jobEnds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rw_job_ends_total", Help: "Jobs that reached a final status, by reason."}, []string{"reason"}),
		startLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rw_job_start_seconds", Help: "Time from a job's acceptance to its process running.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		runTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rw_job_run_seconds", Help: "Time from a job's process start to its end.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 14)}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rw_http_requests_total", Help: "API requests, by endpoint and status code."}, []string{"endpoint", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rw_http_request_duration_seconds", Help: "Time to answer an API request, by endpoint.",
			Buckets: prometheus.DefBuckets}, []string{"endpoint"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rw_log_streams", Help: "GET /logs answers being streamed now."}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rw_connections", Help: "Open connections to the API."}),
		streamedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rw_output_streamed_bytes_total", Help: "Job output sent through GET /logs."}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rw_auth_failures_total", Help: "Requests refused authentication, by the check that failed."}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rw_limit_refusals_total", Help: "Connections and requests refused for a bound on what is open, by the bound: conns, conns_per_user, streams_per_user."}, []string{"limit"}),
	}
	m.reg.MustRegister(m.jobStarts, m.jobEnds, m.startLatency, m.runTime, m.requests, m.requestDuration,
		m.streams, m.connections, m.streamedBytes, m.authFailures, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, labels prometheus.Labels, f func(worker.Stats) float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return f(stats()) }))
	}
	gauge("rw_jobs", "Jobs not yet final, by status.", prometheus.Labels{"status": "queued"}, func(s worker.Stats) float64 { return float64(s.Queued) })
	gauge("rw_jobs", "Jobs not yet final, by status.", prometheus.Labels{"status": "running"}, func(s worker.Stats) float64 { return float64(s.Running) })
	gauge("rw_queue_capacity", "Jobs that may wait for a worker.", nil, func(s worker.Stats) float64 { return float64(s.QueueSize) })
	gauge("rw_workers", "Jobs that run at once.", nil, func(s worker.Stats) float64 { return float64(s.Workers) })
	gauge("rw_output_bytes", "Job output kept in the data directory.", nil, func(s worker.Stats) float64 { return float64(s.OutputBytes) })
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rw_output_written_bytes_total", Help: "Job output written to the data directory since the server started."},
		func() float64 { return float64(stats().OutputWritten) }))
	gauge("rw_store_bytes", "Size of the job store's file.", nil, func(s worker.Stats) float64 { return float64(s.StoreBytes) })
	return m
}

// countTokens adds the counts of tokens served from the authenticator's
// cache of verified tokens, and of those verified in full.
func (m *Metrics) countTokens(a *auth.Authenticator) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rw_token_verifications_total", Help: "Tokens checked, by where the answer came from.",
			ConstLabels: prometheus.Labels{"source": "cache"}}, func() float64 { return float64(a.CacheHits()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rw_token_verifications_total", Help: "Tokens checked, by where the answer came from.",
			ConstLabels: prometheus.Labels{"source": "verified"}}, func() float64 { return float64(a.CacheMisses()) }))
}

// countHeld adds the connections and follow streams counted against
// their users, all users together.
func (m *Metrics) countHeld(l *userLimits) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rw_user_connections",
			Help: "Open connections counted against their user's bound: those with an authenticated request."},
			func() float64 { c, _ := l.held(); return float64(c) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rw_user_follow_streams",
			Help: "GET /logs?follow=true streams counted against their user's bound."},
			func() float64 { _, s := l.held(); return float64(s) }))
}

// ObserveJob counts a change of a job's status: a start, a process
// running, an end with its reason.
func (m *Metrics) ObserveJob(s worker.Snapshot) {
	switch {
	case s.Status == worker.StatusQueued:
		m.jobStarts.Inc()
	case s.Status == worker.StatusRunning, s.Status == worker.StatusStopping && !s.StartedAt.IsZero():
		// A job stopped while its process was being made is reported
		// running as stopping.
		m.startLatency.Observe(s.StartedAt.Sub(s.CreatedAt).Seconds())
	case s.Status.Final():
		m.jobEnds.WithLabelValues(string(s.Reason)).Inc()
		if !s.StartedAt.IsZero() {
			m.runTime.Observe(s.EndedAt.Sub(s.StartedAt).Seconds())
		}
	}
}

// Handler serves the metrics in Prometheus's exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observeRequest counts an answered request; endpoint is the route, or
// "other" for a path the API does not have.
func (m *Metrics) observeRequest(endpoint string, code int, took time.Duration) {
	key := requestKey{endpoint, code}
	m.byRequestMu.RLock()
	c, ok := m.byRequest[key]
	m.byRequestMu.RUnlock()
	if !ok {
		c = requestMetrics{m.requests.WithLabelValues(endpoint, strconv.Itoa(code)), m.requestDuration.WithLabelValues(endpoint)}
		m.byRequestMu.Lock()
		if m.byRequest == nil {
			m.byRequest = make(map[requestKey]requestMetrics)
		}
		m.byRequest[key] = c
		m.byRequestMu.Unlock()
	}
	c.count.Inc()
	c.duration.Observe(took.Seconds())
}

// connState counts the API's open connections, as http.Server reports
// their changes.
func (m *Metrics) connState(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		m.connections.Inc()
	case http.StateClosed, http.StateHijacked:
		m.connections.Dec()
	}
}

// authReason names the check a refused request failed, in one word.
func authReason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{auth.ErrNoToken, "no_token"}, {auth.ErrNoCertificate, "no_certificate"},
		{pki.ErrTokenExpired, "expired"}, {pki.ErrTokenNotYetValid, "not_yet_valid"},
		{pki.ErrTokenSignature, "signature"}, {pki.ErrTokenMalformed, "malformed"},
		{pki.ErrTokenBinding, "binding"}, {pki.ErrTokenUser, "user"},
		{pki.ErrTokenIssuer, "issuer"}, {pki.ErrTokenAudience, "audience"}, {pki.ErrTokenClaims, "claims"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}
