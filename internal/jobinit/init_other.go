//go:build !linux

package jobinit

import (
	"fmt"
	"os"
)

// Main is where rw re-executed as an isolated job's init begins. Isolation
// takes Linux namespaces, so off Linux Main says so and exits 1; it never
// returns.
func Main() {
	fmt.Fprintf(os.Stderr, "rw: error: %s is rw serve's own, and rw serve needs Linux\n", Arg)
	os.Exit(1)
}
