package cli

import (
	"fmt"
	"math"
	"runtime"
	"strconv"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/client"
	ucli "github.com/urfave/cli/v2"
)

// limitFlag is one kind of job limit as the command line spells it.
type limitFlag struct {
	name  string // the flag of start and run; serve's are job-NAME and max-job-NAME
	env   string // serve's environment variable stem
	usage string
	def   string // serve's default
}

// limitFlags are the job limits, in the order help lists them. Sizes take
// the same units as --max-output; 0 means unlimited.
var limitFlags = []limitFlag{
	{"memory", "MEMORY", "memory (bytes, or with KiB, MiB, GiB)", "512MiB"},
	{"cpus", "CPUS", "CPU time per second of wall time, in CPUs (0.5: half of one)", strconv.Itoa(runtime.NumCPU())},
	{"pids", "PIDS", "processes and threads at once", "1024"},
	{"io-read", "IO_READ", "block IO reads per second (bytes, or with KiB, MiB, GiB)", "0"},
	{"io-write", "IO_WRITE", "block IO writes per second (bytes, or with KiB, MiB, GiB)", "0"},
}

// serverLimitFlags are rw serve's --job-* defaults and --max-job-* maxima.
func serverLimitFlags() []ucli.Flag {
	var flags []ucli.Flag
	for _, f := range limitFlags {
		flags = append(flags,
			&ucli.StringFlag{Name: "job-" + f.name, Value: f.def, EnvVars: []string{"RW_JOB_" + f.env},
				Usage: "default limit of a job's " + f.usage + "; 0 is unlimited"},
			&ucli.StringFlag{Name: "max-job-" + f.name, Value: "0", EnvVars: []string{"RW_MAX_JOB_" + f.env},
				Usage: "the most of " + f.usage + " a job may ask for; 0 is no cap"})
	}
	return flags
}

// requestLimitFlags are rw start's and rw run's flags for a job's own
// limits.
func requestLimitFlags() []ucli.Flag {
	// Not --timeout: every command has that flag already, for the bound
	// on each request.
	flags := []ucli.Flag{
		&ucli.DurationFlag{Name: "time-limit", Usage: "stop the job, as rw stop does, once it has run this long (default: the server's)"},
		&ucli.BoolFlag{Name: "isolate", Usage: "run the job in PID, mount, network, UTS and IPC namespaces of its own (default: the server's; --isolate=false to ask for none)"},
	}
	for _, f := range limitFlags {
		flags = append(flags, &ucli.StringFlag{Name: f.name, Usage: "limit the job's " + f.usage + "; 0 is unlimited (default: the server's)"})
	}
	return flags
}

// limitValues reads the five limit flags named prefix+NAME, each as its
// kind says; set tells which were given.
func limitValues(c *ucli.Context, prefix string, only func(name string) bool) (api.Limits, map[string]bool, error) {
	var l api.Limits
	set := map[string]bool{}
	for _, f := range limitFlags {
		flag := prefix + f.name
		if !only(flag) {
			continue
		}
		set[f.name] = true
		if err := parseLimit(&l, f.name, c.String(flag)); err != nil {
			return api.Limits{}, nil, usagef("--%s: %v", flag, err)
		}
	}
	return l, set, nil
}

// parseLimit reads v into the field of l that the limit flag name (without
// its prefix) sets: a size for memory and IO, a count for pids, a number
// for cpus.
func parseLimit(l *api.Limits, name, v string) error {
	var err error
	switch name {
	case "memory":
		l.MemoryBytes, err = parseBytes(v)
	case "io-read":
		l.IOReadBytesPerSec, err = parseBytes(v)
	case "io-write":
		l.IOWriteBytesPerSec, err = parseBytes(v)
	case "pids":
		l.Pids, err = strconv.ParseInt(v, 10, 64)
		if err != nil || l.Pids < 0 {
			err = fmt.Errorf("%q is not a count of processes: use a whole number, 0 for no limit", v)
		}
	case "cpus":
		l.CPUs, err = strconv.ParseFloat(v, 64)
		// ParseFloat reads "NaN" and "Inf" too, which no limit can be and
		// JSON cannot carry.
		if err != nil || l.CPUs < 0 || math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) {
			err = fmt.Errorf("%q is not a number of CPUs: use a number such as 0.5 or 2, 0 for no limit", v)
		}
	default:
		err = fmt.Errorf("no limit %q", name)
	}
	return err
}

// startOptions reads rw start's and rw run's flags for what the job gets:
// limits, a time limit, isolation. What is not given takes the server's
// default.
func startOptions(c *ucli.Context) (client.StartOptions, error) {
	limits, err := requestLimits(c)
	if err != nil {
		return client.StartOptions{}, err
	}
	opts := client.StartOptions{Limits: limits, Timeout: c.Duration("time-limit")}
	if c.IsSet("isolate") {
		isolate := c.Bool("isolate")
		opts.Isolate = &isolate
	}
	return opts, nil
}

// requestLimits reads rw start's and rw run's limit flags; nil when none
// was given, so the server's defaults apply.
func requestLimits(c *ucli.Context) (*api.LimitsRequest, error) {
	l, set, err := limitValues(c, "", c.IsSet)
	if err != nil || len(set) == 0 {
		return nil, err
	}
	req := &api.LimitsRequest{}
	if set["memory"] {
		req.MemoryBytes = &l.MemoryBytes
	}
	if set["cpus"] {
		req.CPUs = &l.CPUs
	}
	if set["pids"] {
		req.Pids = &l.Pids
	}
	if set["io-read"] {
		req.IOReadBytesPerSec = &l.IOReadBytesPerSec
	}
	if set["io-write"] {
		req.IOWriteBytesPerSec = &l.IOWriteBytesPerSec
	}
	return req, nil
}
