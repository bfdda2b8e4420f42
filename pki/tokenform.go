package pki

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// tokenAlg is the one JWS algorithm of rw tokens.
const tokenAlg = "ES256"

// refusedHeaders are JOSE header parameters a token must not carry. crit
// asks the verifier to understand extensions it does not know (RFC 7515
// 4.1.11: a verifier that does not must refuse the token); jku, jwk, x5u and
// x5c name a key or certificate to verify with, which only an attacker
// would send: rw verifies with its own token key and nothing else
// (RFC 8725 3.10).
var refusedHeaders = []string{"crit", "jku", "jwk", "x5u", "x5c"}

// dateClaims are the claims that must be a NumericDate.
var dateClaims = []string{"exp", "nbf", "iat"}

// checkTokenForm checks what jwx does not: that the header says exactly
// ES256 (jwx verifies with the key it is given, whatever the header names,
// so a valid ES256 signature under "alg": "none" or "HS256" would pass),
// that it carries no parameter rw refuses, that neither header nor claims
// repeat a name (which parsers resolve differently), and that the date
// claims are integer seconds. The error wraps ErrTokenMalformed.
func checkTokenForm(raw string) error {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return fmt.Errorf("%w: %d parts, want header.payload.signature", ErrTokenMalformed, len(parts))
	}
	header, err := decodeSegment("header", parts[0])
	if err != nil {
		return err
	}
	if err := checkHeader(header); err != nil {
		return err
	}
	claims, err := decodeSegment("payload", parts[1])
	if err != nil {
		return err
	}
	return checkDates(claims)
}

// decodeSegment decodes one base64url segment of a token as a JSON object.
func decodeSegment(name, seg string) (map[string]json.RawMessage, error) {
	data, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not unpadded base64url", ErrTokenMalformed, name)
	}
	obj, err := strictObject(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTokenMalformed, name, err)
	}
	return obj, nil
}

func checkHeader(h map[string]json.RawMessage) error {
	var alg string
	if raw, ok := h["alg"]; !ok || json.Unmarshal(raw, &alg) != nil || alg != tokenAlg {
		return fmt.Errorf("%w: header alg must be %q", ErrTokenMalformed, tokenAlg)
	}
	if raw, ok := h["typ"]; ok {
		var typ string
		if json.Unmarshal(raw, &typ) != nil || typ != "JWT" {
			return fmt.Errorf("%w: header typ must be \"JWT\" when present", ErrTokenMalformed)
		}
	}
	for _, name := range refusedHeaders {
		if _, ok := h[name]; ok {
			return fmt.Errorf("%w: header %q is not accepted", ErrTokenMalformed, name)
		}
	}
	return nil
}

// checkDates requires each date claim that is present to be a NumericDate
// in whole seconds: a JSON integer from 0. RFC 7519 allows fractions, but
// rw never issues them, and a claim jwx would read from a string or a float
// is one whose meaning a reader has to guess.
func checkDates(claims map[string]json.RawMessage) error {
	for _, name := range dateClaims {
		raw, ok := claims[name]
		if !ok {
			continue
		}
		if s := string(raw); s == "" || strings.Trim(s, "0123456789") != "" {
			return fmt.Errorf("%w: %s must be an integer number of seconds", ErrTokenMalformed, name)
		} else if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("%w: %s is out of range", ErrTokenMalformed, name)
		}
	}
	return nil
}

// errDuplicate is strictObject's error for a name given twice.
var errDuplicate = errors.New("a name is given twice")

// strictObject parses data as one JSON object and returns its members,
// refusing a name given twice and anything after the object.
func strictObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	obj := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		if _, ok := obj[name]; ok {
			return nil, fmt.Errorf("%w: %q", errDuplicate, name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		obj[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the object")
	}
	return obj, nil
}
