package cli

import (
	"github.com/rw-project/rw/pki"
	ucli "github.com/urfave/cli/v2"
)

// pkiDirFlag is the --pki/--dir flag shared by the commands that read or
// write a PKI directory.
func pkiDirFlag(name string, aliases ...string) *ucli.StringFlag {
	return &ucli.StringFlag{
		Name:    name,
		Aliases: aliases,
		Usage:   "PKI directory (default: rw/pki under the user's config directory)",
		EnvVars: []string{"RW_PKI_DIR"},
	}
}

// pkiDir returns the directory named by flag, or the default one.
func pkiDir(c *ucli.Context, flag string) (string, error) {
	if dir := c.String(flag); dir != "" {
		return dir, nil
	}
	dir, err := pki.DefaultDir()
	if err != nil {
		return "", withHint(err, "set --%s or RW_PKI_DIR", flag)
	}
	return dir, nil
}
