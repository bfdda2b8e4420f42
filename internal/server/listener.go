//go:build linux

package server

import (
	"net"
	"sync"
	"sync/atomic"
)

// Room that DefaultMaxConns leaves, within the limit on open files, for what
// is not a connection: the job store, the listeners, the runtime's own
// descriptors (fixedFiles); for each running job, its executable, output
// file, pipes, pidfd, cgroup files and working directory (filesPerWorker);
// and for each queued job, its executable, opened at start so that the
// file started is the file that runs (filesPerQueued: its output file is
// made only on its first byte).
const (
	fixedFiles      = 256
	filesPerWorker  = 16
	filesPerQueued  = 1
	minDefaultConns = 16
)

// DefaultMaxConns is the bound on open connections that leaves room for
// jobs and files within openFiles, the limit on open files: each
// connection counts twice, as a log stream holds the job's output file
// open as well as its socket.
func DefaultMaxConns(openFiles uint64, workers, queue int) int {
	reserve := uint64(fixedFiles + filesPerWorker*workers + filesPerQueued*queue)
	if openFiles <= reserve+2*minDefaultConns {
		return minDefaultConns
	}
	return int(min((openFiles-reserve)/2, 1<<30))
}

// limitListener accepts at most max connections open at once. Past that, it
// accepts each new one and closes it at once, before a byte of TLS is
// exchanged: a handshake costs the server CPU and memory, which a flood of
// connections must not take from those already served.
type limitListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused func() // told of each connection closed unserved
}

func newLimitListener(ln net.Listener, max int, refused func()) *limitListener {
	return &limitListener{Listener: ln, max: int64(max), refused: refused}
}

// Accept returns the next connection there is room for.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &countedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		// A reset, not a FIN: the client learns at once, and the server
		// keeps no TIME_WAIT socket for it.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		l.refused()
	}
}

// countedConn gives its place back to the listener when it is closed,
// once however often Close is called.
type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
