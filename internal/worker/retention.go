//go:build linux

package worker

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/rw-project/rw/internal/store"
)

// retentionInterval is how often retention looks at the data directory
// even when no job ended: jobs age past Retain while nothing happens.
const retentionInterval = time.Minute

// retain is the retention goroutine: it applies Retain, RetainJobs and
// MaxDataSize when a job ends and once a minute, until Shutdown.
func (p *Pool) retain() {
	if p.cfg.Retain <= 0 && p.cfg.RetainJobs <= 0 && p.cfg.MaxDataSize <= 0 {
		return
	}
	tick := time.NewTicker(retentionInterval)
	defer tick.Stop()
	for {
		p.sweep(time.Now())
		select {
		case <-p.quit:
			return
		case <-tick.C:
		case <-p.swept:
		}
	}
}

// wakeRetention asks the retention goroutine for a sweep, without waiting.
func (p *Pool) wakeRetention() {
	select {
	case p.swept <- struct{}{}:
	default:
	}
}

// sweep removes what the retention bounds say must go: final jobs that
// ended before now minus Retain, the oldest final jobs beyond RetainJobs,
// and the oldest final jobs' output while the output on disk is over
// MaxDataSize. Failures are reported and the next sweep tries again.
func (p *Pool) sweep(now time.Time) {
	// One sweep at a time: two would both count what they free.
	p.sweepMu.Lock()
	defer p.sweepMu.Unlock()
	var gone []int64
	if p.cfg.Retain > 0 {
		ids, err := p.store.FinalBefore(now.Add(-p.cfg.Retain))
		p.report(0, err)
		gone = append(gone, ids...)
	}
	for _, id := range gone {
		p.removeByID(id)
	}
	if p.cfg.RetainJobs > 0 {
		stats, err := p.store.FinalStats()
		p.report(0, err)
		if over := stats.Count - int64(p.cfg.RetainJobs); err == nil && over > 0 {
			ids, err := p.store.OldestFinalIDs(int(over))
			p.report(0, err)
			for _, id := range ids {
				p.removeByID(id)
			}
		}
	}
	if p.cfg.MaxDataSize > 0 && p.budget.used.Load() >= p.cfg.MaxDataSize {
		p.report(0, p.store.OldestFinal(func(r store.Record) bool {
			if r.OutputSize > 0 {
				p.dropOutput(r)
			}
			return p.budget.used.Load() >= p.cfg.MaxDataSize
		}))
	}
}

// dropOutput removes a final job's output to make room, and says so in
// its record.
func (p *Pool) dropOutput(r store.Record) {
	err := os.Remove(p.outputPath(r.ID))
	switch {
	case err == nil:
		p.budget.give(r.OutputSize)
	case !errors.Is(err, fs.ErrNotExist):
		p.report(r.ID, err)
		return
	}
	r.OutputSize = 0
	r.OutputTruncated = true
	r.OutputError = "removed to keep the data directory under its --max-data-size"
	p.report(r.ID, p.store.Put(r))
	p.finals.forget(r.ID)
	// The tail kept in memory is of the output just removed: a query
	// would still show it as the job's output.
	p.tails.forget(r.ID)
}

// removeByID removes final job id for retention; the caller holds
// sweepMu.
func (p *Pool) removeByID(id int64) {
	s, err := p.recorded(id)
	if err == nil {
		err = p.remove(s)
	}
	if !errors.Is(err, ErrNotFound) {
		p.report(id, err)
	}
}
