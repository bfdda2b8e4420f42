//go:build !linux

package cli

import (
	"io"
	"os"
)

// isTerminal reports whether w is a terminal, where a person reads. Off
// Linux it asks whether w is a character device: a terminal is one (a
// Windows console too), and so is /dev/null, where the difference goes
// unread.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
