//go:build linux

package server_test

import (
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// TestStrictWire sends requests that encoding/json and net/url would read
// leniently: keys in another case or given twice, unknown or repeated query
// parameters. Each is refused with 400 naming what was wrong, and none of
// them does anything.
func TestStrictWire(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice := s.IDs["alice"]
	id := s.StartJob(t, alice, "add.exe", "8", "10")
	s.Wait(t, id)

	tests := []struct {
		name, method, path, body string
		names                    string // the message's words for what was wrong
	}{
		{"start, a case-variant twin of filePath", "POST", "/start", `{"filePath": "add.exe", "FilePath": "fail.sh"}`, `"FilePath"`},
		{"start, filePath twice", "POST", "/start", `{"filePath": "add.exe", "filePath": "fail.sh"}`, `"filePath"`},
		{"start, a limit in another case", "POST", "/start", `{"filePath": "add.exe", "limits": {"Pids": 64}}`, `"limits.Pids"`},
		{"start, a limit twice", "POST", "/start", `{"filePath": "add.exe", "limits": {"pids": 64, "pids": 0}}`, `"limits.pids"`},
		{"start, a query string", "POST", "/start?filePath=fail.sh", `{"filePath": "add.exe"}`, `"filePath"`},
		{"stop, ID", "POST", "/stop", `{"ID": 1}`, `"ID"`},
		{"remove, id twice", "POST", "/remove", `{"id": 999, "id": 1}`, `"id"`},
		{"query, ID", "GET", "/query?ID=1", ``, `"ID"`},
		{"query, id[]", "GET", "/query?id[]=1", ``, `"id[]"`},
		{"query, a semicolon", "GET", "/query?id=1;id=2", ``, "semicolon"},
		{"query, id twice", "GET", "/query?id=1&id=2", ``, `"id"`},
		{"query, tail twice", "GET", "/query?tail=1&tail=2", ``, `"tail"`},
		{"query, a bad escape", "GET", "/query?id=%zz", ``, "malformed"},
		{"logs, Follow", "GET", "/logs?id=1&Follow=true", ``, `"Follow"`},
		{"logs, offset twice", "GET", "/logs?id=1&offset=0&offset=1", ``, `"offset"`},
		{"files, a parameter", "GET", "/files?all=1", ``, `"all"`},
		{"version, a parameter", "GET", "/version?v=2", ``, `"v"`},
		{"healthz, a parameter", "GET", "/healthz?verbose", ``, `"verbose"`},
		{"metrics, a parameter", "GET", "/metrics?name=rw_jobs", ``, `"name"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Call(t, alice, tc.method, tc.path, tc.body)
			if r.Status != 400 {
				t.Fatalf("status %d, want 400; body %s", r.Status, r.Body)
			}
			var e api.Error
			r.Decode(t, &e)
			if e.Code != api.CodeBadRequest || !strings.Contains(e.Error, tc.names) {
				t.Errorf("error %s, want code %s and a message naming %s", r.Body, api.CodeBadRequest, tc.names)
			}
		})
	}
	// Nothing was started, stopped or removed: the one job is as it was.
	var list api.JobList
	s.Call(t, alice, "GET", "/query", "").Decode(t, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != id || list.Jobs[0].Status != api.StatusFinished {
		t.Errorf("jobs after the refused requests: %+v, want job %d alone, finished", list.Jobs, id)
	}

	// What is spelled right still works, every parameter once.
	for _, path := range []string{"/query?id=1", "/query?tail=0&status=finished&limit=1&after=0", "/logs?id=1&follow=false&tailLines=1", "/files", "/version", "/healthz", "/metrics"} {
		if r := s.Call(t, alice, "GET", path, ""); r.Status != 200 {
			t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
		}
	}
}
