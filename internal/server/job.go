//go:build linux

package server

import (
	"time"
	"unicode/utf8"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/worker"
)

// job converts a snapshot to its API form, with the tail of its output.
func (s *Server) job(snap worker.Snapshot) api.Job {
	return s.jobWithTail(snap, api.MaxOutputTail)
}

// jobWithTail is job with at most tail bytes of output; none for 0.
func (s *Server) jobWithTail(snap worker.Snapshot, tail int64) api.Job {
	j := api.Job{
		ID:              snap.ID,
		Owner:           snap.Owner,
		FilePath:        snap.Path,
		Args:            snap.Args,
		Status:          string(snap.Status),
		QueuePosition:   snap.QueuePosition,
		ExitCode:        snap.ExitCode,
		Reason:          string(snap.Reason),
		Error:           snap.Error,
		OutputTruncated: snap.OutputTruncated,
		OutputError:     snap.OutputError,
		CreatedAt:       snap.CreatedAt.UTC(),
		StartedAt:       optionalTime(snap.StartedAt),
		EndedAt:         optionalTime(snap.EndedAt),
		Limits: api.Limits{
			MemoryBytes:        snap.Limits.MemoryBytes,
			CPUs:               snap.Limits.CPUs,
			Pids:               snap.Limits.Pids,
			IOReadBytesPerSec:  snap.Limits.IOReadBytesPerSec,
			IOWriteBytesPerSec: snap.Limits.IOWriteBytesPerSec,
		},
	}
	j.Isolated = snap.Isolated
	if snap.Timeout > 0 {
		j.Timeout = snap.Timeout.String()
	}
	if u := snap.Usage; u.CPUSeconds != nil || u.MemoryPeakBytes != nil {
		j.Usage = &api.Usage{CPUSeconds: u.CPUSeconds, MemoryPeakBytes: u.MemoryPeakBytes}
	}
	if j.Args == nil {
		j.Args = []string{}
	}
	if tail <= 0 {
		return j
	}
	out, cut, err := s.pool.Tail(snap.ID, tail)
	if err != nil {
		s.log.Error().Int64("job", snap.ID).Err(err).Msg("read job output")
		return j
	}
	if len(out) > 0 {
		if cut {
			out = dropPartialRune(out)
		}
		text := string(out)
		j.Output = &text
	}
	j.OutputTruncated = j.OutputTruncated || cut
	return j
}

// dropPartialRune drops the continuation bytes a cut left at the start of
// the tail, so the text does not begin with a broken character.
func dropPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:]
	}
	return b
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
