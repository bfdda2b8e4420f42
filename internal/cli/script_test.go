package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary run as the rw command inside the scripts, so
// that they exercise the real command line, as main runs it: signal
// handling, output and exit codes included.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"rw": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := Run(ctx, os.Args, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
		"silent-listener": silentListener,
	})
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
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitport": waitPort,
			"waitls":   waitLs,
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
