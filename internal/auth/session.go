package auth

import (
	"crypto/x509"
	"sync"
	"time"

	"github.com/rw-project/rw/pki"
)

// Session remembers, for one connection, the Authorization header its
// last authenticated request sent and the identity that proved, so that
// the next request on the connection with the same header is answered
// without hashing the token and the certificate for the cache of verified
// tokens: with keep-alive, that is nearly every request. The answer is the
// cache's: the same header with the same certificate, before the token
// expires, and it counts as a cache hit. The certificate is the
// connection's, which cannot change while it is open; a Session still
// holds only for the certificate it was filled with. It is safe for
// concurrent use, and its zero value is empty.
type Session struct {
	mu            sync.Mutex
	authorization string
	cert          *x509.Certificate
	id            pki.Identity
	expires       time.Time
}

// IdentifyIn is Identify for a request on the connection of s. A nil s
// remembers nothing: it is Identify.
func (a *Authenticator) IdentifyIn(s *Session, authorization string, cert *x509.Certificate) (pki.Identity, error) {
	if s == nil {
		return a.Identify(authorization, cert)
	}
	now := a.now()
	s.mu.Lock()
	hit := cert != nil && cert == s.cert && authorization == s.authorization && now.Before(s.expires)
	id := s.id
	s.mu.Unlock()
	if hit {
		a.cache.hits.Add(1)
		return id, nil
	}
	id, expires, err := a.identify(authorization, cert, now)
	if err != nil {
		return pki.Identity{}, err
	}
	s.mu.Lock()
	s.authorization, s.cert, s.id, s.expires = authorization, cert, id, expires
	s.mu.Unlock()
	return id, nil
}
