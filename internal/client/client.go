// Package client is a typed Go client for rw's HTTP API. It maps HTTP errors
// back to Go errors in one place (Error and its Is method) and network and
// TLS failures to the sentinels below, so that callers can tell a user which
// side is wrong. It knows nothing of the command line.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rw-project/rw/internal/api"
)

// Config says where the server is and who we are.
type Config struct {
	// Server is HOST:PORT.
	Server string
	// TLS is the client configuration from pki.NewClientTLS; its ServerName
	// is set from Server's host when empty.
	TLS *tls.Config
	// Token is the bearer token.
	Token string
	// DialTimeout bounds the TCP connection and the TLS handshake; 10s if
	// zero.
	DialTimeout time.Duration
}

// maxAnswer bounds a JSON answer.
const maxAnswer = 1 << 30

// Client talks to one rw server. It is safe for concurrent use.
type Client struct {
	server string // HOST:PORT
	token  string
	http   *http.Client
}

// New returns a client for cfg. It does not connect until the first request.
func New(cfg Config) (*Client, error) {
	host, _, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("server address %q: want HOST:PORT", cfg.Server)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	tlsCfg := cfg.TLS.Clone()
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = host
	}
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: cfg.DialTimeout}, Config: tlsCfg}
	tr := &http.Transport{
		// Our own dial, so that the handshake is bounded as a whole and its
		// failures come back as they are, for transportError to say which
		// side is wrong.
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
			defer cancel()
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{
		server: cfg.Server,
		token:  cfg.Token,
		http:   &http.Client{Transport: tr},
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

// StartOptions are what a start request may ask for besides the program:
// the zero value takes the server's defaults for all of it.
type StartOptions struct {
	// Limits, if not nil, are the job's own limits.
	Limits *api.LimitsRequest
	// Timeout, if positive, is the job's time limit.
	Timeout time.Duration
	// Isolate, if not nil, says whether the job runs in namespaces of its
	// own.
	Isolate *bool
}

// Start starts path with args as opts says and returns the new job. A job
// that a free worker took is returned once it runs or could not start
// (failed, reason start-failed), so that its status says whether it
// spawned; one that waits for a worker is returned queued, with its
// place. An older server answers before the spawn, queued or starting:
// ask again with Query to tell.
func (c *Client) Start(ctx context.Context, path string, args []string, opts StartOptions) (api.Job, error) {
	req := api.StartRequest{FilePath: path, Args: make([]api.Arg, len(args)), Limits: opts.Limits, Isolate: opts.Isolate}
	timeout := opts.Timeout
	if timeout > 0 {
		req.Timeout = timeout.String()
	}
	for i, a := range args {
		req.Args[i] = api.Arg(a)
	}
	var job api.Job
	_, err := c.do(ctx, http.MethodPost, api.PathStart, nil, req, &job)
	return job, err
}

// FallbackStopTimeout is the grace period Stop assumes for a server that
// does not announce one in api.HeaderStopTimeout (a server older than the
// header) or announces one it cannot read. It is the five minutes rw stop
// waited before servers announced their grace period: longer than any an
// operator is likely to set, so that a stop is not given up while the
// server still waits for the job.
const FallbackStopTimeout = 5 * time.Minute

// StopOptions are what a stop request may ask for besides the job: the zero
// value takes the server's grace period.
type StopOptions struct {
	// Grace, if not nil, is this stop's grace period between SIGTERM and
	// SIGKILL: at most the server's (more is an error matching
	// ErrUnprocessable); 0 sends SIGKILL at once.
	Grace *time.Duration
	// Sending, if not nil, is called on Stop's goroutine just before POST
	// /stop is sent, with the grace period the job is given: Grace, or the
	// one the server announces. A caller that waits on the stop can then
	// say when SIGKILL is due.
	Sending func(grace time.Duration)
}

// Stop stops job id as opts says and returns it in its final status. The
// server answers once the job has ended, which may take its grace period
// between SIGTERM and SIGKILL, so Stop first sends GET /query?id=N: the
// answer confirms that the caller may see the job and announces the grace
// period. POST /stop is then bounded by the grace period (opts.Grace when
// given) plus timeout, and the query by timeout alone; with a timeout of
// zero or less only ctx bounds them. ctx may end the whole sooner, and a
// server that does not announce its grace period is given
// FallbackStopTimeout.
func (c *Client) Stop(ctx context.Context, id int64, timeout time.Duration, opts StopOptions) (api.Job, error) {
	var job api.Job
	qctx, cancel := withTimeout(ctx, timeout)
	header, err := c.do(qctx, http.MethodGet, api.PathQuery, url.Values{"id": {strconv.FormatInt(id, 10)}}, nil, &job)
	cancel()
	// A role refused the query is not necessarily refused the stop: that
	// answer is the server's to give, in the words of POST /stop.
	if err != nil && !errors.Is(err, ErrForbidden) {
		return api.Job{}, err
	}
	grace := stopTimeout(header)
	req := api.StopRequest{ID: id}
	if opts.Grace != nil {
		// The server refuses a grace period over its own, so the one
		// asked for is the one the job gets.
		grace = *opts.Grace
		req.Timeout = grace.String()
	}
	var bound time.Duration
	if timeout > 0 {
		bound = grace + timeout
	}
	sctx, cancel := withTimeout(ctx, bound)
	defer cancel()
	if opts.Sending != nil {
		opts.Sending(grace)
	}
	_, err = c.do(sctx, http.MethodPost, api.PathStop, nil, req, &job)
	return job, err
}

// stopTimeout reads the grace period a server announces in h, or returns
// FallbackStopTimeout when it announces none it can be held to.
func stopTimeout(h http.Header) time.Duration {
	d, err := time.ParseDuration(h.Get(api.HeaderStopTimeout))
	if err != nil || d <= 0 {
		return FallbackStopTimeout
	}
	return d
}

// withTimeout is context.WithTimeout, except that a timeout of zero or less
// adds no deadline.
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// Query returns job id.
func (c *Client) Query(ctx context.Context, id int64) (api.Job, error) {
	var job api.Job
	_, err := c.do(ctx, http.MethodGet, api.PathQuery, url.Values{"id": {strconv.FormatInt(id, 10)}}, nil, &job)
	return job, err
}

// Remove removes final job id, its record and its output, and returns the
// job as it was. A job that has not ended gives an error matching
// ErrConflict.
func (c *Client) Remove(ctx context.Context, id int64) (api.Job, error) {
	var job api.Job
	_, err := c.do(ctx, http.MethodPost, api.PathRemove, nil, api.RemoveRequest{ID: id}, &job)
	return job, err
}

// Version returns the version the server reports.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v api.Version
	_, err := c.do(ctx, http.MethodGet, api.PathVersion, nil, nil, &v)
	return v.Version, err
}

// List returns every job the caller may see, ordered by id, each with the
// most output the server sends. A caller that shows less asks EachJob for
// what it shows, so that the answer stays small whatever the history.
func (c *Client) List(ctx context.Context) ([]api.Job, error) {
	var jobs []api.Job
	err := c.EachJob(ctx, ListOptions{Tail: api.MaxOutputTail}, func(j api.Job) error {
		jobs = append(jobs, j)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// ListOptions say which jobs a list holds and how much of their output.
type ListOptions struct {
	// Tail is the most bytes of output each job carries, from 0 (none) to
	// api.MaxOutputTail.
	Tail int64
	// Statuses, if not empty, keeps the jobs in these statuses (of
	// api.Statuses). The server does the filtering; EachJob checks it
	// again, since a server older than status= ignores it and sends
	// every job.
	Statuses []string
	// Brief fills in only each job's ID, Status, Output and
	// OutputTruncated, and skips the rest of it unread: that takes a
	// quarter less time than decoding whole jobs, for a caller that shows
	// no more.
	Brief bool
	// Limit, if more than 0, is the most jobs the list holds: the first
	// Limit in id order.
	Limit int
}

// EachJob calls f with each job the caller may see that opts keeps, in id
// order, as the answer arrives: a job is decoded and handed to f before
// the next is read, so a list of any length takes the memory of one job.
// An error from f ends the list and is returned as it is. Jobs already
// handed to f stay handed when the answer later turns out broken.
func (c *Client) EachJob(ctx context.Context, opts ListOptions, f func(api.Job) error) error {
	q := url.Values{}
	if opts.Tail != api.MaxOutputTail {
		q.Set("tail", strconv.FormatInt(opts.Tail, 10))
	}
	if len(opts.Statuses) > 0 {
		q.Set("status", strings.Join(opts.Statuses, ","))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	resp, err := c.send(ctx, http.MethodGet, api.PathQuery, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var fErr error
	err = readJobList(json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)), opts.Brief, func(j api.Job) error {
		if len(opts.Statuses) > 0 && !slices.Contains(opts.Statuses, j.Status) {
			return nil // sent by a server that ignored status=
		}
		fErr = f(j)
		return fErr
	})
	if err == nil || fErr != nil {
		return err
	}
	return c.answerError(http.MethodGet, api.PathQuery, err)
}

// readJobList reads an api.JobList from dec, calling f with each job as it
// is decoded (brief: see ListOptions). Members other than "jobs" are read
// and left aside, as decoding into api.JobList would; "next" is checked
// to be a job id or null, as it would be.
func readJobList(dec *json.Decoder, brief bool, f func(api.Job) error) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		// A null list is an empty one, as json.Unmarshal has it.
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("want a JSON object, got %v", tok)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		// json matches member names without regard to case.
		name, _ := key.(string)
		switch {
		case strings.EqualFold(name, "jobs"):
			err = readJobs(dec, brief, f)
		case strings.EqualFold(name, "next"):
			// Unused here, but decoding into api.JobList refuses a next
			// that is not a job id, and so does the stream: it is a
			// broken answer.
			var next *int64
			err = dec.Decode(&next)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing brace: More checked it is one
	return err
}

// briefJob is the part of an api.Job that ListOptions.Brief decodes: json
// skips the members a struct has no field for without storing them.
type briefJob struct {
	ID              int64   `json:"id"`
	Status          string  `json:"status"`
	Output          *string `json:"output"`
	OutputTruncated bool    `json:"outputTruncated"`
}

// readJobs reads the array of "jobs" from dec, or its null.
func readJobs(dec *json.Decoder, brief bool, f func(api.Job) error) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		return fmt.Errorf(`want "jobs" to be a JSON array, got %v`, tok)
	}
	for dec.More() {
		// A fresh value each time: decoding into a used one would keep
		// the fields this job leaves out.
		var j api.Job
		if brief {
			var b briefJob
			if err := dec.Decode(&b); err != nil {
				return err
			}
			j = api.Job{ID: b.ID, Status: b.Status, Output: b.Output, OutputTruncated: b.OutputTruncated}
		} else if err := dec.Decode(&j); err != nil {
			return err
		}
		if err := f(j); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing bracket
	return err
}

// Files lists the executables in the server's jobs directory that the
// caller may start, and whether the list was cut at api.MaxFiles.
func (c *Client) Files(ctx context.Context) (api.FileList, error) {
	var list api.FileList
	_, err := c.do(ctx, http.MethodGet, api.PathFiles, nil, nil, &list)
	return list, err
}

// Logs opens job id's output from its first byte. With follow, the stream
// lasts until the job has ended and every byte was sent, or ctx ends. The
// caller closes it.
func (c *Client) Logs(ctx context.Context, id int64, follow bool) (*LogStream, error) {
	return c.LogsFrom(ctx, id, LogsOptions{Follow: follow})
}

// LogStream is a job's output as the server sends it. The caller closes
// it.
type LogStream struct {
	io.ReadCloser
	// GapAt is -1, or, for a followed stream that skips output, where the
	// gap begins: the job ran past the server's output cap before the
	// stream began, so the stream has the GapAt bytes kept (from where it
	// starts), then the job's output from the oldest byte the server still
	// held, live (api.HeaderOutputGap).
	GapAt int64
}

// LogsOptions say where a job's output starts and whether to follow it.
// The zero value is the whole output so far.
type LogsOptions struct {
	// Follow keeps the stream open until the job has ended.
	Follow bool
	// TailLines, if set, starts at the last *TailLines lines of the output
	// so far; TailBytes, if set, at its last *TailBytes bytes. At most one
	// may be set; 0 starts at the end, for new output only.
	TailLines, TailBytes *int64
}

// LogsFrom opens job id's output as opts says. The caller closes it.
func (c *Client) LogsFrom(ctx context.Context, id int64, opts LogsOptions) (*LogStream, error) {
	q := url.Values{"id": {strconv.FormatInt(id, 10)}}
	if opts.Follow {
		q.Set(api.ParamFollow, "true")
	}
	if opts.TailLines != nil {
		q.Set(api.ParamTailLines, strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.TailBytes != nil {
		q.Set(api.ParamTailBytes, strconv.FormatInt(*opts.TailBytes, 10))
	}
	resp, err := c.send(ctx, http.MethodGet, api.PathLogs, q, nil)
	if err != nil {
		return nil, err
	}
	out := &LogStream{ReadCloser: resp.Body, GapAt: -1}
	if v := resp.Header.Get(api.HeaderOutputGap); v != "" {
		// A value that is not a byte count still says there is a gap.
		out.GapAt, _ = strconv.ParseInt(v, 10, 64)
		out.GapAt = max(out.GapAt, 0)
	}
	return out, nil
}

// do sends a request with an optional JSON body, decodes a JSON answer and
// returns the answer's header.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) (http.Header, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// A list carries up to 64 KiB of output per job; the limit only guards
	// against an answer that never ends.
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
		return nil, c.answerError(method, path, err)
	}
	return resp.Header, nil
}

// answerError is err, met while reading the answer to method path, as the
// caller gets it: an answer that began but did not end in time is a
// timeout.
func (c *Client) answerError(method, path string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = transportError(c.server, err, true)
	}
	return fmt.Errorf("read the answer to %s %s: %w", method, path, err)
}

// send sends a request and returns a 200 response, or the error it stands
// for.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	u := "https://" + c.server + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	// Whether the request got a connection tells a server that cannot be
	// reached from one that is slow to answer; the transport may call
	// GotConn on another goroutine.
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL adds nothing a person needs: the address is in the
		// wrapped error.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, transportError(c.server, err, connected.Load())
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	if err := ctx.Err(); err != nil {
		// The caller gave up while the answer was on its way. Closing
		// the connection ended the request on the server too, which
		// may have answered that (503, shutting down) in the moment
		// before the close: the caller's deadline is the truth.
		return nil, transportError(c.server, err, true)
	}
	return nil, readError(resp)
}
