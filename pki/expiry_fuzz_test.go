package pki

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

// expiryBefore is UnverifiedTokenExpiry as it was before it decoded the
// exp claim itself: the whole token parsed by the JWT library.
func expiryBefore(raw string) (time.Time, error) {
	tok, err := jwt.ParseInsecure([]byte(raw))
	if err != nil {
		return time.Time{}, err
	}
	exp := tok.Expiration()
	if exp.IsZero() {
		return time.Time{}, errors.New("no exp")
	}
	return exp, nil
}

// FuzzUnverifiedTokenExpiry checks UnverifiedTokenExpiry against
// jwt.ParseInsecure(...).Expiration(), the code it replaced, on tokens of
// three base64url parts made of any header, claims and signature bytes:
// both give the same expiry, or both fail. Every error of
// UnverifiedTokenExpiry wraps ErrTokenMalformed or ErrTokenClaims.
//
// The differences are intended; each is a token rw never issues (it
// writes exp as an integer, and nothing else odd), and the expiry serves
// only to warn a user in time, a token whose expiry cannot be read
// getting no warning and going to the server as it is.
//   - The same expiry is the same to within a second: the JWT library
//     drops the fraction of a NumericDate, UnverifiedTokenExpiry keeps it
//     (to the precision of a float64).
//   - UnverifiedTokenExpiry reads the exp claim alone. Where the library
//     refuses the token for its header, another claim, or an earlier exp
//     that a later one replaces, UnverifiedTokenExpiry still gives the
//     expiry: the library must then give the same for a token of that
//     exp alone.
//   - Claim names are case-sensitive (RFC 7519, section 4): "EXP" is no
//     expiry to either; an earlier UnverifiedTokenExpiry decoded the
//     claims into a struct and took it for one.
//   - A NumericDate is a JSON number of seconds (RFC 7519, section 2).
//     UnverifiedTokenExpiry reads any JSON number, or a string holding
//     one (as encoding/json's Number does), but refuses an exp at or
//     before the epoch or past what a time.Duration can reach from it
//     (year 2262), which the library takes; and it refuses the strings
//     the library reads leniently that are no JSON number: an RFC 3339
//     time, "1700000000.", "1.2.3". A string holding a JSON number the
//     library does not read ("1e3", "17e8") it takes.
//   - The library reads the claims' first JSON value and leaves what
//     follows it; UnverifiedTokenExpiry refuses claims with anything
//     after the object, as json.Unmarshal does.
func FuzzUnverifiedTokenExpiry(f *testing.F) {
	for _, s := range []struct{ header, claims, sig string }{
		{`{"alg":"ES256","typ":"JWT"}`, `{"iss":"rw","sub":"alice","exp":1795000000,"iat":1794000000}`, "sig"},
		{`{"alg":"ES256"}`, `{"exp":1700000000.5}`, ""},
		{`{"alg":"ES256"}`, `{"exp":1700000000.999999999999}`, "x"},
		{`{"alg":"ES256"}`, `{"EXP":1700000000}`, "x"},
		{`{"alg":"ES256"}`, `{"Exp":1700000000,"exp":1}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":"1700000000"}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":"2026-11-29T00:00:00Z"}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":"1.2.3"}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":1e3}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":"1e3"}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":0}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":-5}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":9223372037}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":1e300}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":null}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":"x","exp":1700000000}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":1700000000,"exp":"x"}`, "x"},
		{`{"alg":"ES256"}`, `{"exp":1700000000}x`, "x"},
		{`{"alg":"ES256"}`, `{"exp":1700000000,"aud":5}`, "x"},
		{`{"alg":"nope"}`, `{"exp":1700000000}`, "x"},
		{`not json`, `{"exp":1700000000}`, "x"},
		{`{"alg":"ES256"}`, `[]`, "x"},
		{`{"alg":"ES256"}`, ``, ""},
	} {
		f.Add([]byte(s.header), []byte(s.claims), []byte(s.sig))
	}
	enc := base64.RawURLEncoding.EncodeToString
	f.Fuzz(func(t *testing.T, header, claims, sig []byte) {
		raw := enc(header) + "." + enc(claims) + "." + enc(sig)
		got, err := UnverifiedTokenExpiry(raw)
		want, wantErr := expiryBefore(raw)
		if err != nil && !errors.Is(err, ErrTokenMalformed) && !errors.Is(err, ErrTokenClaims) {
			t.Fatalf("%s: %v wraps neither ErrTokenMalformed nor ErrTokenClaims", raw, err)
		}
		same := func(got, want time.Time) bool {
			d := got.Sub(want)
			return -time.Second < d && d < time.Second
		}
		switch {
		case err == nil && wantErr == nil:
			if !same(got, want) {
				t.Fatalf("%s: %v; want %v", raw, got, want)
			}
		case err == nil:
			// The library refused the token for something other than
			// its exp: it takes the exp alone. A string exp is no
			// NumericDate: UnverifiedTokenExpiry reads one holding any
			// JSON number, the library one of digits and a dot.
			var c map[string]json.RawMessage
			if json.Unmarshal(claims, &c) != nil {
				t.Fatalf("%s: %v from claims that are no JSON object; the library says %v", raw, got, wantErr)
			}
			var s string
			if json.Unmarshal(c["exp"], &s) == nil {
				return
			}
			alone := enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(`{"exp":`+string(c["exp"])+`}`)) + "." + enc(sig)
			if want, aloneErr := expiryBefore(alone); aloneErr != nil || !same(got, want) {
				t.Fatalf("%s: %v; the library refuses the token (%v) and gives %v, %v for its exp alone", raw, got, wantErr, want, aloneErr)
			}
		case wantErr == nil:
			// The claims as the library reads them: the first JSON value,
			// whatever follows it.
			var c map[string]json.RawMessage
			_ = json.NewDecoder(bytes.NewReader(claims)).Decode(&c)
			var exp any
			_ = json.Unmarshal(c["exp"], &exp)
			s, isString := exp.(string)
			var n json.Number
			switch {
			case !json.Valid(claims):
				// Bytes after the claims object.
				if !errors.Is(err, ErrTokenMalformed) {
					t.Fatalf("%s: %v, want an ErrTokenMalformed for claims %q", raw, err, claims)
				}
			case isString && json.Unmarshal(quote(s), &n) != nil:
				// A string that is no JSON number, such as an RFC 3339
				// time, of any year.
				if !errors.Is(err, ErrTokenMalformed) {
					t.Fatalf("%s: %v, want an ErrTokenMalformed for exp %q", raw, err, s)
				}
			case float64(want.Unix()) <= 0 || float64(want.Unix()) > math.MaxInt64/1e9:
				if !errors.Is(err, ErrTokenClaims) {
					t.Fatalf("%s: %v, want an ErrTokenClaims for an expiry of %v", raw, err, want)
				}
			default:
				t.Fatalf("%s: %v; want %v", raw, err, want)
			}
		}
	})
}

func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
