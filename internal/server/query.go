//go:build linux

package server

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rw-project/rw/internal/api"
)

// The query parameters each route takes; a route not listed takes none.
var (
	queryParams = []string{"id", "tail", "status", "limit", "after"}
	logsParams  = []string{"id", api.ParamFollow, api.ParamOffset, api.ParamTailLines, api.ParamTailBytes}
)

// withParams lets through to h only a request whose query string parses and
// gives each parameter at most once, each one of allowed. Without it, a
// mistyped or case-changed parameter (/query?ID=2), one a client framework
// spells its own way (?id[]=2) or a query Go's parser drops (?id=2;id=3)
// would be ignored, and the request answered as if it had none: the whole
// list instead of one job. After the check, r.URL.Query() is exactly what
// the client sent.
func withParams(h func(http.ResponseWriter, *http.Request, *caller), allowed ...string) func(http.ResponseWriter, *http.Request, *caller) {
	return func(w http.ResponseWriter, r *http.Request, c *caller) {
		if err := checkQuery(r.URL.Path, r.URL.RawQuery, allowed); err != nil {
			writeError(w, err)
			return
		}
		h(w, r, c)
	}
}

// checkQuery checks the raw query string of a request to path against the
// parameters path takes. The error is a 400 apiError naming the parameter.
func checkQuery(path, raw string, allowed []string) error {
	if plainQueryPasses(raw, allowed) {
		return nil
	}
	return checkQuerySlow(path, raw, allowed)
}

// checkQuerySlow is checkQuery without its fast path: raw parsed by
// url.ParseQuery, then checked parameter by parameter. Every error
// checkQuery returns is one of its.
func checkQuerySlow(path, raw string, allowed []string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return &apiError{http.StatusBadRequest, api.CodeBadRequest,
			fmt.Sprintf("malformed query string: %v: separate parameters with & and percent-encode the rest", err)}
	}
	// Sorted, so that of several bad parameters the same one is named
	// every time.
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(allowed, name) {
			return &apiError{http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("unknown query parameter %q: %s", name, takes(path, allowed))}
		}
		if len(q[name]) > 1 {
			return &apiError{http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("query parameter %q is given %d times: give it once", name, len(q[name]))}
		}
	}
	return nil
}

// takes says which parameters path takes, for an error message.
func takes(path string, allowed []string) string {
	if len(allowed) == 0 {
		return path + " takes no query parameters"
	}
	return path + " takes " + strings.Join(allowed, ", ") + " (names are case-sensitive)"
}

// maxPlainPairs bounds the &-separated pairs plainQueryPasses looks at;
// a longer query is left to url.ParseQuery, which has a bound of its own.
const maxPlainPairs = 64

// plainQueryPasses reports whether checkQuery passes raw, judged without
// building the map of its parameters, which most of the API's requests
// would pay for nothing: it passes a query without escapes ('%', '+') or
// semicolons whose parameters are each one of allowed (at most 64), given
// once. Any other query, good or bad, is left to the full check, so that
// every error is the full check's.
func plainQueryPasses(raw string, allowed []string) bool {
	if raw == "" {
		return true
	}
	if len(allowed) > 64 || strings.ContainsAny(raw, "%+;") {
		return false
	}
	var seen uint64
	for pairs := 0; raw != ""; pairs++ {
		if pairs == maxPlainPairs {
			return false
		}
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, _, _ := strings.Cut(pair, "=")
		i := slices.Index(allowed, name)
		if i < 0 || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
	}
	return true
}

// queryValues returns the values of query parameter name of r, as
// r.URL.Query()[name] does. For a query without escapes or semicolons it
// reads them from the raw query string rather than build the map of every
// parameter.
func queryValues(r *http.Request, name string) ([]string, bool) {
	raw := r.URL.RawQuery
	if strings.ContainsAny(raw, "%+;") || strings.Count(raw, "&") >= maxPlainPairs {
		v, ok := r.URL.Query()[name]
		return v, ok
	}
	var values []string
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if key, value, _ := strings.Cut(pair, "="); pair != "" && key == name {
			values = append(values, value)
		}
	}
	return values, values != nil
}
