//go:build linux

package worker

import (
	"fmt"
	"os"
)

// Stats is the pool's state at one moment, for metrics and health checks.
type Stats struct {
	// Queued and Running count the jobs waiting for a worker and those a
	// worker runs (starting included).
	Queued, Running int
	// QueueSize and Workers are the pool's capacity.
	QueueSize, Workers int
	// OutputBytes is the output kept in the data directory, and
	// OutputWritten all the output written since the pool started.
	OutputBytes   int64
	OutputWritten int64
	// StoreBytes is the size of the job store's file; 0 if it cannot be
	// read.
	StoreBytes int64
	// Closed says the pool is shutting down.
	Closed bool
}

// Stats returns the pool's state now.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	s := Stats{
		Queued:    len(p.pending),
		Running:   len(p.live) - len(p.pending),
		QueueSize: p.cfg.QueueSize,
		Workers:   p.cfg.Workers,
		Closed:    p.closed,
	}
	p.mu.Unlock()
	s.OutputBytes = p.budget.used.Load()
	s.OutputWritten = p.budget.written.Load()
	s.StoreBytes, _ = p.store.Size()
	return s
}

// Writable reports whether the pool can record jobs: its store's file is
// there and the output directory can take a file.
func (p *Pool) Writable() error {
	if _, err := os.Stat(p.store.Path()); err != nil {
		return fmt.Errorf("the job store: %w", err)
	}
	f, err := os.CreateTemp(p.outDir, ".health-*")
	if err != nil {
		return fmt.Errorf("the output directory: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}
