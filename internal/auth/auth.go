// Package auth decides who is calling and what they may do. Authentication
// combines the verified TLS client certificate with the bearer token bound
// to it; authorization is one table of role, action and ownership.
//
// It knows nothing of HTTP routing or of how jobs run: the server hands it
// the Authorization header's value and the peer certificate, and asks.
package auth

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rw-project/rw/pki"
)

// ErrNoToken means the request carries no bearer token: no Authorization
// header, or one with another scheme.
var ErrNoToken = errors.New("no bearer token: send 'Authorization: Bearer <token>'")

// ErrNoCertificate means the connection has no verified client certificate;
// the TLS configuration should make it impossible.
var ErrNoCertificate = errors.New("no verified client certificate")

// Authenticator turns a client certificate and a bearer token into an
// identity.
type Authenticator struct {
	key   *ecdsa.PublicKey
	now   func() time.Time
	cache *tokenCache
}

// NewAuthenticator verifies tokens with the token public key, and keeps up
// to DefaultCacheSize verified ones.
func NewAuthenticator(key *ecdsa.PublicKey) *Authenticator {
	return &Authenticator{key: key, now: time.Now, cache: newTokenCache(DefaultCacheSize)}
}

// CacheHits and CacheMisses count the tokens served from the cache of
// verified tokens, and those verified in full.
func (a *Authenticator) CacheHits() int64   { return a.cache.hits.Load() }
func (a *Authenticator) CacheMisses() int64 { return a.cache.misses.Load() }

// Identify checks the value of an Authorization header against the verified
// client certificate. Errors wrap ErrNoToken, ErrNoCertificate or one of
// pki's ErrToken* sentinels, which say which check failed.
func (a *Authenticator) Identify(authorization string, cert *x509.Certificate) (pki.Identity, error) {
	id, _, err := a.identify(authorization, cert, a.now())
	return id, err
}

// identify is Identify at now, which also returns when the identity's
// token expires.
func (a *Authenticator) identify(authorization string, cert *x509.Certificate, now time.Time) (pki.Identity, time.Time, error) {
	if cert == nil {
		return pki.Identity{}, time.Time{}, ErrNoCertificate
	}
	token, err := bearerToken(authorization)
	if err != nil {
		return pki.Identity{}, time.Time{}, err
	}
	key := cacheKey(token, pki.Thumbprint(cert))
	if id, expires, ok := a.cache.get(key, now); ok {
		return id, expires, nil
	}
	id, expires, err := pki.VerifyTokenExpiry(token, a.key, cert, now)
	if err != nil {
		return pki.Identity{}, time.Time{}, fmt.Errorf("token refused: %w", err)
	}
	a.cache.put(key, id, expires)
	return id, expires, nil
}

// bearerToken returns the token of an Authorization header's value: the
// scheme "Bearer", in any case (RFC 7235 2.1), a space, then the token,
// with the spaces around it dropped. The error is ErrNoToken.
func bearerToken(authorization string) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoToken
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrNoToken
	}
	return token, nil
}

// Action is something a caller asks to do.
type Action string

// The actions of the API.
const (
	ActionStart Action = "start"
	ActionQuery Action = "query"
	ActionStop  Action = "stop"
	ActionLogs  Action = "logs"
	// ActionRemove removes a final job's record and output.
	ActionRemove Action = "remove"
	// ActionMetrics reads the server's metrics; ActionHealth its health.
	// Neither concerns a job.
	ActionMetrics Action = "metrics"
	ActionHealth  Action = "health"
	// ActionFiles lists the executables that may be started; it concerns
	// no job.
	ActionFiles Action = "files"
)

// Decision is the answer to "may this identity do this".
type Decision int

const (
	// Deny: the caller may not do this at all (403).
	Deny Decision = iota
	// Hide: the caller may not see this job, and must not learn that it
	// exists; it is answered exactly as a missing job (404).
	Hide
	// Allow: go ahead.
	Allow
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Hide:
		return "hide"
	}
	return "deny"
}

// Decide is rw's whole permission table. owner is the owner of the job
// concerned, empty for ActionStart. Anything the table does not name is
// denied, including every action of a role this version does not know.
//
//	role     start, files   query/stop/logs/remove own job   another's job   metrics   health
//	admin    allow          allow                            allow           allow     allow
//	user     allow          allow                            hide            deny      allow
//	monitor  deny           deny                             deny            allow     allow
//	other    deny           deny                             deny            deny      deny
func Decide(id pki.Identity, action Action, owner string) Decision {
	switch action {
	case ActionHealth:
		// Any identity the server knows may ask whether it is up.
		switch id.Role {
		case pki.RoleAdmin, pki.RoleUser, pki.RoleMonitor:
			return Allow
		}
		return Deny
	case ActionMetrics:
		if id.Role == pki.RoleAdmin || id.Role == pki.RoleMonitor {
			return Allow
		}
		return Deny
	case ActionFiles:
		// Whoever may start a job may see what there is to start.
		return Decide(id, ActionStart, "")
	case ActionStart, ActionQuery, ActionStop, ActionLogs, ActionRemove:
	default:
		return Deny
	}
	switch id.Role {
	case pki.RoleAdmin:
		return Allow
	case pki.RoleUser:
		if action == ActionStart || owner == id.User {
			return Allow
		}
		return Hide
	}
	return Deny
}
