//go:build linux

package worker

import (
	"fmt"
	"math"
	"strconv"

	"github.com/rw-project/rw/internal/cgroup"
)

// Limits bound what a job may use; a zero field is unlimited. They are the
// cgroup package's, since a job's cgroup is what holds them.
type Limits = cgroup.Limits

// LimitsRequest is what a start request asks for; a nil field takes the
// pool's default.
type LimitsRequest struct {
	MemoryBytes        *int64
	CPUs               *float64
	Pids               *int64
	IOReadBytesPerSec  *int64
	IOWriteBytesPerSec *int64
}

// Empty reports whether r asks for nothing.
func (r LimitsRequest) Empty() bool {
	return r.MemoryBytes == nil && r.CPUs == nil && r.Pids == nil && r.IOReadBytesPerSec == nil && r.IOWriteBytesPerSec == nil
}

// The least a job may be limited to. Below these a job cannot even start
// (a shell needs a few processes and some MiB), or the kernel refuses the
// value (a CPU quota under 1 ms per 100 ms period).
const (
	MinMemoryBytes = 16 << 20
	MinPids        = 16
	MinCPUs        = 0.01
)

// limitField describes one field of Limits for checking and for messages.
type limitField struct {
	name     string // as the API names it
	floor    float64
	req      *float64 // nil when not asked for
	def, max float64
	unit     string
}

// resolveLimits returns the limits a job gets: what req asks for, the
// default for what it does not. A negative value, one below the field's
// floor, or one over the maximum (0, unlimited, is over any maximum) gives
// ErrInvalidLimits, naming the field and the range allowed.
func resolveLimits(req LimitsRequest, def, max Limits) (Limits, error) {
	fields := []limitField{
		{"memoryBytes", MinMemoryBytes, intPtr(req.MemoryBytes), float64(def.MemoryBytes), float64(max.MemoryBytes), " bytes"},
		{"cpus", MinCPUs, req.CPUs, def.CPUs, max.CPUs, ""},
		{"pids", MinPids, intPtr(req.Pids), float64(def.Pids), float64(max.Pids), ""},
		{"ioReadBytesPerSec", 1, intPtr(req.IOReadBytesPerSec), float64(def.IOReadBytesPerSec), float64(max.IOReadBytesPerSec), " bytes/s"},
		{"ioWriteBytesPerSec", 1, intPtr(req.IOWriteBytesPerSec), float64(def.IOWriteBytesPerSec), float64(max.IOWriteBytesPerSec), " bytes/s"},
	}
	got := make([]float64, len(fields))
	for i, f := range fields {
		if f.req == nil {
			got[i] = f.def
			continue
		}
		v := *f.req
		if math.IsNaN(v) || v < 0 || (v > 0 && v < f.floor) || (f.max > 0 && (v == 0 || v > f.max)) {
			return Limits{}, fmt.Errorf("%s %s is out of range: %s: %w", f.name, num(v), f.allowed(), ErrInvalidLimits)
		}
		got[i] = v
	}
	return Limits{
		MemoryBytes:        int64(got[0]),
		CPUs:               got[1],
		Pids:               int64(got[2]),
		IOReadBytesPerSec:  int64(got[3]),
		IOWriteBytesPerSec: int64(got[4]),
	}, nil
}

// allowed says in words which values the field takes.
func (f limitField) allowed() string {
	if f.max > 0 {
		return fmt.Sprintf("ask for %s to %s%s", num(f.floor), num(f.max), f.unit)
	}
	return fmt.Sprintf("ask for 0 (unlimited) or at least %s%s", num(f.floor), f.unit)
}

// num writes v in plain decimal, never with an exponent.
func num(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func intPtr(p *int64) *float64 {
	if p == nil {
		return nil
	}
	v := float64(*p)
	return &v
}

// CheckLimits checks a server's default and maximum limits against each
// other and the floors, before any job runs: a default must itself be a
// value a request could ask for.
func CheckLimits(def, max Limits) error {
	req := LimitsRequest{
		MemoryBytes:        &def.MemoryBytes,
		CPUs:               &def.CPUs,
		Pids:               &def.Pids,
		IOReadBytesPerSec:  &def.IOReadBytesPerSec,
		IOWriteBytesPerSec: &def.IOWriteBytesPerSec,
	}
	_, err := resolveLimits(req, def, max)
	return err
}

// limits resolves the limits of a job that asks for req. Without cgroups
// nothing can hold a limit: a job that asks for one is refused rather than
// run unbounded behind the caller's back, and the others run unlimited.
func (p *Pool) limits(req LimitsRequest) (Limits, error) {
	if !p.enforcesLimits() {
		if !req.Empty() {
			return Limits{}, fmt.Errorf("this server runs jobs without cgroups, so it cannot hold them to limits: ask without limits, or run the server as root on a host with cgroups: %w", ErrInvalidLimits)
		}
		return Limits{}, nil
	}
	return resolveLimits(req, p.cfg.DefaultLimits, p.cfg.MaxLimits)
}
