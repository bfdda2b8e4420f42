package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

// signRaw signs header and payload, given as JSON text, with key as ES256
// does, whatever the header says: the signature is valid, so only what the
// header or the claims say can make the token fail.
func signRaw(t testing.TB, key *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc(sig)
}

// claimsJSON is a good token's payload for cert at now, with the date
// claims written as given, so that a test can spell them oddly.
func claimsJSON(cert *x509.Certificate, iat, nbf, exp string) string {
	return `{"iss":"rw","aud":["rw-api"],"iat":` + iat + `,"nbf":` + nbf + `,"exp":` + exp +
		`,"jti":"0123456789abcdef","user":"` + cert.Subject.CommonName + `","cnf":{"x5t#S256":"` + Thumbprint(cert) + `"}}`
}

func TestVerifyTokenHeaderAndDates(t *testing.T) {
	f := newFixture(t)
	alice := f.client(t, "alice").Cert
	key := f.tokenKey.Key
	now := time.Unix(1_800_000_000, 0)
	const (
		iat = "1800000000"
		exp = "1800003600"
		es  = `{"alg":"ES256","typ":"JWT"}`
	)
	good := claimsJSON(alice, iat, iat, exp)
	tests := []struct {
		name            string
		header, payload string
		want            error // nil: accepted
	}{
		{"ES256 with typ", es, good, nil},
		{"ES256 without typ", `{"alg":"ES256"}`, good, nil},
		{"ES256 with kid", `{"alg":"ES256","kid":"k1"}`, good, nil},
		{"alg none", `{"alg":"none"}`, good, ErrTokenMalformed},
		{"alg HS256", `{"alg":"HS256","typ":"JWT"}`, good, ErrTokenMalformed},
		{"alg RS256", `{"alg":"RS256"}`, good, ErrTokenMalformed},
		{"alg ES512", `{"alg":"ES512"}`, good, ErrTokenMalformed},
		{"alg es256", `{"alg":"es256"}`, good, ErrTokenMalformed},
		{"no alg", `{"typ":"JWT"}`, good, ErrTokenMalformed},
		{"alg not a string", `{"alg":256}`, good, ErrTokenMalformed},
		{"alg twice", `{"alg":"ES256","alg":"none"}`, good, ErrTokenMalformed},
		{"alg twice, none first", `{"alg":"none","alg":"ES256"}`, good, ErrTokenMalformed},
		{"typ other", `{"alg":"ES256","typ":"at+jwt"}`, good, ErrTokenMalformed},
		{"typ not a string", `{"alg":"ES256","typ":1}`, good, ErrTokenMalformed},
		{"crit", `{"alg":"ES256","crit":["exp"]}`, good, ErrTokenMalformed},
		{"unknown crit", `{"alg":"ES256","crit":["rw-x"],"rw-x":1}`, good, ErrTokenMalformed},
		{"jku", `{"alg":"ES256","jku":"https://evil.example/keys"}`, good, ErrTokenMalformed},
		{"jwk", `{"alg":"ES256","jwk":{"kty":"EC"}}`, good, ErrTokenMalformed},
		{"x5u", `{"alg":"ES256","x5u":"https://evil.example/c.pem"}`, good, ErrTokenMalformed},
		{"x5c", `{"alg":"ES256","x5c":["MIIB"]}`, good, ErrTokenMalformed},
		{"header not an object", `["ES256"]`, good, ErrTokenMalformed},
		{"header with trailing data", es + `{}`, good, ErrTokenMalformed},
		{"exp as a string", es, claimsJSON(alice, iat, iat, `"1800003600"`), ErrTokenMalformed},
		{"exp as a float", es, claimsJSON(alice, iat, iat, `1800003600.5`), ErrTokenMalformed},
		{"exp with an exponent", es, claimsJSON(alice, iat, iat, `1.8000036e9`), ErrTokenMalformed},
		{"exp negative", es, claimsJSON(alice, iat, iat, `-1`), ErrTokenMalformed},
		{"exp null", es, claimsJSON(alice, iat, iat, `null`), ErrTokenMalformed},
		{"nbf as a string", es, claimsJSON(alice, iat, `"1800000000"`, exp), ErrTokenMalformed},
		{"iat as a float", es, claimsJSON(alice, `1800000000.0`, iat, exp), ErrTokenMalformed},
		{"iat as a bool", es, claimsJSON(alice, `true`, iat, exp), ErrTokenMalformed},
		{"user twice", es, `{"user":"bob",` + good[1:], ErrTokenMalformed},
		{"payload not an object", es, `[1]`, ErrTokenMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := signRaw(t, key, tc.header, tc.payload)
			id, err := VerifyToken(token, &key.PublicKey, alice, now)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == nil:
				if id.User != "alice" {
					t.Errorf("identity %+v, want alice", id)
				}
			case err == nil:
				t.Fatalf("accepted as %+v", id)
			case !errors.Is(err, tc.want):
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}
