package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rw-project/rw/pki"
)

// tokenErrors are the sentinels a refused token's error wraps, one of them.
var tokenErrors = []error{
	ErrNoToken, ErrNoCertificate,
	pki.ErrTokenMalformed, pki.ErrTokenSignature, pki.ErrTokenExpired, pki.ErrTokenNotYetValid,
	pki.ErrTokenIssuer, pki.ErrTokenAudience, pki.ErrTokenClaims, pki.ErrTokenUser, pki.ErrTokenBinding,
}

// FuzzIdentify checks the Authorization header's parsing and the token's
// verification behind it, with a real PKI: a header is accepted only when
// it carries alice's one token, as alice, and any other is refused with a
// sentinel that says which check failed.
func FuzzIdentify(f *testing.F) {
	dir := f.TempDir()
	if _, err := pki.Generate(pki.GenerateOptions{Dir: dir, Users: []pki.UserSpec{{Name: "alice", Role: pki.RoleAdmin}}}); err != nil {
		f.Fatal(err)
	}
	pub, err := pki.ReadPublicKey(filepath.Join(dir, pki.TokenPub))
	if err != nil {
		f.Fatal(err)
	}
	certPath, _, tokenPath := pki.ClientFiles("alice")
	cert, err := pki.ReadCert(filepath.Join(dir, certPath))
	if err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, tokenPath))
	if err != nil {
		f.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	a := NewAuthenticator(pub)
	if _, err := a.Identify("Bearer "+token, cert); err != nil {
		f.Fatalf("alice's own token: %v", err)
	}
	parts := strings.Split(token, ".")
	for _, seed := range []string{
		"Bearer " + token, "bearer " + token, "BEARER   " + token + "  ", " Bearer " + token,
		"Bearer\t" + token, "Bearer " + token + " extra", "Bearer " + token + ".", "Bearer " + token + "=",
		"Bearer " + parts[0] + "." + parts[1] + ".", "Bearer " + parts[0] + ".." + parts[2],
		"Bearer " + strings.ToUpper(token), "Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer ", "", " ", token,
		"Bearer a.b.c", "Bearer ....", "Bearer e30.e30.", "Bearer eyJhbGciOiJub25lIn0.e30.",
		"Bearer " + token + "\x00", "Bearer\u00a0" + token, "Bearer " + token + ", Bearer " + token,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		id, err := a.Identify(header, cert)
		if err != nil {
			for _, want := range tokenErrors {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("%q: %v wraps none of the sentinels", header, err)
		}
		if id != (pki.Identity{User: "alice", Role: pki.RoleAdmin}) {
			t.Fatalf("%q: accepted as %+v", header, id)
		}
		if got, err := bearerToken(header); err != nil || got != token {
			t.Fatalf("%q: accepted, but its token is %q (%v), not alice's", header, got, err)
		}
	})
}

// FuzzBearerToken checks the parsing of the Authorization header alone: a
// token it returns is in the header, never empty, has no spaces around it,
// and round-trips.
func FuzzBearerToken(f *testing.F) {
	for _, seed := range []string{"Bearer abc", "bearer  abc ", "BeArEr a b", "Bearer", "Bearer ", "Basic abc", "", "abc", " Bearer x", "Bearer\tx", "Bearer\u00a0x", "Bearerx y"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, err := bearerToken(header)
		if err != nil {
			if !errors.Is(err, ErrNoToken) {
				t.Fatalf("%q: %v, want ErrNoToken", header, err)
			}
			return
		}
		if token == "" || token != strings.TrimSpace(token) {
			t.Fatalf("%q: token %q is empty or has spaces around it", header, token)
		}
		// What it returns round-trips: written back as a header, in any
		// case of the scheme, it is the same token.
		for _, scheme := range []string{"Bearer ", "bearer "} {
			if again, err := bearerToken(scheme + token); err != nil || again != token {
				t.Fatalf("%q: token %q, but %q gives %q (%v)", header, token, scheme+token, again, err)
			}
		}
		if !strings.Contains(header, token) {
			t.Fatalf("%q: token %q is not in the header", header, token)
		}
	})
}
