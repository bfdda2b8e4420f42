package pki

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// craft signs a token with the given claims and key, for the cases IssueToken
// would never produce.
func craft(t *testing.T, key any, alg jwa.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func goodClaims(cert *x509.Certificate, now time.Time) map[string]any {
	return map[string]any{
		"iss":  TokenIssuer,
		"aud":  []string{TokenAudience},
		"iat":  now.Unix(),
		"nbf":  now.Unix(),
		"exp":  now.Add(time.Hour).Unix(),
		"jti":  "0123456789abcdef",
		"user": cert.Subject.CommonName,
		"cnf":  map[string]any{"x5t#S256": Thumbprint(cert)},
	}
}

func with(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range m {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// unsigned builds a token with "alg": "none" by hand: jwx rightly refuses to
// make one.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(header) + "." + enc(payload) + "."
}

func TestVerifyToken(t *testing.T) {
	f := newFixture(t)
	alice := f.client(t, "alice").Cert
	bob := f.client(t, "bob").Cert
	key := f.tokenKey.Key
	pub := &key.PublicKey
	other, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := goodClaims(alice, now)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	issued, err := IssueToken(key, alice, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
		cert  *x509.Certificate
		want  error // nil: accepted
	}{
		{"issued token", issued, alice, nil},
		{"crafted good token", craft(t, key, jwa.ES256, good), alice, nil},
		{"expired", craft(t, key, jwa.ES256, with(good, "exp", now.Add(-time.Minute).Unix())), alice, ErrTokenExpired},
		{"expired within the skew", craft(t, key, jwa.ES256, with(good, "exp", now.Add(-10*time.Second).Unix())), alice, nil},
		{"not yet valid", craft(t, key, jwa.ES256, with(good, "nbf", now.Add(time.Hour).Unix())), alice, ErrTokenNotYetValid},
		{"issued in the future", craft(t, key, jwa.ES256, with(good, "iat", now.Add(time.Hour).Unix())), alice, ErrTokenNotYetValid},
		{"wrong issuer", craft(t, key, jwa.ES256, with(good, "iss", "someone-else")), alice, ErrTokenIssuer},
		{"wrong audience", craft(t, key, jwa.ES256, with(good, "aud", []string{"other-api"})), alice, ErrTokenAudience},
		{"signed by another key", craft(t, other, jwa.ES256, good), alice, ErrTokenSignature},
		{"alg none", unsigned(t, good), alice, ErrTokenMalformed},
		{"HS256 with the public key as secret", craft(t, pubDER, jwa.HS256, good), alice, ErrTokenMalformed},
		{"alice's token with bob's certificate", issued, bob, ErrTokenUser},
		{"user claim not matching the certificate", craft(t, key, jwa.ES256, with(good, "user", "bob")), alice, ErrTokenUser},
		{"bound to another certificate", craft(t, key, jwa.ES256, with(goodClaims(bob, now), "user", "alice")), alice, ErrTokenBinding},
		{"no binding", craft(t, key, jwa.ES256, with(good, "cnf", nil)), alice, ErrTokenClaims},
		{"empty binding", craft(t, key, jwa.ES256, with(good, "cnf", map[string]any{})), alice, ErrTokenClaims},
		{"no expiry", craft(t, key, jwa.ES256, with(good, "exp", nil)), alice, ErrTokenClaims},
		{"no user", craft(t, key, jwa.ES256, with(good, "user", nil)), alice, ErrTokenClaims},
		{"no jti", craft(t, key, jwa.ES256, with(good, "jti", nil)), alice, ErrTokenClaims},
		{"garbage", "not.a.token", alice, ErrTokenMalformed},
		{"empty", "", alice, ErrTokenMalformed},
		{"tampered payload", tamper(issued), alice, ErrTokenSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := VerifyToken(tc.token, pub, tc.cert, now)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == nil:
				if id.User != tc.cert.Subject.CommonName {
					t.Errorf("identity %+v", id)
				}
			case err == nil:
				t.Fatalf("accepted as %+v", id)
			case !errors.Is(err, tc.want):
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// tamper changes the user claim of a signed token without signing again.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"alice"`, `"bob"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestVerifyTokenNeedsARoleInTheCertificate(t *testing.T) {
	f := newFixture(t)
	norole := f.issue(t, f.clientCA, "norole", LeafOptions{CommonName: "dave", Client: true})
	token, err := IssueToken(f.tokenKey.Key, norole.Cert, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyToken(token, &f.tokenKey.Key.PublicKey, norole.Cert, time.Now()); err == nil {
		t.Fatal("a certificate without a role was accepted")
	}
}

// A token made on a host whose clock runs ahead of the server's is valid at
// once, as a certificate made there is: both are backdated.
func TestIssueTokenToleratesAClockAhead(t *testing.T) {
	f := newFixture(t)
	alice := f.client(t, "alice").Cert
	server := time.Now()
	for _, ahead := range []time.Duration{0, time.Minute, 4 * time.Minute} {
		token, err := IssueToken(f.tokenKey.Key, alice, server.Add(ahead), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyToken(token, &f.tokenKey.Key.PublicKey, alice, server); err != nil {
			t.Errorf("token made %v ahead: %v", ahead, err)
		}
	}
	// Past the backdating and the skew, it is not valid yet.
	token, err := IssueToken(f.tokenKey.Key, alice, server.Add(backdate+tokenSkew+time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyToken(token, &f.tokenKey.Key.PublicKey, alice, server); !errors.Is(err, ErrTokenNotYetValid) {
		t.Errorf("token made %v ahead: error %v, want %v", backdate+tokenSkew+time.Minute, err, ErrTokenNotYetValid)
	}
}
