//go:build linux

package server_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// TestStalledBodyIsCutOff sends a POST /start whose body stops short of
// its Content-Length, as a slow or hostile client may: the server answers
// 408 once the request's read deadline passes and closes the connection,
// instead of holding it open for the rest of the body.
func TestStalledBodyIsCutOff(t *testing.T) {
	s := testenv.Serve(t, worker.Config{}, func(c *server.RunConfig) { c.ReadTimeout = 300 * time.Millisecond })
	bob := s.IDs["bob"]
	conn, err := tls.Dial("tcp", s.Addr, s.ClientTLS(t, bob))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /start HTTP/1.1\r\nHost: rw\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"filePath\":", bob.Token)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "request_timeout") {
		t.Errorf("a stalled body: %d %s, want 408 request_timeout", resp.StatusCode, body)
	}
	// The server closed the connection: a read ends at once, with EOF,
	// not with the test's own deadline.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("reading after the 408: %v, want EOF: the connection is still open", err)
	}
}
