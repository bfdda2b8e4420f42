// Command hello is the floor for rw's start-up: a Go program that prints one
// line and exits, so that the ratio of rw version to it is what rw's size and
// package initialisation cost (see docs/PERFORMANCE.md).
package main

import "os"

func main() {
	os.Stdout.WriteString("hello\n")
}
