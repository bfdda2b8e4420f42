//go:build linux

package testenv

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log is a log sink that tests read while the server writes to it. Each
// write wakes the tests that wait for a line, so waiting takes no polling.
type Log struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // closed and replaced on each write
}

// Write appends p and wakes the waiters.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.buf.Write(p)
	if l.wrote != nil {
		close(l.wrote)
		l.wrote = nil
	}
	return n, err
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// state returns the log so far and a channel closed by the next write.
func (l *Log) state() (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wrote == nil {
		l.wrote = make(chan struct{})
	}
	return l.buf.String(), l.wrote
}

// WaitFor waits until a line of the log holds every one of parts, and
// returns that line. The bound of a minute only ends a test whose line
// never comes: a loaded host may take seconds to write one.
func (l *Log) WaitFor(t testing.TB, parts ...string) string {
	t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		text, wrote := l.state()
		for _, line := range strings.Split(text, "\n") {
			if containsAll(line, parts) {
				return line
			}
		}
		select {
		case <-wrote:
		case <-deadline.C:
			t.Fatalf("no log line with %q in:\n%s", parts, l.String())
			return ""
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
