//go:build linux

package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rw-project/rw/internal/jobinit"
)

// TestMain lets the test binary run as the rw command inside the scripts, so
// that they exercise the real command line, as main runs it: signal
// handling, output and exit codes included.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"rw": func() {
			if len(os.Args) > 1 && os.Args[1] == jobinit.Arg {
				jobinit.Main()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := Run(ctx, os.Args, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
		"silent-listener": silentListener,
		"sigready":        sigReady,
	})
}

// sigReady is a program for the scripts: "sigready PID" waits until process
// PID catches SIGINT and SIGTERM, that is until rw has set up its signal
// handling. A script that signals a command it started in the background
// waits for this first: sh starts background commands with SIGINT ignored,
// so a Ctrl-C sent before rw catches it would be lost, and a fixed sleep
// is too short on a loaded machine.
func sigReady() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sigready PID")
		os.Exit(2)
	}
	want := uint64(1)<<(syscall.SIGINT-1) | uint64(1)<<(syscall.SIGTERM-1)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		status, err := os.ReadFile("/proc/" + os.Args[1] + "/status")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if hexMask, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				if mask, err := strconv.ParseUint(strings.TrimSpace(hexMask), 16, 64); err == nil && mask&want == want {
					os.Exit(0)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "sigready: process", os.Args[1], "did not catch SIGINT and SIGTERM within a minute")
	os.Exit(1)
}

// silentListener is a program for the scripts: it listens on the address
// it is given, takes every TCP connection and never says a word, as a port
// that is not a TLS server may. It runs until it is killed.
func silentListener() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: silent-listener HOST:PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// Read whatever the client sends, answer nothing, and end when the
		// client hangs up.
		go func() {
			defer conn.Close()
			_, _ = io.Copy(io.Discard, conn)
		}()
	}
}

// TestScripts runs the command-line scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "../../testdata/script",
		Setup: func(env *testscript.Env) error {
			// Keep every default path inside the script's work directory.
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/config")
			env.Setenv("HOME", env.WorkDir+"/home")
			// A race-enabled rw sleeps a second before exiting with code 0
			// unless told not to.
			env.Setenv("GORACE", "atexit_sleep_ms=0")
			for _, name := range []string{"PORT", "SILENT_PORT"} {
				port, err := freePort()
				if err != nil {
					return err
				}
				env.Setenv(name, strconv.Itoa(port))
			}
			// Each script's servers keep their job cgroups under a parent
			// of their own: scripts run side by side, and a server cleans
			// up the job cgroups it finds in its parent at start.
			var b [6]byte
			rand.Read(b[:])
			// As root the server runs jobs as nobody, in working
			// directories in the data directory ($WORK/.tmp): nobody must
			// be able to enter the directories above it, not list them.
			if os.Geteuid() == 0 {
				for _, dir := range []string{filepath.Dir(env.WorkDir), env.WorkDir} {
					if err := os.Chmod(dir, 0o711); err != nil {
						return err
					}
				}
			}
			parent := "rwtest-" + hex.EncodeToString(b[:])
			env.Setenv("RW_CGROUP_PARENT", parent)
			// The server's state too: as root its default is /var/lib/rw,
			// which scripts running side by side must not share.
			env.Setenv("RW_DATA_DIR", env.WorkDir+"/data")
			env.Defer(func() { removeCgroupParent(env.T(), parent) })
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitport": waitPort,
			"waitls":   waitLs,
			"pidgone":  pidGone,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "ipv6":
				// ::1 can be listened on: IPv6 is not disabled.
				ln, err := net.Listen("tcp", "[::1]:0")
				if err != nil {
					return false, nil
				}
				ln.Close()
				return true, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the script does; on a test machine that is rare enough.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitLs runs 'rw ls' until a line of its output matches REGEX, for a job
// that must reach a state before the script goes on.
func waitLs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || neg {
		ts.Fatalf("usage: waitls REGEX [rw flags...]")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	if err != nil {
		ts.Fatalf("waitls: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ts.Exec("rw", append([]string{"ls"}, args[1:]...)...)
		out := ts.ReadFile("stdout")
		if err == nil && re.MatchString(out) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no line of 'rw ls' matches %q; last output:\n%s", args[0], out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPort waits until something accepts connections on HOST:PORT, for a
// server started in the background.
func waitPort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: waitport HOST:PORT")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", args[0], time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("nothing listens on %s: %v", args[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pidGone checks that the process whose pid FILE holds is dead (gone, or
// a zombie that only waits to be reaped), waiting up to ten seconds for it.
func pidGone(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: pidgone FILE")
	}
	pid := strings.TrimSpace(ts.ReadFile(args[0]))
	if _, err := strconv.Atoi(pid); err != nil {
		ts.Fatalf("%s holds %q, not a pid", args[0], pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return
		}
		// The state follows the command name in parentheses.
		if rest := string(stat[bytes.LastIndexByte(stat, ')')+1:]); strings.HasPrefix(strings.TrimSpace(rest), "Z") {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("process %s is still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeCgroupParent removes what a script's servers left of the cgroup
// parent named parent: a parent a server found already there (made by the
// script's previous server) stays after it stops, and a script that fails
// midway can leave jobs running. Their processes are killed first.
func removeCgroupParent(t testscript.T, parent string) {
	var dirs []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == parent {
			dirs = append(dirs, path)
			return filepath.SkipDir
		}
		if strings.Count(path, "/") > 8 {
			return filepath.SkipDir
		}
		return nil
	})
	for _, dir := range dirs {
		// cgroup.kill, where there is one, kills every process below.
		_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	}
	for _, dir := range dirs {
		deadline := time.Now().Add(5 * time.Second)
		for {
			jobs, _ := filepath.Glob(filepath.Join(dir, "rw-*"))
			err := errors.Join(removeAll(jobs), os.Remove(dir))
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Log(fmt.Sprintf("cannot remove the cgroup %s: %v", dir, err))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func removeAll(dirs []string) error {
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
