//go:build linux

package server

import (
	"fmt"
	"net"
	"os"
)

// notify tells the service manager of a change of state, as sd_notify(3)
// does: one datagram of "KEY=VALUE" lines to the socket named by
// $NOTIFY_SOCKET (a path, or an abstract name after '@'). Without the
// variable, rw is not run by systemd with Type=notify, and there is no one
// to tell.
func notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify the service manager: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify the service manager: %w", err)
	}
	return nil
}
