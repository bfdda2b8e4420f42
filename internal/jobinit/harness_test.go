//go:build linux

package jobinit

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// needRoot skips t unless the test runs as root, which creating the
// namespaces (and mounting /proc in them) takes.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root: creating PID, mount, network, UTS and IPC namespaces takes CAP_SYS_ADMIN; run the tests as root")
	}
}

// helperSpec is the spec of a job that runs the test binary as the helper
// doing args.
func helperSpec(args ...string) Spec {
	return Spec{
		Hostname: "rw-test",
		Path:     "/proc/self/fd/3",
		Args:     append([]string{helperName}, args...),
		// The race detector makes a program that exits 0 sleep a second
		// first; init, whose environment is empty, still does.
		Env: []string{"PATH=/usr/bin:/bin", "GORACE=atexit_sleep_ms=0"},
		Dir: "/",
	}
}

// isolated is an isolated job started by a test.
type isolated struct {
	t      testing.TB
	cmd    *exec.Cmd
	status *Status
	out    *bufio.Reader
	waited bool
}

// startIsolated runs spec's job under init, with exePath as the job's
// executable (the test binary if empty). The job is killed, if still
// running, when the test ends.
func startIsolated(t testing.TB, spec Spec, exePath string) *isolated {
	t.Helper()
	return start(t, exePath, func(exe, out *os.File) (*exec.Cmd, *Status, error) {
		return Command("/proc/self/exe", spec, exe, out)
	})
}

// startUnchecked is startIsolated past Command's checks, as if they had
// missed something init then fails on.
func startUnchecked(t testing.TB, spec Spec) *isolated {
	t.Helper()
	return start(t, "", func(exe, out *os.File) (*exec.Cmd, *Status, error) {
		return command("/proc/self/exe", spec, exe, out)
	})
}

func start(t testing.TB, exePath string, build func(exe, out *os.File) (*exec.Cmd, *Status, error)) *isolated {
	t.Helper()
	if exePath == "" {
		exePath = os.Args[0]
	}
	exe, err := os.Open(exePath)
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		exe.Close()
		t.Fatal(err)
	}
	cmd, status, err := build(exe, outW)
	if err != nil {
		exe.Close()
		outW.Close()
		outR.Close()
		t.Fatal(err)
	}
	err = cmd.Start()
	// As the caller must: init has its copies now.
	exe.Close()
	outW.Close()
	if err != nil {
		status.Close()
		outR.Close()
		t.Fatal(err)
	}
	j := &isolated{t: t, cmd: cmd, status: status, out: bufio.NewReader(outR)}
	t.Cleanup(func() {
		if !j.waited {
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
		status.Close()
		outR.Close()
	})
	return j
}

// line returns the job's next line of output, failing the test at EOF.
func (j *isolated) line() string {
	j.t.Helper()
	s, err := j.out.ReadString('\n')
	if err != nil {
		j.t.Fatalf("reading the job's output: %v (after %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// lines returns the rest of the job's output, up to EOF, which comes once
// init and everything in its namespace are gone.
func (j *isolated) lines() []string {
	j.t.Helper()
	b, err := io.ReadAll(j.out)
	if err != nil {
		j.t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// signalGroup sends sig to init's process group, as the worker signals a
// job.
func (j *isolated) signalGroup(sig syscall.Signal) {
	j.t.Helper()
	if err := syscall.Kill(-j.cmd.Process.Pid, sig); err != nil {
		j.t.Fatal(err)
	}
}

// wait waits for init and returns its exit code (-1 if a signal killed
// it), and the job's status as init reported it.
func (j *isolated) wait() (initCode int, ws syscall.WaitStatus, err error) {
	j.t.Helper()
	werr := j.cmd.Wait()
	j.waited = true
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		j.t.Fatalf("waiting for init: %v", werr)
	}
	ws, err = j.status.Read()
	return j.cmd.ProcessState.ExitCode(), ws, err
}
