package cli

import (
	"fmt"
	"net"
	"strconv"

	"github.com/rw-project/rw/internal/state"
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
	if _, err := conn.List(ctx); err != nil {
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
