package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Fixed claims of every rw token: they keep a token minted for another
// system by the same key, or for another rw audience, from being accepted.
const (
	TokenIssuer   = "rw"
	TokenAudience = "rw-api"
)

// DefaultTokenLifetime is how long a token is valid unless told otherwise.
// The token is bound to its user's certificate, so a stolen token alone
// grants nothing; the lifetime bounds what a stolen key and token pair
// grants.
const DefaultTokenLifetime = 30 * 24 * time.Hour

// tokenSkew is the clock difference tolerated between the issuer and the
// server for exp, nbf and iat.
const tokenSkew = 30 * time.Second

// Errors of VerifyToken, one per check, so that the server can say which
// check failed.
var (
	ErrTokenMalformed   = errors.New("token is malformed")
	ErrTokenSignature   = errors.New("token signature is not valid")
	ErrTokenExpired     = errors.New("token has expired")
	ErrTokenNotYetValid = errors.New("token is not valid yet")
	ErrTokenIssuer      = errors.New("token has the wrong issuer")
	ErrTokenAudience    = errors.New("token has the wrong audience")
	ErrTokenClaims      = errors.New("token lacks a required claim")
	ErrTokenUser        = errors.New("token user does not match the client certificate")
	ErrTokenBinding     = errors.New("token is bound to another certificate")
)

// Thumbprint returns the RFC 8705 x5t#S256 of a certificate: the unpadded
// base64url SHA-256 of its DER encoding.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// IssueToken signs a token for the user named by cert's common name, bound to
// cert, valid for lifetime from now; its nbf and iat are backdated by five
// minutes, as certificates are, for servers whose clocks run behind.
func IssueToken(key *ecdsa.PrivateKey, cert *x509.Certificate, now time.Time, lifetime time.Duration) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	tok, err := jwt.NewBuilder().
		Issuer(TokenIssuer).
		Audience([]string{TokenAudience}).
		IssuedAt(now.Add(-backdate)).
		NotBefore(now.Add(-backdate)).
		Expiration(now.Add(lifetime)).
		JwtID(hex.EncodeToString(jti[:])).
		Claim("user", cert.Subject.CommonName).
		Claim("cnf", map[string]any{"x5t#S256": Thumbprint(cert)}).
		Build()
	if err != nil {
		return "", fmt.Errorf("build token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, key))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return string(signed), nil
}

// VerifyToken checks raw against the token public key and the client's
// verified certificate, and returns the identity they prove together. The
// error wraps one of the ErrToken* sentinels.
//
// Only a token whose header says exactly "alg": "ES256" (and "typ": "JWT"
// when it has a typ), signed by pub, is accepted: this rules out "alg:
// none" and HMAC tokens signed with the public key as the secret, and a
// header that names a key, a certificate or a critical extension is
// refused. The date claims must be integer seconds.
func VerifyToken(raw string, pub *ecdsa.PublicKey, cert *x509.Certificate, now time.Time) (Identity, error) {
	id, _, err := VerifyTokenExpiry(raw, pub, cert, now)
	return id, err
}

// VerifyTokenExpiry is VerifyToken that also returns when the token
// expires, for a caller that keeps verified tokens until then.
func VerifyTokenExpiry(raw string, pub *ecdsa.PublicKey, cert *x509.Certificate, now time.Time) (Identity, time.Time, error) {
	id, err := ClientIdentity(cert)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	if err := checkTokenForm(raw); err != nil {
		return Identity{}, time.Time{}, err
	}
	tok, err := jwt.ParseString(raw,
		jwt.WithKey(jwa.ES256, pub),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithAcceptableSkew(tokenSkew),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(TokenAudience),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("nbf"),
		jwt.WithRequiredClaim("iat"),
		jwt.WithRequiredClaim("jti"),
		jwt.WithRequiredClaim("user"),
		jwt.WithRequiredClaim("cnf"),
	)
	if err != nil {
		return Identity{}, time.Time{}, classify(err)
	}
	user, _ := tok.PrivateClaims()["user"].(string)
	if user == "" {
		return Identity{}, time.Time{}, fmt.Errorf("%w: user is not a string", ErrTokenClaims)
	}
	if user != id.User {
		return Identity{}, time.Time{}, fmt.Errorf("%w: token for %q, certificate for %q", ErrTokenUser, user, id.User)
	}
	cnf, _ := tok.PrivateClaims()["cnf"].(map[string]any)
	x5t, _ := cnf["x5t#S256"].(string)
	if x5t == "" {
		return Identity{}, time.Time{}, fmt.Errorf("%w: cnf has no x5t#S256", ErrTokenClaims)
	}
	// Constant time, as for any secret-derived comparison; the thumbprint
	// is not secret, but the habit costs nothing.
	if subtle.ConstantTimeCompare([]byte(x5t), []byte(Thumbprint(cert))) != 1 {
		return Identity{}, time.Time{}, ErrTokenBinding
	}
	return id, tok.Expiration(), nil
}

// classify maps a jwx error to the sentinel of the check that failed.
func classify(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired()):
		return fmt.Errorf("%w", ErrTokenExpired)
	case errors.Is(err, jwt.ErrTokenNotYetValid()), errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return fmt.Errorf("%w", ErrTokenNotYetValid)
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return fmt.Errorf("%w", ErrTokenIssuer)
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return fmt.Errorf("%w", ErrTokenAudience)
	case errors.Is(err, jwt.ErrMissingRequiredClaim("")), errors.Is(err, jwt.ErrRequiredClaim()):
		return fmt.Errorf("%w: %v", ErrTokenClaims, err)
	case isSignatureError(err):
		return fmt.Errorf("%w", ErrTokenSignature)
	}
	return fmt.Errorf("%w: %v", ErrTokenMalformed, err)
}

func isSignatureError(err error) bool {
	return jws.IsVerificationError(err)
}

// UnverifiedTokenExpiry returns the expiry (exp claim) of raw without
// checking its signature or any other claim. A client has no key to verify
// its own token with and needs the expiry only to warn its user in time; it
// must never base a decision to trust the token on it. The error wraps
// ErrTokenMalformed, or ErrTokenClaims when there is no exp or it is not
// a time after the epoch.
//
// It decodes the one claim itself, rather than parse the whole token with
// the JWT library: every client command calls it, before its request.
func UnverifiedTokenExpiry(raw string) (time.Time, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return time.Time{}, fmt.Errorf("%w: %d parts, want 3", ErrTokenMalformed, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: payload: %v", ErrTokenMalformed, err)
	}
	// A map, not a struct: json matches a struct's fields without regard
	// to case, and claim names are case-sensitive (RFC 7519, section 4),
	// so "EXP" is a claim of its own and not the expiry.
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return time.Time{}, fmt.Errorf("%w: payload: %v", ErrTokenMalformed, err)
	}
	var exp *json.Number
	if rawExp, ok := claims["exp"]; ok {
		if err := json.Unmarshal(rawExp, &exp); err != nil {
			return time.Time{}, fmt.Errorf("%w: exp: %v", ErrTokenMalformed, err)
		}
	}
	if exp == nil {
		return time.Time{}, fmt.Errorf("%w: no exp", ErrTokenClaims)
	}
	// A NumericDate: seconds since the epoch, which may have a fraction.
	secs, err := exp.Float64()
	if err != nil || secs <= 0 || secs > math.MaxInt64/1e9 {
		return time.Time{}, fmt.Errorf("%w: exp %s is not a time", ErrTokenClaims, *exp)
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
}
