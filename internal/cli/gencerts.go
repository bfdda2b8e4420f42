package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rw-project/rw/pki"
	ucli "github.com/urfave/cli/v2"
)

func genCertsCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "gen-certs",
		Usage: "create the certificate authorities, server certificate, token key and client identities",
		UsageText: `rw gen-certs [--dir DIR] [--user NAME[:ROLE]]... [--host NAME_OR_IP]... [--force]
   rw gen-certs [--dir DIR] --renew NAME [--renew-cert] [--token-lifetime D]

   Creates whatever is missing in DIR and keeps what is there, so it is safe
   to run again: a later --user adds that user, signed by the existing client
   CA. ROLE is admin or user (the default).

   --renew issues NAME a new token under the existing token key (and with
   --renew-cert a new certificate under the existing client CA) and touches
   nothing else: a running server accepts it at once. --force, by contrast,
   replaces both CAs and every identity.

EXAMPLES:
   rw gen-certs --user alice:admin --user bob
   rw gen-certs --user carol
   rw gen-certs --renew bob --token-lifetime 90d
   rw gen-certs --dir ./pki --host rw.example.com --host 10.0.0.5 --user alice:admin`,
		Flags: []ucli.Flag{
			pkiDirFlag("dir"),
			&ucli.StringSliceFlag{Name: "user", Usage: "create a client identity NAME with ROLE (admin or user)"},
			&ucli.StringSliceFlag{Name: "host", Usage: "a name or IP of the server (default: localhost, 127.0.0.1, ::1)"},
			&ucli.BoolFlag{Name: "force", Usage: "replace everything: new CAs, server certificate and token key, and every existing identity issued again"},
			&ucli.StringFlag{Name: "renew", Usage: "issue the existing user `NAME` a new token, keeping everything else"},
			&ucli.BoolFlag{Name: "renew-cert", Usage: "with --renew: also a new certificate, under the existing client CA"},
			&ucli.StringFlag{Name: "token-lifetime", Value: "30d", Usage: "how long new tokens are valid: days (`90d`) or a Go duration (12h)"},
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
	lifetime, err := parseLifetime(c.String("token-lifetime"))
	if err != nil {
		return usagef("--token-lifetime: %v", err)
	}
	if c.IsSet("renew") {
		return renewUser(c, lifetime)
	}
	if c.Bool("renew-cert") {
		return usagef("--renew-cert needs --renew NAME")
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
		TokenLifetime: lifetime,
	})
	switch {
	case errors.Is(err, pki.ErrIncomplete), errors.Is(err, pki.ErrConflict):
		return withHint(err, "nothing was written; see 'rw gen-certs --help'")
	case err != nil:
		return withHint(err, "nothing was written; check that %s is a writable directory or choose another with --dir", dir)
	}

	w := c.App.Writer
	printReport(w, dir, report)
	fmt.Fprintf(w, "\nthe server needs: %s\n", strings.Join(
		[]string{pki.ServerCert, pki.ServerKey, pki.ClientCACert, pki.TokenPub}, " "))
	fmt.Fprintf(w, "each client NAME needs: %s clients/NAME.pem clients/NAME-key.pem clients/NAME.jwt\n", pki.ServerCACert)
	fmt.Fprintf(w, "keep the CA keys (%s, %s) and %s off both: they only sign\n", pki.ServerCAKey, pki.ClientCAKey, pki.TokenKey)
	return nil
}

// renewUser is gen-certs --renew: a new token, and with --renew-cert a new
// certificate, for one existing user, and nothing else.
func renewUser(c *ucli.Context, lifetime time.Duration) error {
	user := c.String("renew")
	if err := pki.ValidateUserName(user); err != nil {
		return usagef("--renew: %v", err)
	}
	for _, f := range []string{"user", "host", "force"} {
		if c.IsSet(f) {
			return usagef("--renew takes no --%s: it renews one existing identity and changes nothing else", f)
		}
	}
	dir, err := pkiDir(c, "dir")
	if err != nil {
		return err
	}
	report, err := pki.Renew(pki.RenewOptions{Dir: dir, User: user, Cert: c.Bool("renew-cert"), TokenLifetime: lifetime})
	switch {
	case errors.Is(err, pki.ErrNoUser):
		return withHint(err, "nothing was written; create the user with 'rw gen-certs --user %s' (or point --dir at the PKI directory it is in)", user)
	case errors.Is(err, pki.ErrIncomplete), errors.Is(err, pki.ErrConflict):
		return withHint(err, "nothing was written; see 'rw gen-certs --help'")
	case err != nil:
		return withHint(err, "nothing was written; check that %s is a writable directory", dir)
	}
	printReport(c.App.Writer, dir, report)
	fmt.Fprintf(c.App.Writer, "\nthe client %s needs the new files; the server needs nothing new\n", user)
	return nil
}

func printReport(w io.Writer, dir string, report pki.Report) {
	for _, name := range report.Wrote {
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(dir, name))
	}
	for _, name := range report.Kept {
		fmt.Fprintf(w, "kept  %s\n", filepath.Join(dir, name))
	}
}

// parseLifetime reads a token lifetime: a number of days (30d), a Go
// duration (12h), or days followed by a duration (1d12h). Go durations stop
// at hours, and token lifetimes are counted in days.
func parseLifetime(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is neither days (30d) nor a duration (12h)", s)
	var d time.Duration
	days, rest, hasDays := strings.Cut(s, "d")
	if hasDays {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
		s = rest
	}
	if s != "" {
		more, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		d += more
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}
