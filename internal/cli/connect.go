package cli

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/client"
	"github.com/rw-project/rw/internal/state"
	"github.com/rw-project/rw/pki"
	ucli "github.com/urfave/cli/v2"
)

func connectCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "connect",
		Usage: "check a server and remember it for the other commands",
		UsageText: `rw connect HOST:PORT

   Performs the mutual TLS handshake and one authenticated request. Only if
   both succeed does it save the address and identity (rw/state.json under
   the user's config directory, or RW_STATE), so that later commands need
   neither.

EXAMPLES:
   rw connect localhost:3000
   rw connect --user bob rw.example.com:3000`,
		Flags:  connectionFlags(),
		Action: connectAction,
	}
}

func connectAction(c *ucli.Context) error {
	if c.NArg() != 1 {
		return usagef("connect takes one argument, HOST:PORT")
	}
	addr := c.Args().First()
	host, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return usagef("%q is not HOST:PORT", addr)
	}
	id, err := resolveIdentity(c)
	if err != nil {
		return err
	}
	conn, ctx, cleanup, err := openClient(c, addr, id)
	if err != nil {
		return err
	}
	defer cleanup()
	// An authenticated request proves the certificate, the token and the
	// server; one job is enough of an answer, whatever the history.
	if err := conn.EachJob(ctx, client.ListOptions{Limit: 1, Brief: true}, func(api.Job) error { return nil }); err != nil {
		return explain(conn, err)
	}
	path, err := statePath()
	if err != nil {
		return err
	}
	err = state.Save(path, state.State{Server: addr, User: id.user, Role: id.role, Cert: id.cert, Key: id.key, CA: id.ca, Token: id.tokenPath})
	if err != nil {
		return withHint(err, "set RW_STATE to a writable file")
	}
	fmt.Fprintf(c.App.Writer, "connected to %s as %s (%s)\n", addr, id.user, id.role)
	return nil
}

// tokenWarnBefore is how long before its token expires a user is told to
// renew it: long enough to do it on a working day.
const tokenWarnBefore = 7 * 24 * time.Hour

// warnTokenExpiry warns on w when user's token expires within
// tokenWarnBefore. The client cannot verify its token (it has no key), so
// it reads the expiry unverified, only to warn; a token it cannot read, or
// one already expired, is left for the server to refuse with its reasons.
func warnTokenExpiry(w io.Writer, user, token string, now time.Time) {
	exp, err := pki.UnverifiedTokenExpiry(token)
	if err != nil {
		return
	}
	left := exp.Sub(now)
	if left <= 0 || left > tokenWarnBefore {
		return
	}
	fmt.Fprintf(w, "rw: warning: the token of %s expires in %s: renew it with 'rw gen-certs --renew %s'\n", user, roughly(left), user)
}

// roughly says d in whole days, or hours, or minutes when less, rounded
// up: a token issued for two days is said to expire in 2 days, not 1.
func roughly(d time.Duration) string {
	unit, name := 24*time.Hour, "day"
	switch {
	case d <= time.Hour:
		unit, name = time.Minute, "minute"
	case d <= 24*time.Hour:
		unit, name = time.Hour, "hour"
	}
	return plural(int((d+unit-1)/unit), name)
}
