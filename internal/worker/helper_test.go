//go:build linux

package worker

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/jobinit"
	"github.com/rw-project/rw/internal/jobinit/jobinittest"
	"go.uber.org/goleak"
)

// helperName is the name under which the test binary is copied into the
// test jobs directory. Run under that name, it acts as a job (the os/exec
// helper-process pattern): jobs get no environment from the server, so the
// dispatch is on argv[0], which the pool sets to the job's path.
const helperName = "helper"

// jobsDir holds a copy of the test binary as helperName.
var jobsDir string

func TestMain(m *testing.M) {
	// The test binary is the init of isolated jobs, as rw is.
	if len(os.Args) > 1 && os.Args[1] == jobinit.Arg {
		jobinittest.CoverInit()
		jobinit.Main()
	}
	if data := os.Getenv("RW_WORKER_TEST_CRASH"); data != "" {
		jobsDir = os.Getenv("RW_WORKER_TEST_JOBS")
		serveForCrash(data)
	}
	if filepath.Base(os.Args[0]) == helperName {
		jobinittest.ExitHelper(runHelper(os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "rw-worker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jobsDir = dir
	if err := copyExecutable(os.Args[0], filepath.Join(dir, helperName)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 0
	// goleak checks that no test left a goroutine behind.
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goroutines running before the tests:", err)
	}
	code = m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// runHelper is the job side of the tests. Each command does one thing a real
// job might do.
func runHelper(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no command")
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "echo": // print the arguments, one per line, to stdout and stderr alternately
		for i, a := range args {
			w := os.Stdout
			if i%2 == 1 {
				w = os.Stderr
			}
			fmt.Fprintln(w, a)
		}
		return 0
	case "exit": // exit with the given code
		code, _ := strconv.Atoi(args[0])
		fmt.Println("exiting with", code)
		return code
	case "sleep": // print "ready", then sleep
		d, _ := time.ParseDuration(args[0])
		fmt.Println("ready")
		time.Sleep(d)
		return 0
	case "ignore-term": // ignore SIGTERM, print "ready", sleep long
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	case "kill-self": // die by SIGKILL
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Hour)
		return 0
	case "tree": // start a child that starts a grandchild; print every pid; sleep
		// argv: tree [ignore-term]
		fmt.Println("pid", os.Getpid())
		if err := startSelf("tree-child", args...); err != nil {
			fmt.Println("error", err)
			return 1
		}
		time.Sleep(time.Hour)
		return 0
	case "tree-child":
		fmt.Println("pid", os.Getpid())
		if err := startSelf("tree-leaf", args...); err != nil {
			fmt.Println("error", err)
			return 1
		}
		if len(args) > 0 && args[0] == "ignore-term" {
			signal.Ignore(syscall.SIGTERM)
		}
		time.Sleep(time.Hour)
		return 0
	case "tree-leaf":
		if len(args) > 0 && args[0] == "ignore-term" {
			signal.Ignore(syscall.SIGTERM)
		}
		fmt.Println("pid", os.Getpid())
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	case "orphan": // start a grandchild that keeps the output open, then exit
		if err := startSelf("sleep", "1h"); err != nil {
			fmt.Println("error", err)
			return 1
		}
		return 0
	case "escape": // start a process in a new session that holds the output, then exit
		c := exec.Command("/proc/self/exe")
		c.Args = []string{helperName, "sleep", "10s"}
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("pid", c.Process.Pid)
		return 0
	case "escape-late": // start "late" in a new session, holding the output, then exit
		c := exec.Command("/proc/self/exe")
		c.Args = []string{helperName, "late"}
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		return 0
	case "late": // print the pid and "ready", wait for SIGUSR1, print "late"
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		fmt.Println("pid", os.Getpid())
		fmt.Println("ready")
		<-usr1
		fmt.Println("late")
		return 0
	case "bytes": // write every byte value 0..255, n times
		n, _ := strconv.Atoi(args[0])
		var b [256]byte
		for i := range b {
			b[i] = byte(i)
		}
		for range n {
			os.Stdout.Write(b[:])
		}
		return 0
	case "flood": // write n bytes in 64 KiB writes
		n, _ := strconv.ParseInt(args[0], 10, 64)
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = 'a' + byte(i%26)
		}
		for n > 0 {
			k := min(n, int64(len(buf)))
			if _, err := os.Stdout.Write(buf[:k]); err != nil {
				return 1
			}
			n -= k
		}
		return 0
	case "env": // print the environment
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
		return 0
	case "alloc": // allocate and touch n MiB, print "allocated", exit 0
		n, _ := strconv.Atoi(args[0])
		b := make([]byte, n<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println("allocated")
		return 0
	case "oom-child": // run "alloc n" as a child, wait for it, exit 0 whatever it did
		c := exec.Command("/proc/self/exe")
		c.Args = []string{helperName, "alloc", args[0]}
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		fmt.Println("child:", c.Run())
		return 0
	case "spin": // keep n threads busy until the process used d of CPU, print "cpu CPU wall WALL" and "spun", wait for SIGUSR1
		n, _ := strconv.Atoi(args[0])
		d, _ := time.ParseDuration(args[1])
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		// A fixed amount of work, not of wall time: how long it takes
		// depends on the job's CPU limit and on the host's load, but
		// the share of a CPU it got can only be lowered by the load.
		began, cpu0 := time.Now(), cpuTime()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				for cpuTime()-cpu0 < d {
				}
			})
		}
		wg.Wait()
		fmt.Printf("cpu %.3f wall %.3f\nspun\n", (cpuTime() - cpu0).Seconds(), time.Since(began).Seconds())
		<-usr1
		return 0
	case "fork-loop": // start n sleeping children, print how many started, exit
		n, _ := strconv.Atoi(args[0])
		started := 0
		for range n {
			c := exec.Command("/bin/sleep", "30")
			if c.Start() == nil {
				started++
			}
		}
		fmt.Println("started", started)
		return 0
	case "setsid-child": // start a sleeper in a new session, print its pid and "ready", sleep
		c := exec.Command("/proc/self/exe")
		c.Args = []string{helperName, "sleep", "1h"}
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("pid", c.Process.Pid)
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	case "daemon": // double fork: a child in a new session starts the sleeper, then exits
		c := exec.Command("/proc/self/exe")
		c.Args = []string{helperName, "escape"}
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Run(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	case "fork-cgroups": // fork a child at once; print both processes' cgroups
		c := exec.Command("/bin/cat", "/proc/self/cgroup")
		c.Stdout = prefixWriter("child ")
		c.Stderr = os.Stderr
		err := c.Run()
		own, _ := os.ReadFile("/proc/self/cgroup")
		for _, line := range strings.Split(strings.TrimSpace(string(own)), "\n") {
			fmt.Println("main", line)
		}
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		return 0
	case "direct-write": // write n MiB to file with O_DIRECT, past the page cache
		n, _ := strconv.Atoi(args[1])
		f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|syscall.O_DIRECT, 0o600)
		if err != nil {
			fmt.Println("cannot open for direct IO:", err)
			return 3
		}
		defer f.Close()
		// O_DIRECT wants buffers aligned to the block size: an anonymous
		// mapping is aligned to the page.
		buf, err := syscall.Mmap(-1, 0, 64<<10, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		for range n * 16 {
			if _, err := f.Write(buf); err != nil {
				fmt.Println("cannot write with direct IO:", err)
				return 3
			}
		}
		fmt.Println("written")
		return 0
	case "ids": // print the real and effective uid and gid, and the groups
		groups, _ := os.Getgroups()
		fmt.Println("uid", os.Getuid(), "euid", os.Geteuid(), "gid", os.Getgid(), "egid", os.Getegid(), "groups", groups)
		status, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "NoNewPrivs:") {
				fmt.Println(strings.Join(strings.Fields(line), " "))
			}
		}
		fmt.Printf("umask %04o\n", syscall.Umask(0))
		var core syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_CORE, &core)
		fmt.Println("core", core.Cur)
		return 0
	case "ns": // print what an isolated job sees: its parent, /proc, interfaces, hostname
		host, _ := os.Hostname()
		ifaces, _ := net.Interfaces()
		var names []string
		for _, i := range ifaces {
			up := "down"
			if i.Flags&net.FlagUp != 0 {
				up = "up"
			}
			names = append(names, i.Name+":"+up)
		}
		entries, _ := os.ReadDir("/proc")
		procs := 0
		for _, e := range entries {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				procs++
			}
		}
		fmt.Println("ppid", os.Getppid())
		fmt.Println("procs", procs)
		fmt.Println("ifaces", strings.Join(names, ","))
		fmt.Println("hostname", host)
		if len(args) > 0 {
			c, err := net.DialTimeout("tcp", args[0], time.Second)
			if err == nil {
				c.Close()
			}
			fmt.Println("dial", err == nil)
		}
		return 0
	case "cwd": // print the working directory
		dir, err := os.Getwd()
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println(dir)
		return 0
	case "stdin": // report what stdin holds
		b, err := io.ReadAll(os.Stdin)
		fmt.Printf("stdin %d bytes err=%v\n", len(b), err)
		return 0
	case "args": // print the number of arguments and each one quoted
		fmt.Println(len(args))
		for _, a := range args {
			fmt.Printf("%q\n", a)
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "helper: unknown command", cmd)
	return 2
}

// startSelf starts this binary again as a helper with the given command.
// prefixWriter writes each line it is given to stdout after prefix.
type prefixWriter string

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		fmt.Println(string(p) + line)
	}
	return len(b), nil
}

func startSelf(cmd string, args ...string) error {
	c := exec.Command("/proc/self/exe")
	c.Args = append([]string{helperName, cmd}, args...)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	return c.Start()
}

// cpuTime is the CPU time this process has used, user and system, in all
// its threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
