//go:build linux

package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/api"
)

func TestResourceErrorsAreTheServers(t *testing.T) {
	for _, tc := range []struct {
		err  error
		what string
	}{
		{syscall.EMFILE, "file descriptors"}, {syscall.ENFILE, "file descriptors"},
		{syscall.ENOMEM, "memory"}, {syscall.ENOSPC, "disk space"},
	} {
		err := fmt.Errorf("open %q: %w", "add.exe", tc.err)
		if status, code := statusOf(err); status != http.StatusServiceUnavailable || code != api.CodeNoResources {
			t.Errorf("%v: %d %s, want 503 %s", tc.err, status, code, api.CodeNoResources)
		}
		if got := resourceError(err); got != tc.what {
			t.Errorf("%v: %q ran out, want %q", tc.err, got, tc.what)
		}
	}
}

func TestErrorLogIsRateLimited(t *testing.T) {
	var out bytes.Buffer
	w := newErrorLogWriter(zerolog.New(&out))
	now := time.Unix(1000, 0)
	w.limit.now = func() time.Time { return now }
	for range 1000 {
		w.Write([]byte("http: TLS handshake error from 127.0.0.1:1: EOF\n"))
	}
	if n := strings.Count(out.String(), "TLS handshake error"); n != logBurst {
		t.Errorf("%d lines of a flood of 1000 in one window, want %d", n, logBurst)
	}
	now = now.Add(logWindow)
	w.Write([]byte("http: TLS handshake error from 127.0.0.1:1: EOF\n"))
	if !strings.Contains(out.String(), fmt.Sprintf(`"dropped":%d`, 1000-logBurst)) {
		t.Errorf("no line says how many were dropped:\n%s", out.String())
	}
}

// TestHeadersSetDirectlyAreCanonical checks the header names the server
// sets in the map directly, without Header.Set's canonicalization: a name
// not in canonical form would be sent, and looked up, as another header.
func TestHeadersSetDirectlyAreCanonical(t *testing.T) {
	for _, name := range []string{"X-Request-Id", api.HeaderStopTimeout, "Content-Type", "X-Content-Type-Options"} {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("header %q is set directly, but its canonical form is %q", name, c)
		}
	}
}
