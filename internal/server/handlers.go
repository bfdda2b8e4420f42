//go:build linux

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/auth"
	"github.com/rw-project/rw/internal/worker"
)

// fail answers err, logging it first if it is the server's own fault, and
// marks c gone if err is r's context ending because its client left.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, c *caller, err error) {
	if status, code := statusOf(err); status == http.StatusInternalServerError || code == api.CodeStoreUnavailable || code == api.CodeNoResources || code == api.CodeJobsDirUnavailable {
		s.log.Error().Str("rid", c.id).Err(err).Msg("internal error")
	}
	if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && r.Context().Err() != nil && !s.stopping.Load() {
		// The request's context ends early only when its client closes
		// the connection, or when the server stops.
		c.gone = true
	}
	writeError(w, err)
}

// statusClientGone is the status logged and counted for a request whose
// client went away before it was answered (nginx's 499 "client closed
// request"); nothing is sent.
const statusClientGone = 499

// errNoJob is the answer for a job that does not exist and for one the
// caller may not see: the two must be indistinguishable.
func errNoJob(id int64) error {
	return &apiError{http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no job %d (or it is not yours)", id)}
}

// validateArgs applies the API's limits on job arguments.
func validateArgs(args []api.Arg) ([]string, error) {
	if len(args) > api.MaxArgs {
		return nil, &apiError{http.StatusUnprocessableEntity, api.CodeInvalidArgs, fmt.Sprintf("%d arguments: at most %d are allowed", len(args), api.MaxArgs)}
	}
	out := make([]string, len(args))
	total := 0
	for i, a := range args {
		if strings.IndexByte(string(a), 0) >= 0 {
			return nil, &apiError{http.StatusUnprocessableEntity, api.CodeInvalidArgs, fmt.Sprintf("argument %d contains a NUL byte", i+1)}
		}
		total += len(a)
		out[i] = string(a)
	}
	if total > api.MaxArgsBytes {
		return nil, &apiError{http.StatusUnprocessableEntity, api.CodeInvalidArgs, fmt.Sprintf("arguments total %d bytes: at most %d are allowed", total, api.MaxArgsBytes)}
	}
	return out, nil
}

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := mayAct(c, auth.ActionStart); err != nil {
		s.fail(w, r, c, err)
		return
	}
	var req api.StartRequest
	if err := decodeBody(w, r, c, &req); err != nil {
		s.fail(w, r, c, err)
		return
	}
	args, err := validateArgs(req.Args)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	spec := worker.Spec{Owner: c.identity.User, Path: req.FilePath, Args: args, Isolate: req.Isolate}
	if l := req.Limits; l != nil {
		spec.Limits = worker.LimitsRequest{MemoryBytes: l.MemoryBytes, CPUs: l.CPUs, Pids: l.Pids,
			IOReadBytesPerSec: l.IOReadBytesPerSec, IOWriteBytesPerSec: l.IOWriteBytesPerSec}
	}
	if req.Timeout != "" {
		if spec.Timeout, err = time.ParseDuration(req.Timeout); err != nil || spec.Timeout <= 0 {
			s.fail(w, r, c, &apiError{http.StatusUnprocessableEntity, api.CodeInvalidTimeout,
				fmt.Sprintf("timeout %q is not a positive duration: use one such as 90s or 1h30m", req.Timeout)})
			return
		}
	}
	id, err := s.pool.Start(spec)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.startWait)
	snap, err := s.pool.WaitStarted(ctx, id)
	cancel()
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	// The answer carries no output, and does not look for any: a job
	// just started has written little or nothing yet.
	writeJob(w, http.StatusOK, s.jobWithTail(snap, 0))
}

// DefaultStartWait bounds how long POST /start waits for a job that a free
// worker took to leave starting, so that the answer says whether it could
// be spawned (running, or failed with reason start-failed) and a client
// needs no second request to tell. A spawn takes milliseconds; one that
// takes longer is answered starting, and the client may ask again. A job
// that waits for a worker is answered queued at once: its wait has no
// bound.
const DefaultStartWait = time.Second

func (s *Server) handleStop(w http.ResponseWriter, r *http.Request, c *caller) {
	var req api.StopRequest
	if err := decodeBody(w, r, c, &req); err != nil {
		s.fail(w, r, c, err)
		return
	}
	grace := s.stopTimeout
	if req.Timeout != "" {
		var err error
		if grace, err = time.ParseDuration(req.Timeout); err != nil || grace < 0 {
			s.fail(w, r, c, &apiError{http.StatusUnprocessableEntity, api.CodeInvalidTimeout,
				fmt.Sprintf("timeout %q is not a grace period: use a duration from 0s to the server's %v, such as 3s", req.Timeout, s.stopTimeout)})
			return
		}
	}
	if _, err := s.visibleJob(c, auth.ActionStop, req.ID); err != nil {
		s.fail(w, r, c, err)
		return
	}
	snap, err := s.pool.StopWithin(r.Context(), req.ID, grace)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	writeJob(w, http.StatusOK, s.job(snap))
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request, c *caller) {
	var req api.RemoveRequest
	if err := decodeBody(w, r, c, &req); err != nil {
		s.fail(w, r, c, err)
		return
	}
	snap, err := s.visibleJob(c, auth.ActionRemove, req.ID)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	// The answer is the job as it was; its output is gone after.
	answer := s.job(snap)
	if err := s.pool.Remove(req.ID); err != nil {
		if errors.Is(err, worker.ErrNotFinal) {
			err = &apiError{http.StatusConflict, api.CodeJobRunning,
				fmt.Sprintf("job %d is %s: only a job that has ended can be removed; stop it first", req.ID, snap.Status)}
		}
		s.fail(w, r, c, err)
		return
	}
	writeJob(w, http.StatusOK, answer)
}

// parseID reads the id query parameter.
func parseID(r *http.Request) (int64, bool, error) {
	return idOf(queryValues(r, "id"))
}

// idOf reads a job id from raw, the values of the id query parameter,
// given at all if ok.
func idOf(raw []string, ok bool) (int64, bool, error) {
	if !ok {
		return 0, false, nil
	}
	if len(raw) != 1 {
		return 0, false, &apiError{http.StatusBadRequest, api.CodeBadRequest, "give id once"}
	}
	id, err := strconv.ParseInt(raw[0], 10, 64)
	if err != nil {
		return 0, false, &apiError{http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("id %q is not a job id: ids are integers from 1", raw[0])}
	}
	return id, true, nil
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request, c *caller) {
	id, one, err := parseID(r)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	if one {
		snap, err := s.visibleJob(c, auth.ActionQuery, id)
		if err != nil {
			s.fail(w, r, c, err)
			return
		}
		writeJob(w, http.StatusOK, s.job(snap))
		return
	}
	// A role that may not query even its own jobs may not list.
	if err := mayAct(c, auth.ActionQuery); err != nil {
		s.fail(w, r, c, err)
		return
	}
	opts, err := parseListOptions(r)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.writeList(w, r, c, opts)
}

// listOptions are GET /query's parameters for a list: the tail of output
// each job carries, the statuses to keep, and a page (limit jobs with ids
// over after).
type listOptions struct {
	tail     int64
	statuses map[string]bool // nil: all
	limit    int             // 0: no limit
	after    int64
}

func parseListOptions(r *http.Request) (listOptions, error) {
	q := r.URL.Query()
	opts := listOptions{tail: api.MaxOutputTail}
	bad := func(msg string) error { return &apiError{http.StatusBadRequest, api.CodeBadRequest, msg} }
	if v := q.Get("tail"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > api.MaxOutputTail {
			return opts, bad(fmt.Sprintf("tail must be a byte count from 0 to %d", api.MaxOutputTail))
		}
		opts.tail = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return opts, bad("limit must be a number of jobs from 1")
		}
		opts.limit = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return opts, bad("after must be a job id")
		}
		opts.after = n
	}
	if v := q.Get("status"); v != "" {
		opts.statuses = map[string]bool{}
		for _, st := range strings.Split(v, ",") {
			if !slices.Contains(api.Statuses, st) {
				return opts, bad(fmt.Sprintf("status %q: use %s, comma-separated", st, strings.Join(api.Statuses, ", ")))
			}
			opts.statuses[st] = true
		}
	}
	return opts, nil
}

// writeList writes {"jobs": [...]} one job at a time: each job carries up to
// 64 KiB of output, so building the whole list first would make the
// server's memory grow with the number of jobs.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, c *caller, opts listOptions) {
	setContentType(w, "application/json")
	// No WriteHeader: the status goes with the first bytes to leave the
	// buffer, so that a store failing before then is still answered with
	// its own status.
	sent := &countingWriter{w: w}
	bw := bufio.NewWriterSize(sent, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	bw.WriteString(`{"jobs":[`)
	first := true
	var encErr error
	written, last, more := 0, int64(0), false
	err := s.pool.Scan(opts.after, func(snap worker.Snapshot) bool {
		if !maySee(c, snap.Owner) || (opts.statuses != nil && !opts.statuses[string(snap.Status)]) {
			return true
		}
		if opts.limit > 0 && written == opts.limit {
			// The page is full, and one more would show: say where the
			// next page starts.
			more = true
			return false
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		written++
		last = snap.ID
		tail := opts.tail
		if snap.OutputSize == 0 {
			// Nothing to show: do not ask the pool to look.
			tail = 0
		}
		encErr = enc.Encode(s.jobWithTail(snap, tail))
		return encErr == nil
	})
	if err != nil && sent.n == 0 {
		s.fail(w, r, c, fmt.Errorf("list jobs: %w", err))
		return
	}
	if err != nil || encErr != nil {
		// The status is sent: all that is left is to cut the answer
		// off, which a client sees as a broken response, not a list.
		s.log.Error().Str("rid", c.id).AnErr("store", err).AnErr("write", encErr).Msg("list jobs")
		panic(http.ErrAbortHandler)
	}
	bw.WriteString("]")
	if more {
		fmt.Fprintf(bw, `,"next":%d`, last)
	}
	bw.WriteString("}\n")
	_ = bw.Flush()
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request, c *caller) {
	// The other parameters need the whole map: the id is read from it
	// too, not by parseID's scan of the raw query.
	q := r.URL.Query()
	values, given := q["id"]
	id, ok, err := idOf(values, given)
	if err == nil && !ok {
		err = &apiError{http.StatusBadRequest, api.CodeBadRequest, "missing id: use /logs?id=N"}
	}
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	follow := false
	if v := q.Get(api.ParamFollow); v != "" {
		if follow, err = strconv.ParseBool(v); err != nil {
			s.fail(w, r, c, &apiError{http.StatusBadRequest, api.CodeBadRequest, "follow must be true or false"})
			return
		}
	}
	var offset int64
	if v := q.Get(api.ParamOffset); v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < 0 {
			s.fail(w, r, c, &apiError{http.StatusBadRequest, api.CodeBadRequest, "offset must be a byte count from 0"})
			return
		}
	}
	tailLines, tailBytes, err := parseTail(q)
	if err == nil && (tailLines >= 0 || tailBytes >= 0) && q.Has("offset") {
		err = &apiError{http.StatusBadRequest, api.CodeBadRequest, "give offset or a tail, not both"}
	}
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	snap, err := s.visibleJob(c, auth.ActionLogs, id)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	switch {
	case tailBytes >= 0:
		offset = max(snap.OutputSize-tailBytes, 0)
	case tailLines >= 0:
		// The size is the output's when the job was looked up: lines
		// written since come after the tail, as they would a moment later.
		offset, err = tailLinesStart(outputAt{r.Context(), s.pool, id}, snap.OutputSize, tailLines, tailBlockSize)
		if err != nil {
			s.fail(w, r, c, fmt.Errorf("find the last %d lines of job %d: %w", tailLines, id, err))
			return
		}
	}
	if follow {
		release, err := s.limits.acquireStream(c.identity.User)
		if err != nil {
			s.metrics.refused.WithLabelValues("streams_per_user").Inc()
			if s.refusedLog.allow() {
				s.log.Warn().Str("rid", c.id).Str("user", c.identity.User).Int("max_streams_per_user", s.limits.maxStreams).
					Msg("refused a log stream: its user follows as many as one user may")
			}
			s.fail(w, r, c, err)
			return
		}
		defer release()
	}
	out, err := s.pool.Follow(r.Context(), id, offset, follow)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	defer out.Close()
	if at := out.GapAt(); at >= 0 {
		w.Header().Set(api.HeaderOutputGap, strconv.FormatInt(at, 10))
	}
	if err := s.stream(w, out); err != nil {
		s.log.Warn().Str("rid", c.id).Int64("job", id).Err(err).Msg("log stream cut off")
		// A clean end would tell the client it has every byte: cut the
		// response off instead, so that it sees the stream break.
		panic(http.ErrAbortHandler)
	}
}

// parseTail reads the tailLines and tailBytes query parameters; -1 stands
// for one not given. At most one may be given.
func parseTail(q url.Values) (lines, bytes int64, err error) {
	lines, bytes = -1, -1
	for _, p := range []struct {
		name string
		v    *int64
	}{{api.ParamTailLines, &lines}, {api.ParamTailBytes, &bytes}} {
		raw := q.Get(p.name)
		if raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return -1, -1, &apiError{http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s must be a count from 0", p.name)}
		}
		*p.v = n
	}
	if lines >= 0 && bytes >= 0 {
		return -1, -1, &apiError{http.StatusBadRequest, api.CodeBadRequest,
			fmt.Sprintf("give %s or %s, not both", api.ParamTailLines, api.ParamTailBytes)}
	}
	return lines, bytes, nil
}

const (
	// streamChunk is the most a stream sends per flush at first: enough
	// for a job that writes lines now and then. streamChunkMax is what it
	// grows to once a read fills the chunk, so that a job writing fast is
	// sent in long strides; it matches the worker's largest read from a
	// job's pipe.
	streamChunk    = 32 << 10
	streamChunkMax = 256 << 10
)

// stream copies a job's output to the response, flushing each chunk as it
// comes. Each write gets its own deadline instead of one for the response,
// so a stream may last as long as the job while a client that stops reading
// is still cut off. It returns an error only when bytes the client had yet
// to receive were dropped (past the output cap, the job does not wait for
// a follower that stops reading for long).
func (s *Server) stream(w http.ResponseWriter, out io.Reader) error {
	rc := http.NewResponseController(w)
	setContentType(w, "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	// The header is the stream's first write: it gets a deadline of its
	// own too, as the whole-response one may have passed while the
	// request was authenticated and its output opened.
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	buf := make([]byte, streamChunk)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			s.metrics.streamedBytes.Add(float64(n))
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			if ferr := rc.Flush(); ferr != nil {
				return nil
			}
		}
		if n == len(buf) && n < streamChunkMax {
			// The job writes faster than this follower reads: send in
			// longer strides, as fewer flushes make fewer TLS records
			// and syscalls for the same bytes.
			buf = make([]byte, streamChunkMax)
		}
		if errors.Is(err, worker.ErrOutputDropped) {
			// The follower fell so far behind that bytes it had not
			// read are gone.
			return err
		}
		if err != nil {
			// io.EOF: the job ended and every byte was sent. Anything
			// else: the client left or the server is shutting down.
			return nil
		}
	}
}
