package cli

import (
	"github.com/rw-project/rw/internal/worker"
	ucli "github.com/urfave/cli/v2"
)

// serverLimits reads rw serve's default and maximum job limits and checks
// them against each other.
func serverLimits(c *ucli.Context) (defaults, maxima worker.Limits, err error) {
	all := func(string) bool { return true }
	d, _, err := limitValues(c, "job-", all)
	if err != nil {
		return defaults, maxima, err
	}
	m, _, err := limitValues(c, "max-job-", all)
	if err != nil {
		return defaults, maxima, err
	}
	// The flags are read into the wire type, which the client commands
	// share and which builds everywhere; the worker's has the same fields.
	defaults, maxima = worker.Limits(d), worker.Limits(m)
	if err = worker.CheckLimits(defaults, maxima); err != nil {
		return defaults, maxima, usagef("the --job-* defaults do not fit the --max-job-* maxima and floors: %v", err)
	}
	return defaults, maxima, nil
}
