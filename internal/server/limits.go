//go:build linux

package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/rw-project/rw/internal/api"
)

// Defaults of what one user may hold open at once.
const (
	DefaultMaxStreamsPerUser = 32
	DefaultMaxConnsPerUser   = 64
)

// userLimits counts, per user, the connections and follow streams each
// holds, so that one user cannot take every file descriptor of the server
// and starve the others. A connection's user is known only once a request
// on it is authenticated: it counts from then until it closes. Zero bounds
// mean no bound.
type userLimits struct {
	maxConns   int
	maxStreams int

	mu      sync.Mutex
	conns   map[string]int         // by user
	streams map[string]int         // by user
	slots   map[net.Conn]*connSlot // every open connection, claimed or not
}

// connSlot is one connection's place in the count: user is empty until a
// request on it is authenticated. It is guarded by userLimits.mu.
type connSlot struct {
	user string
	// claimed is set, once, after user: the later requests of a
	// keep-alive connection see it without taking the server-wide lock.
	claimed atomic.Bool
}

// slotKey is the context key of a connection's slot.
type slotKey struct{}

func newUserLimits(maxConns, maxStreams int) *userLimits {
	return &userLimits{maxConns: maxConns, maxStreams: maxStreams,
		conns: map[string]int{}, streams: map[string]int{}, slots: map[net.Conn]*connSlot{}}
}

// connContext gives each new connection a slot, reachable from its
// requests' contexts; http.Server calls it before the handshake.
func (l *userLimits) connContext(ctx context.Context, c net.Conn) context.Context {
	slot := &connSlot{}
	l.mu.Lock()
	l.slots[c] = slot
	l.mu.Unlock()
	return context.WithValue(ctx, slotKey{}, slot)
}

// connState gives back a connection's place in its user's count once it
// is closed (or taken over, which the API never does).
func (l *userLimits) connState(c net.Conn, state http.ConnState) {
	if state != http.StateClosed && state != http.StateHijacked {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	slot, ok := l.slots[c]
	if !ok {
		return
	}
	delete(l.slots, c)
	if slot.user != "" {
		decrement(l.conns, slot.user)
	}
}

// claimConn counts the connection of ctx against user, if it is not
// counted already. Past the user's bound the connection is not counted
// and the caller gets a 429: the handler answers and closes it. A request
// served without connContext (a handler test) is not counted.
func (l *userLimits) claimConn(ctx context.Context, user string) error {
	slot, ok := ctx.Value(slotKey{}).(*connSlot)
	if !ok || slot.claimed.Load() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if slot.user != "" {
		return nil
	}
	if n := l.conns[user]; l.maxConns > 0 && n >= l.maxConns {
		return &apiError{http.StatusTooManyRequests, api.CodeTooManyRequests,
			fmt.Sprintf("%s has %d connections open, the most one user may: reuse them (keep-alive) or close some, then try again", user, n)}
	}
	slot.user = user
	slot.claimed.Store(true)
	l.conns[user]++
	return nil
}

// acquireStream takes one of user's follow streams, and returns the func
// that gives it back; past the user's bound it returns a 429.
func (l *userLimits) acquireStream(user string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.streams[user]; l.maxStreams > 0 && n >= l.maxStreams {
		return nil, &apiError{http.StatusTooManyRequests, api.CodeTooManyRequests,
			fmt.Sprintf("%s follows %d log streams already, the most one user may: end some, then try again", user, n)}
	}
	l.streams[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			decrement(l.streams, user)
			l.mu.Unlock()
		})
	}, nil
}

// held returns the connections and follow streams counted against all
// users together, for the metrics.
func (l *userLimits) held() (conns, streams int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.conns {
		conns += n
	}
	for _, n := range l.streams {
		streams += n
	}
	return conns, streams
}

// decrement lowers m[key], dropping a key that reaches zero so that the
// maps hold only users with something open.
func decrement(m map[string]int, key string) {
	if m[key] <= 1 {
		delete(m, key)
		return
	}
	m[key]--
}
