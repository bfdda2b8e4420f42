package auth

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rw-project/rw/pki"
)

// DefaultCacheSize bounds the verified tokens an Authenticator keeps.
const DefaultCacheSize = 10000

// tokenCache keeps tokens that passed every check, so that a client's next
// request skips the ECDSA verification and the claims' parsing, which cost
// most of the server's CPU under load. An entry is keyed by the SHA-256 of
// the token and of the certificate it came with: the same token with
// another certificate misses and is verified in full (and refused, since
// the token is bound to one certificate). An entry is good until the
// token's expiry and never past it; the oldest entry goes first when the
// cache is full, so a flood of distinct tokens cannot grow it.
type tokenCache struct {
	max int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cached
	order   [][sha256.Size]byte // insertion order, for eviction; a ring
	next    int                 // where the next key goes in order

	hits, misses atomic.Int64
}

type cached struct {
	id      pki.Identity
	expires time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[sha256.Size]byte]cached, max), order: make([][sha256.Size]byte, max)}
}

// cacheKey is the key of token presented with the certificate whose
// thumbprint is thumb.
func cacheKey(token, thumb string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(token))
	h.Write([]byte{0})
	h.Write([]byte(thumb))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// get returns the identity of a verified token and when it expires, if it
// is cached and has not expired at now.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (pki.Identity, time.Time, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		c.misses.Add(1)
		return pki.Identity{}, time.Time{}, false
	}
	c.hits.Add(1)
	return e.id, e.expires, true
}

// put keeps a token that was just verified, until expires.
func (c *tokenCache) put(key [sha256.Size]byte, id pki.Identity, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return
	}
	if len(c.entries) >= c.max {
		delete(c.entries, c.order[c.next])
	}
	c.entries[key] = cached{id: id, expires: expires}
	c.order[c.next] = key
	c.next = (c.next + 1) % c.max
}

// len is how many tokens the cache holds.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
