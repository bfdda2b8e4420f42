// Package jobinit runs an isolated job: rw re-executes itself as the init
// of new PID, mount, network, UTS and IPC namespaces, and that init runs
// the job.
//
// The server side calls Command to build the init's exec.Cmd, starts it
// (directly or in the job's cgroup), and after init has exited reads the
// job's exact wait status from the returned Status. The init side is Main:
// rw's main calls it, before anything else, when argv[1] is Arg.
//
// Init makes the mounts private, mounts a /proc of the new PID namespace,
// sets the hostname, brings the loopback interface up, sets no_new_privs,
// a core size limit of zero and umask 077, and starts the job in a process
// group of its own with the job's credentials. It then reaps every process
// that ends up its child, forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT,
// SIGUSR1 and SIGUSR2 to the job's process group, and once the job has
// exited reports its wait status on a pipe and exits with the job's code.
// When init exits, the kernel kills whatever is left in the namespace.
//
// The package knows nothing of jobs' records, HTTP, cgroups or the command
// line. docs/isolation.md says what isolation gives, what it does not, and
// why init works as it does.
package jobinit
