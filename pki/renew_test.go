package pki

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// expiredPKI generates alice (admin) and bob with tokens issued long enough
// ago to have expired.
func expiredPKI(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	past := time.Now().Add(-48 * time.Hour)
	_, err := Generate(GenerateOptions{
		Dir:           dir,
		Users:         []UserSpec{{Name: "alice", Role: RoleAdmin}, {Name: "bob", Role: RoleUser}},
		TokenLifetime: time.Hour,
		Now:           func() time.Time { return past },
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// verifyUser verifies user's token file against their certificate file and
// the token public key.
func verifyUser(t *testing.T, dir, user string) (Identity, error) {
	t.Helper()
	certPath, _, tokenPath := ClientFiles(user)
	raw, err := os.ReadFile(filepath.Join(dir, tokenPath))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ReadPublicKey(filepath.Join(dir, TokenPub))
	if err != nil {
		t.Fatal(err)
	}
	return VerifyToken(strings.TrimSpace(string(raw)), pub, mustCert(t, filepath.Join(dir, certPath)), time.Now())
}

// changed lists the files that differ between two snapshots, or exist in
// only one.
func changed(before, after map[string]string) []string {
	var out []string
	for name, b := range before {
		if a, ok := after[name]; !ok || a != b {
			out = append(out, name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			out = append(out, name)
		}
	}
	return out
}

func TestRenewTokenOnly(t *testing.T) {
	dir := expiredPKI(t)
	if _, err := verifyUser(t, dir, "alice"); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("before renewing: got %v, want %v", err, ErrTokenExpired)
	}
	before := snapshotDir(t, dir)

	report, err := Renew(RenewOptions{Dir: dir, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	after := snapshotDir(t, dir)
	if got, want := changed(before, after), []string{"clients/alice.jwt"}; !equalSorted(got, want) {
		t.Errorf("changed files = %v, want %v", got, want)
	}
	if got, want := report.Wrote, []string{"clients/alice.jwt"}; !equalSorted(got, want) {
		t.Errorf("report.Wrote = %v, want %v", got, want)
	}
	id, err := verifyUser(t, dir, "alice")
	if err != nil {
		t.Fatalf("the renewed token does not verify: %v", err)
	}
	if id.User != "alice" || id.Role != RoleAdmin {
		t.Errorf("identity = %+v, want alice admin", id)
	}
	// bob was not asked for: his token is still the expired one.
	if _, err := verifyUser(t, dir, "bob"); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("bob: got %v, want %v", err, ErrTokenExpired)
	}
	info, err := os.Stat(filepath.Join(dir, "clients/alice.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("token mode %v, want 0600", info.Mode().Perm())
	}
}

func TestRenewWithCertificate(t *testing.T) {
	dir := expiredPKI(t)
	before := snapshotDir(t, dir)
	oldCert := mustCert(t, filepath.Join(dir, "clients/alice.pem"))

	if _, err := Renew(RenewOptions{Dir: dir, User: "alice", Cert: true, TokenLifetime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	after := snapshotDir(t, dir)
	want := []string{"clients/alice.pem", "clients/alice-key.pem", "clients/alice.jwt"}
	if got := changed(before, after); !equalSorted(got, want) {
		t.Errorf("changed files = %v, want %v", got, want)
	}
	newCert := mustCert(t, filepath.Join(dir, "clients/alice.pem"))
	if newCert.SerialNumber.Cmp(oldCert.SerialNumber) == 0 {
		t.Error("the certificate was not issued again")
	}
	if err := newCert.CheckSignatureFrom(mustCert(t, filepath.Join(dir, ClientCACert))); err != nil {
		t.Errorf("the new certificate is not signed by the existing client CA: %v", err)
	}
	if _, err := ReadIssued(filepath.Join(dir, "clients/alice.pem"), filepath.Join(dir, "clients/alice-key.pem")); err != nil {
		t.Errorf("the new certificate and key do not match: %v", err)
	}
	id, err := verifyUser(t, dir, "alice")
	if err != nil {
		t.Fatalf("the renewed token does not verify with the new certificate: %v", err)
	}
	if id.Role != RoleAdmin {
		t.Errorf("role = %s, want %s", id.Role, RoleAdmin)
	}
	// The new token is bound to the new certificate, not the old one.
	pub, err := ReadPublicKey(filepath.Join(dir, TokenPub))
	if err != nil {
		t.Fatal(err)
	}
	raw := strings.TrimSpace(after["clients/alice.jwt"])
	if _, err := VerifyToken(raw, pub, oldCert, time.Now()); !errors.Is(err, ErrTokenBinding) {
		t.Errorf("with the old certificate: got %v, want %v", err, ErrTokenBinding)
	}
	exp, err := UnverifiedTokenExpiry(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d <= 0 || d > time.Hour {
		t.Errorf("token expires in %v, want within the hour asked for", d)
	}
}

func TestRenewRefuses(t *testing.T) {
	tests := []struct {
		name    string
		user    string
		cert    bool
		breakIt func(dir string) error
		want    error
	}{
		{name: "unknown user", user: "carol", want: ErrNoUser},
		{name: "no key", user: "alice", want: ErrIncomplete,
			breakIt: func(dir string) error { return os.Remove(filepath.Join(dir, "clients/alice-key.pem")) }},
		{name: "no token key", user: "alice", want: ErrIncomplete,
			breakIt: func(dir string) error { return os.Remove(filepath.Join(dir, TokenKey)) }},
		{name: "no client CA key for a new certificate", user: "alice", cert: true, want: ErrIncomplete,
			breakIt: func(dir string) error { return os.Remove(filepath.Join(dir, ClientCAKey)) }},
		{name: "certificate of another CA", user: "alice", want: ErrConflict,
			breakIt: func(dir string) error {
				other := filepath.Join(filepath.Dir(dir), "other")
				if _, err := Generate(GenerateOptions{Dir: other, Users: []UserSpec{{Name: "alice", Role: RoleAdmin}}}); err != nil {
					return err
				}
				for _, f := range []string{"clients/alice.pem", "clients/alice-key.pem"} {
					b, err := os.ReadFile(filepath.Join(other, f))
					if err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
						return err
					}
				}
				return nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := expiredPKI(t)
			if tt.breakIt != nil {
				if err := tt.breakIt(dir); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshotDir(t, dir)
			_, err := Renew(RenewOptions{Dir: dir, User: tt.user, Cert: tt.cert})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := changed(before, snapshotDir(t, dir)); len(got) > 0 {
				t.Errorf("a refused renewal changed %v", got)
			}
		})
	}
	if _, err := Renew(RenewOptions{Dir: t.TempDir(), User: "../alice"}); err == nil {
		t.Error("an invalid user name was accepted")
	}
}

func TestUnverifiedTokenExpiry(t *testing.T) {
	f := newFixture(t)
	now := time.Now().Truncate(time.Second)
	raw, err := IssueToken(f.tokenKey.Key, f.client(t, "alice").Cert, now, 2*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := UnverifiedTokenExpiry(raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(2 * 24 * time.Hour); !exp.Equal(want) {
		t.Errorf("expiry = %v, want %v", exp, want)
	}
	claims := func(json string) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(json)) + ".c2ln"
	}
	for _, tc := range []struct {
		name, raw string
		want      error
	}{
		{"not a token", "not.a.token", ErrTokenMalformed},
		{"two parts", "abc.def", ErrTokenMalformed},
		{"payload not JSON", claims("exp"), ErrTokenMalformed},
		{"no exp", claims(`{"sub": "alice"}`), ErrTokenClaims},
		{"exp not a number", claims(`{"exp": "tomorrow"}`), ErrTokenMalformed},
		{"exp negative", claims(`{"exp": -5}`), ErrTokenClaims},
		{"exp null", claims(`{"exp": null}`), ErrTokenClaims},
		// Claim names are case-sensitive: this is a claim of its own.
		{"EXP", claims(`{"EXP": 1700000000}`), ErrTokenClaims},
	} {
		if _, err := UnverifiedTokenExpiry(tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// A NumericDate may have a fraction of a second.
	exp, err = UnverifiedTokenExpiry(claims(`{"exp": 1700000000.5}`))
	if want := time.Unix(1700000000, 5e8); err != nil || !exp.Equal(want) {
		t.Errorf("fractional exp: %v, %v; want %v", exp, err, want)
	}
}

func equalSorted(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
