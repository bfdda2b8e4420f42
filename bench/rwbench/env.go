//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rw-project/rw/pki"
)

// env is one run's world: the binaries, a PKI, a jobs directory and the
// servers started, all under one temporary directory that close removes.
type env struct {
	bin, dir, pki, jobs string
	// The files of the identity every request uses (alice, an admin).
	cert, key, ca, token string
	// serveFlags are added to every rw serve's command line.
	serveFlags []string
	servers    []*server
	// authorization is the Authorization header of every request, read
	// once: a file read per request would be measured with the request.
	authorization string
}

// newEnv makes the temporary directory, the PKI and the jobs directory.
// The jobs are add.exe and, where bench/run.sh could build it, add-static,
// both copied from bin, and the scripts below.
func newEnv(ctx context.Context, bin string) (*env, error) {
	dir, err := os.MkdirTemp("", "rwbench-")
	if err != nil {
		return nil, err
	}
	// Jobs run as nobody when rw serve runs as root: they must reach the
	// jobs directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e := &env{bin: bin, dir: dir, pki: filepath.Join(dir, "pki"), jobs: filepath.Join(dir, "jobs")}
	e.cert = filepath.Join(e.pki, "clients", "alice.pem")
	e.key = filepath.Join(e.pki, "clients", "alice-key.pem")
	e.ca = filepath.Join(e.pki, "server-ca.pem")
	e.token = filepath.Join(e.pki, "clients", "alice.jwt")
	if err := e.setUp(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// jobScripts are the jobs the harness runs besides add.exe and add-static.
var jobScripts = map[string]string{
	"zeros.sh": "#!/bin/sh\n# writes $1 zero bytes\nexec head -c \"$1\" /dev/zero\n",
	"sleep.sh": "#!/bin/sh\n# sleeps $1 seconds, holding a worker\nexec sleep \"$1\"\n",
}

func (e *env) setUp(ctx context.Context) error {
	if err := os.Mkdir(e.jobs, 0o755); err != nil {
		return err
	}
	for name, text := range jobScripts {
		if err := os.WriteFile(filepath.Join(e.jobs, name), []byte(text), 0o755); err != nil {
			return err
		}
	}
	for _, name := range []string{"add.exe", "add-static"} {
		data, err := os.ReadFile(filepath.Join(e.bin, name))
		if errors.Is(err, os.ErrNotExist) && name == "add-static" {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(e.jobs, name), data, 0o755); err != nil {
			return err
		}
	}
	if _, err := e.rw(ctx, "gen-certs", "--user", "alice:admin"); err != nil {
		return err
	}
	token, err := os.ReadFile(e.token)
	if err != nil {
		return err
	}
	e.authorization = "Bearer " + strings.TrimSpace(string(token))
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// close stops every server started and removes the temporary directory.
func (e *env) close() {
	for _, s := range e.servers {
		s.stop()
	}
	os.RemoveAll(e.dir)
}

// rwEnv is the environment of every rw command the harness runs: its own
// PKI and state file, never the user's.
func (e *env) rwEnv() []string {
	return append(os.Environ(), "RW_PKI_DIR="+e.pki, "RW_STATE="+filepath.Join(e.dir, "state.json"), "NO_COLOR=1")
}

// rw runs an rw command to its end and returns its stdout.
func (e *env) rw(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, "rw"), args...)
	cmd.Env = e.rwEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("rw %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// server is a process the harness started: rw serve or a floor server.
type server struct {
	name string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// freeAddr returns a loopback address no one listens on, for rw serve,
// which takes its address as a flag.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startRW starts rw serve with the harness's settings plus extra flags and
// waits until it answers.
func (e *env) startRW(ctx context.Context, name string, extra ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(e.dir, name)
	args := append([]string{"serve", "--addr", addr, "--jobs-dir", e.jobs, "--data-dir", data,
		"--log-format", "json", "--log-level", "warn",
		// The harness's jobs wait in the queue rather than be refused,
		// and every job stays listed.
		"--queue", "1000000", "--max-jobs-per-user", "0", "--retain-jobs", "0",
		// The default --max-conns leaves room for a queue of that size,
		// which leaves none: the load is up to 64 clients of one user.
		"--max-conns", "1024", "--max-conns-per-user", "0",
		"--max-output", "2GiB", "--stop-timeout", "1s",
		// Apart from other servers' job cgroups on the same host.
		"--cgroup-parent", fmt.Sprintf("rwbench-%d-%s", os.Getpid(), name),
	}, extra...)
	args = append(args, e.serveFlags...)
	cmd := exec.Command(filepath.Join(e.bin, "rw"), args...)
	cmd.Env = e.rwEnv()
	logFile, err := os.Create(filepath.Join(e.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	s, err := e.start(name, addr, cmd)
	if err != nil {
		return nil, err
	}
	if err := e.waitReady(ctx, s); err != nil {
		return nil, err
	}
	if _, err := e.rw(ctx, "connect", addr); err != nil {
		return nil, err
	}
	return s, nil
}

// startFloor starts the floor server (rwbench serve) with extra flags.
func (e *env) startFloor(ctx context.Context, name string, extra ...string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"serve", "-pki", e.pki, "-jobs-dir", e.jobs}, extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	s, err := e.start(name, "", cmd)
	if err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("%s did not say its address: %w", name, err)
	}
	s.addr = strings.TrimSpace(line)
	return s, e.waitReady(ctx, s)
}

func (e *env) start(name, addr string, cmd *exec.Cmd) (*server, error) {
	// A group of its own, so that a Ctrl-C meant for the harness reaches
	// the servers only through stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	e.servers = append(e.servers, s)
	return s, nil
}

// stop ends the server with SIGTERM (rw serve then stops its jobs), and with
// SIGKILL to its group if it has not ended within 15 seconds. It may be
// called more than once.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// waitReady waits until a TLS handshake with s succeeds.
func (e *env) waitReady(ctx context.Context, s *server) error {
	cfg, err := e.tlsConfig()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		// tls.Dial returns once the handshake is done.
		conn, err := tls.Dial("tcp", s.addr, cfg)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s ended before it answered (its log is in %s)", s.name, e.dir)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer on %s: %w", s.name, s.addr, err)
		}
	}
}

func (e *env) tlsConfig() (*tls.Config, error) {
	return pki.LoadClientTLS(e.cert, e.key, e.ca)
}

// client returns an HTTP client with a keep-alive connection of its own.
func (e *env) client() (*http.Client, error) {
	cfg, err := e.tlsConfig()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 1}}, nil
}

// call sends one request to s and decodes a JSON answer into out (if not
// nil).
func (e *env) call(ctx context.Context, c *http.Client, s *server, method, path, body string, out any) error {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+s.addr+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", e.authorization)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// procStatus returns a field of /proc/PID/status in its unit (kB for sizes).
func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, errors.New("no " + field + " in /proc/PID/status")
}
