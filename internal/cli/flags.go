package cli

import (
	"os"
	"slices"
	"time"

	"github.com/rw-project/rw/internal/state"
	ucli "github.com/urfave/cli/v2"
)

// The connection flags work before the command (rw --user bob ls) and after
// it (rw ls --user bob); lookup reads whichever was given.
func connectionFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "pki", EnvVars: []string{"RW_PKI_DIR"}, Usage: "PKI directory (default: rw/pki under the user's config directory)"},
		&ucli.StringFlag{Name: "user", EnvVars: []string{"RW_USER"}, Usage: "identity in the PKI directory's clients folder (default: the only one there)"},
		&ucli.StringFlag{Name: "cert", EnvVars: []string{"RW_CERT"}, Usage: "client certificate file, instead of the PKI directory's"},
		&ucli.StringFlag{Name: "key", EnvVars: []string{"RW_KEY"}, Usage: "client key file, instead of the PKI directory's"},
		&ucli.StringFlag{Name: "ca", EnvVars: []string{"RW_CA"}, Usage: "server CA certificate file, instead of the PKI directory's"},
		&ucli.StringFlag{Name: "token", EnvVars: []string{"RW_TOKEN_FILE"}, Usage: "token file, instead of the PKI directory's"},
		&ucli.StringFlag{Name: "server", EnvVars: []string{"RW_SERVER"}, Usage: "HOST:PORT of the server, instead of the one 'rw connect' saved"},
		&ucli.DurationFlag{Name: "timeout", EnvVars: []string{"RW_TIMEOUT"}, Value: 30 * time.Second, Usage: "bound on connecting and on each request; rw stop waits the server's grace period on top, and logs -f is not bounded"},
	}
}

// envOf names the environment variable of each flag that can be given both
// before and after the command.
var envOf = map[string]string{
	"pki": "RW_PKI_DIR", "user": "RW_USER", "cert": "RW_CERT", "key": "RW_KEY",
	"ca": "RW_CA", "token": "RW_TOKEN_FILE", "server": "RW_SERVER", "timeout": "RW_TIMEOUT",
}

// lookup returns the value of a string flag wherever on the command line it
// was given, the command's own first; otherwise its environment variable or
// default. urfave/cli counts a value from the environment as set in every
// context that defines the flag, so a context's value is taken as given on
// the command line only where it differs from the environment's.
func lookup(c *ucli.Context, name string) string {
	env, hasEnv := os.LookupEnv(envOf[name])
	for _, cc := range c.Lineage() {
		if slices.Contains(cc.LocalFlagNames(), name) {
			if v := cc.String(name); !hasEnv || v != env {
				return v
			}
		}
	}
	return c.String(name)
}

// lookupDuration is lookup for a duration flag.
func lookupDuration(c *ucli.Context, name string) time.Duration {
	env, err := time.ParseDuration(os.Getenv(envOf[name]))
	hasEnv := err == nil
	for _, cc := range c.Lineage() {
		if slices.Contains(cc.LocalFlagNames(), name) {
			if v := cc.Duration(name); !hasEnv || v != env {
				return v
			}
		}
	}
	return c.Duration(name)
}

// statePath is where 'rw connect' keeps what it checked.
func statePath() (string, error) {
	if p := os.Getenv("RW_STATE"); p != "" {
		return p, nil
	}
	return state.DefaultPath()
}
