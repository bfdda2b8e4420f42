//go:build linux

package server

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/rs/zerolog"
)

// listen listens on addr. A host part of "localhost" listens on every
// loopback address: 127.0.0.1 and ::1, which localhost stands for (RFC
// 6761) whatever a host's /etc/hosts lists and which the server's
// certificate names, and any other loopback address localhost resolves to
// here. A client that dials localhost may reach any of them. An address
// this host cannot have (::1 where IPv6 is disabled) is left out and
// logged; any other failure, such as a port in use on one of them, is an
// error, and so is having no address left.
func listen(addr string, log zerolog.Logger) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !strings.EqualFold(host, "localhost") {
		return net.Listen("tcp", addr)
	}
	loopback := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	// A failed lookup leaves the two above, which is what localhost means.
	ips, _ := net.LookupIP(host)
	for _, ip := range ips {
		if ip.IsLoopback() && !slices.ContainsFunc(loopback, ip.Equal) {
			loopback = append(loopback, ip)
		}
	}
	var lns []net.Listener
	var skipped []error
	for _, ip := range loopback {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), port))
		if err != nil {
			if unavailable(err) {
				skipped = append(skipped, err)
				continue
			}
			closeAll(lns)
			return nil, err
		}
		lns = append(lns, ln)
		if port == "0" {
			// The kernel chose the port: every address takes the same.
			_, port, _ = net.SplitHostPort(ln.Addr().String())
		}
	}
	if len(lns) == 0 {
		return nil, fmt.Errorf("none of the loopback addresses of localhost can be listened on: %w", errors.Join(skipped...))
	}
	for _, err := range skipped {
		log.Warn().Err(err).Msg("listening on localhost without an address this host does not have")
	}
	if len(lns) == 1 {
		return lns[0], nil
	}
	return newMultiListener(lns), nil
}

// unavailable reports whether a listen failed because this host does not
// have the address, or its family, at all: where IPv6 is disabled, ::1.
func unavailable(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT)
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// multiListener accepts on several listeners as one. Each has a goroutine
// that accepts and hands the connection over; the goroutines end when
// Close closes their listeners, and Close waits for them.
type multiListener struct {
	lns      []net.Listener
	accepted chan accepted
	closed   chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

// accepted is what one Accept of one listener returned.
type accepted struct {
	conn net.Conn
	err  error
}

func newMultiListener(lns []net.Listener) *multiListener {
	m := &multiListener{lns: lns, accepted: make(chan accepted), closed: make(chan struct{})}
	for _, ln := range lns {
		m.wg.Go(func() { m.acceptFrom(ln) })
	}
	return m
}

// acceptFrom hands what ln accepts to Accept until ln is closed. An error
// is handed over too, for the server to retry or end on, as it would with
// ln alone; only a closed listener ends the loop.
func (m *multiListener) acceptFrom(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		select {
		case m.accepted <- accepted{conn, err}:
		case <-m.closed:
			if conn != nil {
				conn.Close()
			}
			return
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// Accept returns the next connection any of the listeners accepted.
func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case a := <-m.accepted:
		return a.conn, a.err
	case <-m.closed:
		return nil, net.ErrClosed
	}
}

// Close closes every listener and waits for their goroutines to end.
func (m *multiListener) Close() error {
	var err error
	m.once.Do(func() {
		close(m.closed)
		for _, ln := range m.lns {
			err = errors.Join(err, ln.Close())
		}
		m.wg.Wait()
	})
	return err
}

// Addr is the first listener's address; Addrs has them all.
func (m *multiListener) Addr() net.Addr { return m.lns[0].Addr() }

// Addrs returns the address of every listener.
func (m *multiListener) Addrs() []net.Addr {
	addrs := make([]net.Addr, len(m.lns))
	for i, ln := range m.lns {
		addrs[i] = ln.Addr()
	}
	return addrs
}
