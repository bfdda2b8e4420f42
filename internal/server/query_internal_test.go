//go:build linux

package server

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestQueryFastPathsAgreeWithParseQuery builds random query strings from
// pieces that matter to url.ParseQuery (names allowed or not, in another
// case, escapes, '+', ';', empty pairs, repeats) and checks that the fast
// paths agree with it: plainQueryPasses passes only what the full check
// passes, and queryValues returns what r.URL.Query() does.
func TestQueryFastPathsAgreeWithParseQuery(t *testing.T) {
	pieces := []string{"id", "tail", "status", "ID", "x", "=", "=", "&", "&", "1", "22", "%", "%41", "%6", "+", ";", "[]", "running,queued"}
	rng := rand.New(rand.NewPCG(13, 8))
	passed := 0
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		raw := b.String()
		if plainQueryPasses(raw, queryParams) {
			passed++
			if err := checkQueryFull(raw, queryParams); err != nil {
				t.Errorf("query %q: the fast path passes it, the full check says %v", raw, err)
			}
		}
		r := &http.Request{URL: &url.URL{Path: "/query", RawQuery: raw}}
		for _, name := range []string{"id", "tail", "x", ""} {
			got, gotOK := queryValues(r, name)
			want, wantOK := r.URL.Query()[name]
			if gotOK != wantOK || !reflect.DeepEqual(got, want) {
				t.Errorf("query %q, parameter %q: %q, %v; want %q, %v", raw, name, got, gotOK, want, wantOK)
			}
		}
	}
	if passed < 100 {
		t.Errorf("only %d of the random queries took the fast path: the test checks too little", passed)
	}
	many := strings.Repeat("&", maxPlainPairs) + "id=1"
	if plainQueryPasses(many, queryParams) {
		t.Errorf("a query of more than %d pairs took the fast path", maxPlainPairs)
	}
}

// checkQueryFull is checkQuery's full check alone.
func checkQueryFull(raw string, allowed []string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return err
	}
	for name, values := range q {
		if !slices.Contains(allowed, name) || len(values) > 1 {
			return &apiError{message: "bad parameter " + name}
		}
	}
	return nil
}
