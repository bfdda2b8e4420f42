//go:build linux

package worker

import (
	"fmt"
	"time"
)

// timeout resolves the time limit of a job that asks for d: the pool's
// default for zero, d itself when it is within the maximum.
func (p *Pool) timeout(d time.Duration) (time.Duration, error) {
	max := p.cfg.MaxTimeout
	switch {
	case d < 0:
		return 0, fmt.Errorf("timeout %v is negative: ask for a duration such as 90s, or none: %w", d, ErrInvalidTimeout)
	case d == 0:
		return p.cfg.DefaultTimeout, nil
	case max > 0 && d > max:
		return 0, fmt.Errorf("timeout %v is over the server's maximum of %v: %w", d, max, ErrInvalidTimeout)
	}
	return d, nil
}

// CheckTimeouts checks a server's default time limit against its maximum.
func CheckTimeouts(def, max time.Duration) error {
	if def < 0 || max < 0 {
		return fmt.Errorf("time limits cannot be negative: %w", ErrInvalidTimeout)
	}
	if max > 0 && (def == 0 || def > max) {
		return fmt.Errorf("the default time limit %v is not within the maximum %v (a default of none is over any maximum): %w", def, max, ErrInvalidTimeout)
	}
	return nil
}
