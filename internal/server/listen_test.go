//go:build linux

package server_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// needIPv6Loopback skips a test on a host where ::1 cannot be listened on
// (IPv6 disabled).
func needIPv6Loopback(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("::1 is unavailable here: %v", err)
	}
	ln.Close()
}

// TestLocalhostListensOnEveryLoopbackAddress checks that a server given
// localhost:PORT answers on 127.0.0.1:PORT and on [::1]:PORT, as clients
// that dial localhost may reach either.
func TestLocalhostListensOnEveryLoopbackAddress(t *testing.T) {
	needIPv6Loopback(t)
	s := testenv.Serve(t, worker.Config{}, func(rc *server.RunConfig) { rc.Addr = "localhost:0" })
	_, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	alice := s.IDs["alice"]
	for _, host := range []string{"127.0.0.1", "::1"} {
		addr := net.JoinHostPort(host, port)
		req, err := http.NewRequest("GET", "https://"+addr+"/version", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		resp, err := s.Client(t, alice).Do(req)
		if err != nil {
			t.Errorf("GET /version at %s: %v", addr, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /version at %s: %d %s", addr, resp.StatusCode, body)
		}
	}
	s.Logs.WaitFor(t, `"addrs":[`, "[::1]:"+port, "127.0.0.1:"+port)
}

// TestLocalhostRefusesAPortInUseOnOneAddress checks that a port another
// program holds on one loopback address is an error, not a server that
// listens on the others alone: clients of localhost would reach that
// program half the time.
func TestLocalhostRefusesAPortInUseOnOneAddress(t *testing.T) {
	needIPv6Loopback(t)
	busy, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	cfg := server.RunConfig{Addr: "localhost:" + port, Pool: worker.Config{JobsDir: testenv.JobsDir(t)}}
	cfg.Ready = func(net.Addr, *worker.Pool) { t.Error("Run served with a port in use") }
	if err := server.Run(t.Context(), cfg); !errors.Is(err, server.ErrListen) {
		t.Errorf("Run: %v, want ErrListen", err)
	}
	// Nothing is left listening on the other address.
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Errorf("127.0.0.1:%s is still taken after Run failed: %v", port, err)
	} else {
		ln.Close()
	}
}
