//go:build linux

package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv, set in a process's environment, makes the test binary act as
// a job (the os/exec helper-process pattern) instead of running tests.
const helperEnv = "RW_CGROUP_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runHelper(os.Args[1:]))
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// helperCmd returns a command that runs the test binary as a helper doing
// args[0].
func helperCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	return cmd
}

// runHelper is the job side of the tests.
func runHelper(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no command")
		return 2
	}
	switch args[0] {
	case "sleep": // print "ready", then sleep
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	case "alloc": // allocate and touch N MiB, then say so
		n, _ := strconv.Atoi(args[1])
		b := make([]byte, n<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println("survived")
		return 0
	case "spin": // burn CPU until this process has used the given CPU time
		d, _ := time.ParseDuration(args[1])
		x := 0
		for cpuTime() < d {
			for i := range 1000000 {
				x += i
			}
		}
		fmt.Println("spun", x != 0)
		return 0
	case "escape": // start a setsid'd child and a double-forked daemon; print every pid; sleep
		setsid := helperCmd("sleep")
		setsid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := setsid.Start(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		out, err := helperCmd("daemonize").Output()
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Printf("pids %d %d %s\n", os.Getpid(), setsid.Process.Pid, strings.TrimSpace(string(out)))
		time.Sleep(time.Hour)
		return 0
	case "open": // open the host's cgroups with the given parent; print the mode and the reason
		m, err := Open(Config{Parent: args[1]})
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Printf("%s %s\n", m.Mode(), m.Reason())
		_ = m.Close()
		return 0
	case "daemonize": // start a daemon in a session of its own, print its pid, leave it
		d := helperCmd("sleep")
		d.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := d.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(d.Process.Pid)
		return 0
	}
	fmt.Fprintln(os.Stderr, "helper: unknown command", args[0])
	return 2
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
