//go:build linux

package jobinit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/jobinit/jobinittest"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// helperName is argv[0] of the test binary when it runs as a job (the
// os/exec helper-process pattern). The test binary is also the init: like
// rw's main, TestMain calls Main when argv[1] is Arg.
const helperName = "jobinit-helper"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == Arg {
		jobinittest.CoverInit()
		Main()
	}
	if os.Args[0] == helperName {
		jobinittest.ExitHelper(runHelper(os.Args[1:]))
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

// runHelper is the job side of the tests. Each command prints what the
// test checks, one fact per line.
func runHelper(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no command")
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "exit": // exit with the given code
		code, _ := strconv.Atoi(args[0])
		return code
	case "kill-self": // die by SIGKILL
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case "pids": // print pid, ppid and the processes /proc lists
		fmt.Println("pid", os.Getpid())
		fmt.Println("ppid", os.Getppid())
		fmt.Println("proc", procPids())
		return 0
	case "hostname":
		h, err := os.Hostname()
		fmt.Println("hostname", h, err)
		return 0
	case "net": // print each interface and whether it is up, then try each address
		ifaces, err := net.Interfaces()
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		for _, i := range ifaces {
			fmt.Println("interface", i.Name, i.Flags&net.FlagUp != 0)
		}
		for _, addr := range args {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err == nil {
				c.Close()
			}
			fmt.Println("dial", addr, err == nil)
		}
		return 0
	case "creds": // print the credentials and what init set for the job
		groups, _ := os.Getgroups()
		fmt.Println("uid", os.Getuid())
		fmt.Println("gid", os.Getgid())
		fmt.Println("groups", groups)
		var core unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_CORE, &core)
		fmt.Println("core", core.Cur, core.Max)
		status, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(status), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && (k == "NoNewPrivs" || k == "Umask") {
				fmt.Println(k, strings.TrimSpace(v))
			}
		}
		return 0
	case "trap": // print each forwarded signal as it comes; exit 0 after SIGTERM
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		fmt.Println("ready")
		for s := range c {
			fmt.Println("got", s)
			if s == syscall.SIGTERM {
				return 0
			}
		}
		return 0
	case "ignore-term": // ignore SIGTERM; start a grandchild that reports it; sleep
		signal.Ignore(syscall.SIGTERM)
		c := exec.Command("/proc/self/exe", "term-reporter")
		c.Args[0] = helperName
		c.Stdout = os.Stdout
		if err := c.Start(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("job ready")
		select {}
	case "term-reporter": // say when SIGTERM comes, and live on
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("grandchild ready")
		<-c
		fmt.Println("grandchild got SIGTERM")
		select {}
	case "orphan": // orphan a grandchild that exits; say whether init reaped it
		return orphan()
	case "orphan-parent": // start a grandchild, print its pid, exit
		c := exec.Command("/proc/self/exe", "orphan-leaf")
		c.Args[0] = helperName
		if err := c.Start(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println(c.Process.Pid)
		return 0
	case "orphan-leaf": // exit once orphaned, that is once init is the parent
		for os.Getppid() != 1 {
			time.Sleep(time.Millisecond)
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "helper: unknown command", cmd)
	return 2
}

// orphan starts a child that starts a grandchild and exits, so that the
// grandchild is handed to init. The grandchild exits then; if init did not
// reap it, it would stay a zombie in /proc. It prints "reaped" or what is
// left, and the zombies in the namespace.
func orphan() int {
	c := exec.Command("/proc/self/exe", "orphan-parent")
	c.Args[0] = helperName
	out, err := c.Output()
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	leaf, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	// Reaping takes init a moment after the exit, longer on a loaded
	// host; a zombie that stays a minute is one init ignores.
	for end := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		state, _ := procStat(leaf)
		if state == "" {
			fmt.Println("reaped")
			break
		}
		if time.Now().After(end) {
			fmt.Println("left with state", state)
			break
		}
	}
	var zombies []int
	for _, pid := range procPids() {
		if state, _ := procStat(pid); state == "Z" {
			zombies = append(zombies, pid)
		}
	}
	fmt.Println("zombies", zombies)
	return 0
}

// procPids lists the processes /proc shows, in order.
func procPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// procStat returns the state letter and the start time of process pid, or
// empty strings if there is no such process.
func procStat(pid int) (state, start string) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", ""
	}
	// The command name in parentheses may hold spaces; the fields after
	// it start with the state (field 3); the start time is field 22.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 20 {
		return "", ""
	}
	return fields[0], fields[19]
}
