//go:build linux

package server

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
)

// FuzzQueryFastPath checks the fast paths of plain query strings
// (plainQueryPasses in checkQuery, queryValues in parseID) against the
// code they stand in for, on any raw query of each route: checkQuery
// accepts and refuses what url.ParseQuery and the strict checks do, with
// the same status, code and message; queryValues returns the values
// r.URL.Query() has, for each parameter a route takes and for names it
// does not; and parseID reads the same id, or fails the same way.
func FuzzQueryFastPath(f *testing.F) {
	for _, s := range []string{
		"", "id=1", "id=1&id=1", "ID=1", "id[]=1", "id=1;id=2", "id=1&&", "&", "=", "=1", "id", "id=", "id==1",
		"id=%31", "%69d=1", "id=1+", "i+d=1", "id=%zz", "id=1&x", "tail=0&status=running,failed&limit=1&after=0",
		"follow=true&offset=5&tailLines=1&tailBytes=1", "id=1" + strings.Repeat("&", maxPlainPairs) + "id=2",
		strings.Repeat("id=1&", maxPlainPairs+1), strings.Repeat("&", 10001) + "id=1", "id=\x00\xff", "id=1#x", "id=1?x",
	} {
		f.Add(s)
	}
	routes := []struct {
		path    string
		allowed []string
	}{{api.PathQuery, queryParams}, {api.PathLogs, logsParams}, {api.PathFiles, nil}}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, route := range routes {
			err := checkQuery(route.path, raw, route.allowed)
			if want := checkQuerySlow(route.path, raw, route.allowed); !reflect.DeepEqual(err, want) {
				t.Fatalf("%s?%s: %#v; want %#v", route.path, raw, err, want)
			}
		}
		r := &http.Request{URL: &url.URL{Path: api.PathQuery, RawQuery: raw}}
		want := r.URL.Query()
		for _, name := range slices.Concat(queryParams, logsParams, []string{"ID", "x", ""}) {
			got, ok := queryValues(r, name)
			if wantValues, wantOK := want[name]; ok != wantOK || !reflect.DeepEqual(got, wantValues) {
				t.Fatalf("?%s, parameter %q: %q, %v; want %q, %v", raw, name, got, ok, wantValues, wantOK)
			}
		}
		id, ok, err := parseID(r)
		values, given := want["id"]
		wantID, wantOK, wantErr := idOf(values, given)
		if id != wantID || ok != wantOK || !reflect.DeepEqual(err, wantErr) {
			t.Fatalf("?%s: id %d, %v, %v; want %d, %v, %v", raw, id, ok, err, wantID, wantOK, wantErr)
		}
	})
}
