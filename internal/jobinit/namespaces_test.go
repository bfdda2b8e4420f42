//go:build linux

package jobinit

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// runToEnd runs spec's job to its end, checks that it and init exited 0,
// and returns its output lines.
func runToEnd(t *testing.T, spec Spec) []string {
	t.Helper()
	j := startIsolated(t, spec, "")
	out := j.lines()
	code, ws, err := j.wait()
	if err != nil || code != 0 || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("init exited %d, job status %#x, err %v; want 0, exited 0, nil; output %q", code, ws, err, out)
	}
	return out
}

func TestJobSeesOnlyItsNamespace(t *testing.T) {
	needRoot(t)
	t.Parallel()
	got := runToEnd(t, helperSpec("pids"))
	if len(got) != 3 {
		t.Fatalf("got %q, want pid, ppid and proc lines", got)
	}
	// Init is 1. The job is not 2: the threads of init's Go runtime,
	// started before it, took the pids in between.
	pid, err := strconv.Atoi(strings.TrimPrefix(got[0], "pid "))
	if err != nil || pid < 2 {
		t.Fatalf("got %q, want the job's pid", got[0])
	}
	// /proc is the namespace's own: init and the job, nothing else.
	want := []string{fmt.Sprint("pid ", pid), "ppid 1", fmt.Sprintf("proc [1 %d]", pid)}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHostname(t *testing.T) {
	needRoot(t)
	t.Parallel()
	spec := helperSpec("hostname")
	spec.Hostname = "rw-42"
	got := runToEnd(t, spec)
	want := []string{"hostname rw-42 <nil>"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestNetwork checks that the job has only lo, up, and no way out: neither
// the host's loopback nor its other addresses reach a port the test
// listens on.
func TestNetwork(t *testing.T) {
	needRoot(t)
	t.Parallel()
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() { // ends when the listener is closed below
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	addrs := []string{net.JoinHostPort("127.0.0.1", port)}
	if ip := hostIPv4(t); ip != "" {
		addrs = append(addrs, net.JoinHostPort(ip, port))
	}
	got := runToEnd(t, helperSpec(append([]string{"net"}, addrs...)...))
	l.Close()
	if c, ok := <-accepted; ok {
		c.Close()
		t.Errorf("the listener outside the namespace accepted a connection from %s", c.RemoteAddr())
	}
	want := []string{"interface lo true"}
	for _, a := range addrs {
		want = append(want, fmt.Sprintf("dial %s false", a))
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// hostIPv4 returns an IPv4 address of the host outside loopback, or "" if
// it has none.
func hostIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

// TestOrphansAreReaped checks that init reaps a grandchild whose parent
// died: the job sees no zombie in its namespace while it runs.
func TestOrphansAreReaped(t *testing.T) {
	needRoot(t)
	t.Parallel()
	got := runToEnd(t, helperSpec("orphan"))
	want := []string{"reaped", "zombies []"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCredentials(t *testing.T) {
	needRoot(t)
	t.Parallel()
	for _, tc := range []struct {
		name     string
		set      bool
		uid, gid uint32
		ids      []string
	}{
		{"nobody", true, 65534, 65534, []string{"uid 65534", "gid 65534", "groups []"}},
		{"kept", false, 65534, 65534, []string{"uid 0", "gid 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := helperSpec("creds")
			spec.SetCreds, spec.Uid, spec.Gid = tc.set, tc.uid, tc.gid
			got := runToEnd(t, spec)
			// Whatever the credentials: no core dumps, no new privileges,
			// and files private to the job's user.
			want := append(tc.ids, "core 0 0", "Umask 0077", "NoNewPrivs 1")
			if !tc.set {
				// Init's groups, whatever the test runs with.
				got = slices.DeleteFunc(got, func(s string) bool { return len(s) > 6 && s[:7] == "groups " })
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}
