package auth

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rw-project/rw/pki"
)

func TestSessionServesTheSameHeaderUntilExpiry(t *testing.T) {
	f := newCacheFixture(t)
	c := f.minuteToken(t)
	a, tok, issued := c.a, c.tok, c.issued
	var s Session
	for range 3 {
		if id, err := a.IdentifyIn(&s, "Bearer "+tok, f.leaf.Cert); err != nil || id.User != "alice" {
			t.Fatalf("IdentifyIn: %v, %v; want alice", id, err)
		}
	}
	if a.CacheHits() != 2 || a.CacheMisses() != 1 {
		t.Errorf("hits %d, misses %d; want one verification, then two hits", a.CacheHits(), a.CacheMisses())
	}
	c.now = issued.Add(time.Minute - time.Second)
	if _, err := a.IdentifyIn(&s, "Bearer "+tok, f.leaf.Cert); err != nil || a.CacheHits() != 3 {
		t.Fatalf("a second before expiry: %v, hits %d; want a hit", err, a.CacheHits())
	}
	c.now = issued.Add(time.Minute)
	a.IdentifyIn(&s, "Bearer "+tok, f.leaf.Cert)
	if a.CacheHits() != 3 {
		t.Errorf("the session served a token at its expiry")
	}
	c.now = issued.Add(time.Hour)
	if _, err := a.IdentifyIn(&s, "Bearer "+tok, f.leaf.Cert); !errors.Is(err, pki.ErrTokenExpired) {
		t.Errorf("an expired token the session held: %v, want ErrTokenExpired", err)
	}
}

// TestSessionChecksWhatChanges sends, on one session, what differs from
// the request it remembers: another certificate, another token, no token;
// each is checked in full.
func TestSessionChecksWhatChanges(t *testing.T) {
	f := newCacheFixture(t)
	tok := f.token(t, f.leaf.Cert, time.Now(), time.Hour)
	a := NewAuthenticator(&f.tokenKey.Key.PublicKey)
	var s Session
	if _, err := a.IdentifyIn(&s, "Bearer "+tok, f.leaf.Cert); err != nil {
		t.Fatal(err)
	}
	other := f.cert(t, "alice") // the same user, another key
	if _, err := a.IdentifyIn(&s, "Bearer "+tok, other.Cert); !errors.Is(err, pki.ErrTokenBinding) {
		t.Errorf("the session's token with another certificate: %v, want ErrTokenBinding", err)
	}
	if _, err := a.IdentifyIn(&s, "Bearer", f.leaf.Cert); !errors.Is(err, ErrNoToken) {
		t.Errorf("no token after a good one: %v, want ErrNoToken", err)
	}
	if _, err := a.IdentifyIn(&s, "Bearer "+tok, nil); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("no certificate after a good request: %v, want ErrNoCertificate", err)
	}
	bob := f.cert(t, "bob")
	if _, err := a.IdentifyIn(&s, "Bearer "+f.token(t, bob.Cert, time.Now(), time.Hour), f.leaf.Cert); !errors.Is(err, pki.ErrTokenUser) {
		t.Errorf("another user's token: %v, want ErrTokenUser", err)
	}
	// A second token of the same certificate is verified, then held.
	tok2 := f.token(t, f.leaf.Cert, time.Now().Add(-time.Second), time.Hour)
	misses := a.CacheMisses()
	for range 2 {
		if _, err := a.IdentifyIn(&s, "Bearer "+tok2, f.leaf.Cert); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.CacheMisses() - misses; got != 1 {
		t.Errorf("a new token twice on a session: %d verifications, want 1", got)
	}
	if id, err := a.IdentifyIn(nil, "Bearer "+tok, f.leaf.Cert); err != nil || id.User != "alice" {
		t.Errorf("without a session: %v, %v; want alice", id, err)
	}
}

// TestSessionIsSafeForConcurrentUse sends two users' requests through one
// session at once (as HTTP/2 could), and checks each gets its own answer.
func TestSessionIsSafeForConcurrentUse(t *testing.T) {
	f := newCacheFixture(t)
	bob := f.cert(t, "bob")
	a := NewAuthenticator(&f.tokenKey.Key.PublicKey)
	var s Session
	var wg sync.WaitGroup
	for _, c := range []struct {
		cert *pki.Issued
		user string
	}{{f.leaf, "alice"}, {bob, "bob"}} {
		header := "Bearer " + f.token(t, c.cert.Cert, time.Now(), time.Hour)
		wg.Go(func() {
			for range 200 {
				id, err := a.IdentifyIn(&s, header, c.cert.Cert)
				if err != nil || id.User != c.user {
					t.Errorf("IdentifyIn: %v, %v; want %s", id.User, err, c.user)
					return
				}
			}
		})
	}
	wg.Wait()
}
