package pki

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// tokenErrors are the sentinels of VerifyToken; every refusal wraps one.
var tokenErrors = []error{
	ErrTokenMalformed, ErrTokenSignature, ErrTokenExpired, ErrTokenNotYetValid,
	ErrTokenIssuer, ErrTokenAudience, ErrTokenClaims, ErrTokenUser, ErrTokenBinding,
}

// checkVerified fails t unless a token VerifyToken accepted has the form
// rw accepts: a header that says ES256 and names no key, integer dates.
func checkVerified(t *testing.T, token string, id Identity) {
	t.Helper()
	if id.User != "alice" || id.Role != RoleAdmin {
		t.Fatalf("%q: accepted as %+v", token, id)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q: accepted with %d parts", token, len(parts))
	}
	var header map[string]any
	if err := decodePart(parts[0], &header); err != nil {
		t.Fatalf("%q: accepted with header %v", token, err)
	}
	if header["alg"] != "ES256" {
		t.Fatalf("%q: accepted with alg %v", token, header["alg"])
	}
	if typ, ok := header["typ"]; ok && typ != "JWT" {
		t.Fatalf("%q: accepted with typ %v", token, typ)
	}
	for _, name := range refusedHeaders {
		if _, ok := header[name]; ok {
			t.Fatalf("%q: accepted with header %s", token, name)
		}
	}
	var claims map[string]any
	if err := decodePart(parts[1], &claims); err != nil {
		t.Fatalf("%q: accepted with claims %v", token, err)
	}
	for _, name := range dateClaims {
		n, ok := claims[name].(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE-+") {
			t.Fatalf("%q: accepted with %s %v", token, name, claims[name])
		}
	}
	if claims["user"] != "alice" {
		t.Fatalf("%q: accepted for user %v", token, claims["user"])
	}
}

func decodePart(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

func checkRefused(t *testing.T, token string, err error) {
	t.Helper()
	for _, want := range tokenErrors {
		if errors.Is(err, want) {
			return
		}
	}
	t.Fatalf("%q: %v wraps none of the ErrToken sentinels", token, err)
}

// FuzzVerifyTokenSigned signs any header and claims with the real token key,
// so that only what they say decides: anything accepted says exactly what
// an rw token says, and anything refused names the check.
func FuzzVerifyTokenSigned(f *testing.F) {
	fx := newFixture(f)
	alice := fx.client(f, "alice").Cert
	key := fx.tokenKey.Key
	now := time.Unix(1_800_000_000, 0)
	const iat, exp = "1800000000", "1800003600"
	good := claimsJSON(alice, iat, iat, exp)
	if _, err := VerifyToken(signRaw(f, key, `{"alg":"ES256","typ":"JWT"}`, good), &key.PublicKey, alice, now); err != nil {
		f.Fatalf("a good token: %v", err)
	}
	for _, h := range []string{
		`{"alg":"ES256","typ":"JWT"}`, `{"alg":"ES256"}`, `{"alg":"none"}`, `{"alg":"HS256"}`, `{"alg":"RS256"}`,
		`{"alg":"ES512"}`, `{}`, `{"alg":"ES256","crit":["exp"]}`, `{"alg":"ES256","jku":"x"}`, `{"alg":"ES256","jwk":{}}`,
		`{"alg":"ES256","x5u":"x"}`, `{"alg":"ES256","x5c":[]}`, `{"alg":"ES256","alg":"none"}`, `{"alg":"ES256","typ":"jwt"}`,
		`{"alg":"ES256","ALG":"none"}`, `{"alg":"ES\u0032\u00356"}`, `[]`, `null`, ``, `{"alg":"ES256"} `, `{"alg":"ES256"}x`,
	} {
		f.Add(h, good)
	}
	for _, c := range []string{
		claimsJSON(alice, iat, iat, `"1800003600"`), claimsJSON(alice, iat, iat, `1800003600.5`),
		claimsJSON(alice, iat, iat, `1.8e9`), claimsJSON(alice, iat, iat, `-1`), claimsJSON(alice, iat, iat, `99999999999999999999`),
		claimsJSON(alice, `0`, `0`, `9223372036854775807`), claimsJSON(alice, iat, iat, `null`),
		`{"user":"bob",` + good[1:], strings.Replace(good, `"user"`, `"USER"`, 1), `{}`, `[]`, ``,
	} {
		f.Add(`{"alg":"ES256","typ":"JWT"}`, c)
	}
	f.Fuzz(func(t *testing.T, header, claims string) {
		token := signRaw(t, key, header, claims)
		id, err := VerifyToken(token, &key.PublicKey, alice, now)
		if err != nil {
			checkRefused(t, token, err)
			return
		}
		checkVerified(t, token, id)
	})
}

// FuzzVerifyToken feeds any text as a token: nothing but a token the key
// signed passes, and every refusal names its check.
func FuzzVerifyToken(f *testing.F) {
	fx := newFixture(f)
	alice := fx.client(f, "alice").Cert
	key := fx.tokenKey.Key
	now := time.Now()
	issued, err := IssueToken(key, alice, now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(issued, ".")
	for _, seed := range []string{
		issued, issued + ".", issued + "=", "." + issued, parts[0] + "." + parts[1] + ".", parts[0] + ".." + parts[2],
		parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2], strings.ReplaceAll(issued, "-", "+"),
		"", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.", "not a token", issued[:len(issued)-1],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := VerifyToken(token, &key.PublicKey, alice, now)
		if err != nil {
			checkRefused(t, token, err)
			return
		}
		checkVerified(t, token, id)
	})
}
