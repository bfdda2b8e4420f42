package auth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rw-project/rw/pki"
)

// cacheFixture is a PKI with one user, and the ways to make tokens for
// them.
type cacheFixture struct {
	ca       *pki.Issued
	tokenKey *pki.Issued
	leaf     *pki.Issued
}

func newCacheFixture(t *testing.T) *cacheFixture {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Generate(pki.GenerateOptions{Dir: dir, Users: []pki.UserSpec{{Name: "alice", Role: pki.RoleAdmin}}}); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ReadIssued(filepath.Join(dir, pki.ClientCACert), filepath.Join(dir, pki.ClientCAKey))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ReadKey(filepath.Join(dir, pki.TokenKey))
	if err != nil {
		t.Fatal(err)
	}
	f := &cacheFixture{ca: ca, tokenKey: &pki.Issued{Key: key}}
	f.leaf = f.cert(t, "alice")
	return f
}

func (f *cacheFixture) cert(t *testing.T, user string) *pki.Issued {
	t.Helper()
	leaf, err := f.ca.Issue(pki.LeafOptions{CommonName: user, OrganizationalUnit: "admin", Client: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func (f *cacheFixture) token(t *testing.T, cert *x509.Certificate, issued time.Time, lifetime time.Duration) string {
	t.Helper()
	tok, err := pki.IssueToken(f.tokenKey.Key, cert, issued, lifetime)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// clocked is an Authenticator whose clock reads now, which a test moves,
// and a token of the fixture's user issued at issued for a minute.
type clocked struct {
	a      *Authenticator
	tok    string
	issued time.Time
	now    time.Time
}

// minuteToken starts a clocked at the second its token is issued.
func (f *cacheFixture) minuteToken(t *testing.T) *clocked {
	t.Helper()
	c := &clocked{issued: time.Now().Truncate(time.Second)}
	c.tok = f.token(t, f.leaf.Cert, c.issued, time.Minute)
	c.a = NewAuthenticator(&f.tokenKey.Key.PublicKey)
	c.now = c.issued
	c.a.now = func() time.Time { return c.now }
	return c
}

func TestCacheHonoursExpiryToTheSecond(t *testing.T) {
	f := newCacheFixture(t)
	c := f.minuteToken(t)
	a, tok, issued := c.a, c.tok, c.issued
	for range 2 {
		if _, err := a.Identify("Bearer "+tok, f.leaf.Cert); err != nil {
			t.Fatal(err)
		}
	}
	if a.CacheHits() != 1 || a.CacheMisses() != 1 {
		t.Fatalf("hits %d, misses %d; want the second request served from the cache", a.CacheHits(), a.CacheMisses())
	}
	// A second before expiry the entry serves; at expiry it does not, and
	// the full check, with its small skew for clocks, decides.
	c.now = issued.Add(time.Minute - time.Second)
	if _, err := a.Identify("Bearer "+tok, f.leaf.Cert); err != nil || a.CacheHits() != 2 {
		t.Fatalf("a second before expiry: %v, hits %d", err, a.CacheHits())
	}
	c.now = issued.Add(time.Minute)
	a.Identify("Bearer "+tok, f.leaf.Cert)
	if a.CacheHits() != 2 {
		t.Errorf("the cache served a token at its expiry")
	}
	c.now = issued.Add(time.Hour)
	if _, err := a.Identify("Bearer "+tok, f.leaf.Cert); !errors.Is(err, pki.ErrTokenExpired) {
		t.Errorf("an expired token that was cached: %v, want ErrTokenExpired", err)
	}
}

func TestCachedTokenWithAnotherCertificateIsRefused(t *testing.T) {
	f := newCacheFixture(t)
	tok := f.token(t, f.leaf.Cert, time.Now(), time.Hour)
	a := NewAuthenticator(&f.tokenKey.Key.PublicKey)
	if _, err := a.Identify("Bearer "+tok, f.leaf.Cert); err != nil {
		t.Fatal(err)
	}
	other := f.cert(t, "alice") // the same user, another key
	if _, err := a.Identify("Bearer "+tok, other.Cert); !errors.Is(err, pki.ErrTokenBinding) {
		t.Errorf("a cached token with another certificate: %v, want ErrTokenBinding", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newCacheFixture(t)
	a := NewAuthenticator(&f.tokenKey.Key.PublicKey)
	a.cache = newTokenCache(16)
	for i := range 100 {
		tok := f.token(t, f.leaf.Cert, time.Now().Add(-time.Duration(i)*time.Second), time.Hour)
		if _, err := a.Identify("Bearer "+tok, f.leaf.Cert); err != nil {
			t.Fatal(fmt.Errorf("token %d: %w", i, err))
		}
	}
	if n := a.cache.len(); n != 16 {
		t.Errorf("a flood of 100 distinct tokens left %d entries, want the bound, 16", n)
	}
}
