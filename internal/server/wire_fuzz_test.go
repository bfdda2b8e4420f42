//go:build linux

package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
)

// bodySeeds are request bodies for the decoders' fuzz targets: the cases of
// the hardening issue and hostile ones.
var bodySeeds = []string{
	`{"filePath": "add.exe", "args": ["8", 10, 2.50, 1e3, -0], "limits": {"memoryBytes": 268435456, "cpus": 0.5, "pids": 64, "ioReadBytesPerSec": 1, "ioWriteBytesPerSec": 0}, "timeout": "90s", "isolate": true}`,
	`{"filePath": "add.exe", "FilePath": "sh.exe"}`,
	`{"FilePath": "sh.exe", "filePath": "add.exe"}`,
	`{"filePath": "add.exe", "filePath": "sh.exe"}`,
	`{"file\u0050ath": "add.exe"}`,
	`{"filePath": "add.exe", "limits": {"pid\u017f": 1}}`,
	`{"filePath": "add.exe", "limits": {"pids": 1, "pids": 0}}`,
	`{"filePath": "add.exe", "limits": {"Pids": 1}}`,
	`{"filePath": "add.exe", "limits": null}`,
	`{"filePath": "add.exe", "args": [{"a": 1, "a": 2}]}`,
	`{"filePath": "add.exe", "args": [true, null, [], {}]}`,
	`{"filePath": "add.exe", "args": [1e400]}`,
	`{"filePath": "add.exe", "args": "8 10"}`,
	`{"filePath": "add.exe"} {}`,
	`{"id": 1}`, `{"id": 1, "id": 2}`, `{"ID": 1}`, `{"Id": 1}`, `{"id": "1"}`, `{"id": 1.5}`, `{"id": 9223372036854775808}`,
	`{}`, `[]`, `null`, ``, ` `, `{`, `{"":1}`, `{"filePath": "a\u0000b"}`, "{\"filePath\": \"\xff\"}",
	`{"filePath": "add.exe", "args": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}`,
}

// checkDecoded holds for any body decodeJSON accepted into v: a decoder that
// is not strict reads the same request from it, it has no key the request
// type does not spell (at the top and in limits), and it round-trips.
func checkDecoded[T any](t *testing.T, body []byte, v *T, keys, limitKeys []string) {
	t.Helper()
	var lenient T
	if err := json.Unmarshal(body, &lenient); err != nil {
		t.Fatalf("%q: accepted, but encoding/json refuses it: %v", body, err)
	}
	if !reflect.DeepEqual(lenient, *v) {
		t.Fatalf("%q: decoded as %+v, encoding/json reads %+v", body, *v, lenient)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatalf("%q: accepted, but not an object: %v", body, err)
	}
	for k, raw := range members {
		if !slices.Contains(keys, k) {
			t.Fatalf("%q: accepted with key %q", body, k)
		}
		if k == "limits" && string(raw) != "null" {
			var limits map[string]json.RawMessage
			if err := json.Unmarshal(raw, &limits); err != nil {
				t.Fatalf("%q: limits %v", body, err)
			}
			for lk := range limits {
				if !slices.Contains(limitKeys, lk) {
					t.Fatalf("%q: accepted with limits key %q", body, lk)
				}
			}
		}
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back T
	if err := decodeJSON(again, &back); err != nil || !reflect.DeepEqual(back, *v) {
		t.Fatalf("%q: %s does not decode back to %+v: %+v, %v", body, again, *v, back, err)
	}
}

// checkBodyRefused holds for any body decodeJSON refused: a 400, or an
// argument of the wrong type, which the server answers 422.
func checkBodyRefused(t *testing.T, body []byte, err error) {
	t.Helper()
	var ae *apiError
	switch {
	case errors.Is(err, api.ErrArgType):
	case errors.As(err, &ae) && ae.status == http.StatusBadRequest && ae.code == api.CodeBadRequest && ae.message != "":
	default:
		t.Fatalf("%q: refused with %v (%T), want a 400 or api.ErrArgType", body, err, err)
	}
}

// FuzzDecodeStart fuzzes the decoder of POST /start's body.
func FuzzDecodeStart(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	keys := []string{"filePath", "args", "limits", "timeout", "isolate"}
	limitKeys := []string{"memoryBytes", "cpus", "pids", "ioReadBytesPerSec", "ioWriteBytesPerSec"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.StartRequest
		if err := decodeJSON(body, &req); err != nil {
			checkBodyRefused(t, body, err)
			return
		}
		checkDecoded(t, body, &req, keys, limitKeys)
	})
}

// FuzzDecodeStop fuzzes the decoder of POST /stop's body (and /remove's,
// which is the same).
func FuzzDecodeStop(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.StopRequest
		if err := decodeJSON(body, &req); err != nil {
			checkBodyRefused(t, body, err)
			return
		}
		checkDecoded(t, body, &req, []string{"id"}, nil)
	})
}

// FuzzValidateArgs checks the limits on job arguments: n copies of b after
// a. What passes is within every limit and unchanged; what is refused is a
// 422 invalid_args and breaks one of them.
func FuzzValidateArgs(f *testing.F) {
	f.Add("8", "10", uint16(1))
	f.Add("", "", uint16(0))
	f.Add("a\x00b", "", uint16(0))
	f.Add("x", "y", uint16(api.MaxArgs-1))
	f.Add("x", "y", uint16(api.MaxArgs))
	f.Add(strings.Repeat("x", api.MaxArgsBytes), "", uint16(0))
	f.Add(strings.Repeat("x", api.MaxArgsBytes), "y", uint16(1))
	f.Add("\xff\xfe", "\u2028", uint16(3))
	f.Fuzz(func(t *testing.T, a, b string, n uint16) {
		args := []api.Arg{api.Arg(a)}
		for range int(n) % (api.MaxArgs + 8) {
			args = append(args, api.Arg(b))
		}
		total, nul := 0, false
		for _, arg := range args {
			total += len(arg)
			nul = nul || strings.IndexByte(string(arg), 0) >= 0
		}
		bad := len(args) > api.MaxArgs || total > api.MaxArgsBytes || nul
		out, err := validateArgs(args)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusUnprocessableEntity || ae.code != api.CodeInvalidArgs {
				t.Fatalf("%d arguments: %v, want 422 %s", len(args), err, api.CodeInvalidArgs)
			}
			if !bad {
				t.Fatalf("%d arguments of %d bytes, no NUL: refused: %v", len(args), total, err)
			}
			return
		}
		if bad {
			t.Fatalf("%d arguments of %d bytes, NUL %v: accepted", len(args), total, nul)
		}
		if len(out) != len(args) {
			t.Fatalf("%d arguments became %d", len(args), len(out))
		}
		for i := range out {
			if out[i] != string(args[i]) {
				t.Fatalf("argument %d %q became %q", i, args[i], out[i])
			}
		}
	})
}

// FuzzQueryString fuzzes the query strings of GET /query and GET /logs:
// checkQuery lets through exactly the ones that parse and give each
// parameter of the route at most once; what it lets through, the
// parameters' own parsing accepts only within their documented ranges, and
// everything refused is a 400.
func FuzzQueryString(f *testing.F) {
	for _, s := range []string{
		"", "id=1", "ID=1", "id[]=1", "id=1;id=2", "id=1&id=2", "id=%zz", "id=1&&", "=1", "id", "id=",
		"tail=0&status=running,failed&limit=1&after=0", "tail=65537", "tail=-1", "limit=0", "after=-1",
		"status=done", "status=", "status=running,", "follow=true&offset=5", "tailLines=1&tailBytes=1",
		"offset=1&tailLines=1", "follow=maybe", "id=9223372036854775808", "id=+1", "id=0x10", "Follow=true",
		"id=1%00", "%69d=1", "id=1+2", "tail=1e3",
	} {
		f.Add(s)
	}
	bad400 := func(t *testing.T, raw string, err error) {
		t.Helper()
		var ae *apiError
		if !errors.As(err, &ae) || ae.status != http.StatusBadRequest || ae.code != api.CodeBadRequest {
			t.Fatalf("%q: %v, want a 400 %s", raw, err, api.CodeBadRequest)
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, route := range []struct {
			path    string
			allowed []string
		}{{api.PathQuery, queryParams}, {api.PathLogs, logsParams}, {api.PathFiles, nil}} {
			q, perr := url.ParseQuery(raw)
			valid := perr == nil
			for k, vs := range q {
				valid = valid && slices.Contains(route.allowed, k) && len(vs) == 1
			}
			err := checkQuery(route.path, raw, route.allowed)
			if err != nil {
				bad400(t, raw, err)
				if valid {
					t.Fatalf("%s?%s: refused: %v", route.path, raw, err)
				}
				continue
			}
			if !valid {
				t.Fatalf("%s?%s: accepted", route.path, raw)
			}
			r := &http.Request{URL: &url.URL{Path: route.path, RawQuery: raw}}
			if id, ok, err := parseID(r); err != nil {
				bad400(t, raw, err)
			} else if ok && q.Get("id") == "" {
				t.Fatalf("%s?%s: id %d from no id", route.path, raw, id)
			}
			switch route.path {
			case api.PathQuery:
				opts, err := parseListOptions(r)
				if err != nil {
					bad400(t, raw, err)
					continue
				}
				if opts.tail < 0 || opts.tail > api.MaxOutputTail || opts.limit < 0 || opts.after < 0 {
					t.Fatalf("%s?%s: accepted as %+v", route.path, raw, opts)
				}
				for st := range opts.statuses {
					if !slices.Contains([]string{api.StatusStarting, api.StatusRunning, api.StatusFinished, api.StatusFailed, api.StatusStopped}, st) {
						t.Fatalf("%s?%s: accepted status %q", route.path, raw, st)
					}
				}
			case api.PathLogs:
				lines, bytes, err := parseTail(q)
				if err != nil {
					bad400(t, raw, err)
					continue
				}
				if lines >= 0 && bytes >= 0 || lines < -1 || bytes < -1 {
					t.Fatalf("%s?%s: tail of %d lines and %d bytes", route.path, raw, lines, bytes)
				}
			}
		}
	})
}
