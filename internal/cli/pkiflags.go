package cli

import (
	"github.com/rw-project/rw/pki"
	ucli "github.com/urfave/cli/v2"
)

// pkiDirFlag is the PKI directory flag of a command.
func pkiDirFlag(name string, aliases ...string) *ucli.StringFlag {
	return &ucli.StringFlag{
		Name:    name,
		Aliases: aliases,
		Usage:   "PKI directory (default: rw/pki under the user's config directory)",
		EnvVars: []string{"RW_PKI_DIR"},
	}
}

// pkiDir returns the directory named by flag (or by the global --pki), or
// the default one.
func pkiDir(c *ucli.Context, flag string) (string, error) {
	if dir := lookup(c, flag); dir != "" {
		return dir, nil
	}
	if dir := lookup(c, "pki"); dir != "" {
		return dir, nil
	}
	dir, err := pki.DefaultDir()
	if err != nil {
		return "", withHint(err, "set --%s or RW_PKI_DIR", flag)
	}
	return dir, nil
}
