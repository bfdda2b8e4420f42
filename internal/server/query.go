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
