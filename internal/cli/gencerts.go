package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/rw-project/rw/pki"
	ucli "github.com/urfave/cli/v2"
)

func genCertsCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "gen-certs",
		Usage: "create the certificate authorities, server certificate, token key and client identities",
		UsageText: `rw gen-certs [--dir DIR] [--user NAME[:ROLE]]... [--host NAME_OR_IP]... [--force]

   Creates whatever is missing in DIR and keeps what is there, so it is safe
   to run again: a later --user adds that user, signed by the existing client
   CA. ROLE is admin or user (the default).

EXAMPLES:
   rw gen-certs --user alice:admin --user bob
   rw gen-certs --user carol
   rw gen-certs --dir ./pki --host rw.example.com --host 10.0.0.5 --user alice:admin`,
		Flags: []ucli.Flag{
			pkiDirFlag("dir"),
			&ucli.StringSliceFlag{Name: "user", Usage: "create a client identity NAME with ROLE (admin or user)"},
			&ucli.StringSliceFlag{Name: "host", Usage: "a name or IP of the server (default: localhost, 127.0.0.1, ::1)"},
			&ucli.BoolFlag{Name: "force", Usage: "replace everything: new CAs, server certificate and token key, and every existing identity issued again"},
			&ucli.DurationFlag{Name: "token-lifetime", Value: pki.DefaultTokenLifetime, Usage: "how long new tokens are valid"},
		},
		Action: genCerts,
	}
}

func genCerts(c *ucli.Context) error {
	if c.Args().Present() {
		return usagef("gen-certs takes no arguments, got %q; use --user NAME for identities", c.Args().First())
	}
	var users []pki.UserSpec
	for _, s := range c.StringSlice("user") {
		u, err := pki.ParseUserSpec(s)
		if err != nil {
			return usagef("--user %s: %v", s, err)
		}
		users = append(users, u)
	}
	for _, h := range c.StringSlice("host") {
		if err := pki.ValidateHost(h); err != nil {
			return usagef("--host: %v", err)
		}
	}
	if c.Duration("token-lifetime") <= 0 {
		return usagef("--token-lifetime must be positive")
	}
	dir, err := pkiDir(c, "dir")
	if err != nil {
		return err
	}
	report, err := pki.Generate(pki.GenerateOptions{
		Dir:           dir,
		Users:         users,
		Hosts:         c.StringSlice("host"),
		Force:         c.Bool("force"),
		TokenLifetime: c.Duration("token-lifetime"),
	})
	switch {
	case errors.Is(err, pki.ErrIncomplete), errors.Is(err, pki.ErrConflict):
		return withHint(err, "nothing was written; see 'rw gen-certs --help'")
	case err != nil:
		return withHint(err, "nothing was written; check that %s is a writable directory or choose another with --dir", dir)
	}

	w := c.App.Writer
	for _, name := range report.Wrote {
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(dir, name))
	}
	for _, name := range report.Kept {
		fmt.Fprintf(w, "kept  %s\n", filepath.Join(dir, name))
	}
	fmt.Fprintf(w, "\nthe server needs: %s\n", strings.Join(
		[]string{pki.ServerCert, pki.ServerKey, pki.ClientCACert, pki.TokenPub}, " "))
	fmt.Fprintf(w, "each client NAME needs: %s clients/NAME.pem clients/NAME-key.pem clients/NAME.jwt\n", pki.ServerCACert)
	fmt.Fprintf(w, "keep the CA keys (%s, %s) and %s off both: they only sign\n", pki.ServerCAKey, pki.ClientCAKey, pki.TokenKey)
	return nil
}
