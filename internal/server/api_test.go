//go:build linux

package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
)

// TestStatusCodes walks every row of the API's status lists against a real
// server over real mTLS.
func TestStatusCodes(t *testing.T) {
	s := testenv.Serve(t, worker.Config{Workers: 1, QueueSize: 1, StopTimeout: 5 * time.Second})
	alice := s.IDs["alice"]

	manyArgs := make([]string, api.MaxArgs+1)
	for i := range manyArgs {
		manyArgs[i] = "1"
	}
	manyJSON, _ := json.Marshal(map[string]any{"filePath": "add.exe", "args": manyArgs})
	bigBody := `{"filePath": "add.exe", "args": ["` + strings.Repeat("x", api.MaxBodyBytes) + `"]}`

	tests := []struct {
		name, method, path, body string
		want                     int
		code                     string
	}{
		{"start with string args", "POST", "/start", `{"filePath": "add.exe", "args": ["8", "10"]}`, 200, ""},
		{"start with number args", "POST", "/start", `{"filePath": "add.exe", "args": [8, 10]}`, 200, ""},
		{"start missing file", "POST", "/start", `{"filePath": "nope.exe"}`, 404, api.CodeNoSuchFile},
		{"start not executable", "POST", "/start", `{"filePath": "notexec.txt"}`, 422, api.CodePathNotAllowed},
		{"start a directory", "POST", "/start", `{"filePath": "sub"}`, 422, api.CodePathNotAllowed},
		{"start outside the jobs dir", "POST", "/start", `{"filePath": "../../../bin/sh"}`, 422, api.CodePathNotAllowed},
		{"start absolute path", "POST", "/start", `{"filePath": "/bin/sh"}`, 422, api.CodePathNotAllowed},
		{"start empty path", "POST", "/start", `{"filePath": ""}`, 422, api.CodePathNotAllowed},
		{"start bool arg", "POST", "/start", `{"filePath": "add.exe", "args": [true]}`, 422, api.CodeInvalidArgs},
		{"start object arg", "POST", "/start", `{"filePath": "add.exe", "args": [{}]}`, 422, api.CodeInvalidArgs},
		{"start NUL in arg", "POST", "/start", `{"filePath": "add.exe", "args": ["a\u0000b"]}`, 422, api.CodeInvalidArgs},
		{"start too many args", "POST", "/start", string(manyJSON), 422, api.CodeInvalidArgs},
		{"start malformed JSON", "POST", "/start", `{"filePath": `, 400, api.CodeBadRequest},
		{"start unknown field", "POST", "/start", `{"filePath": "add.exe", "cmd": "rm"}`, 400, api.CodeBadRequest},
		{"start wrong type", "POST", "/start", `{"filePath": 7}`, 400, api.CodeBadRequest},
		{"start unknown limit", "POST", "/start", `{"filePath": "add.exe", "limits": {"memory": 1}}`, 400, api.CodeBadRequest},
		{"start limit of the wrong type", "POST", "/start", `{"filePath": "add.exe", "limits": {"pids": "many"}}`, 400, api.CodeBadRequest},
		{"start with a time limit", "POST", "/start", `{"filePath": "add.exe", "timeout": "90s"}`, 200, ""},
		{"start with a malformed time limit", "POST", "/start", `{"filePath": "add.exe", "timeout": "soon"}`, 422, api.CodeInvalidTimeout},
		{"start with a negative time limit", "POST", "/start", `{"filePath": "add.exe", "timeout": "-1s"}`, 422, api.CodeInvalidTimeout},
		{"start limits on a server without cgroups", "POST", "/start", `{"filePath": "add.exe", "limits": {"pids": 64}}`, 422, api.CodeInvalidLimits},
		{"start args not a list", "POST", "/start", `{"filePath": "add.exe", "args": "8 10"}`, 400, api.CodeBadRequest},
		{"start trailing data", "POST", "/start", `{"filePath": "add.exe"} {}`, 400, api.CodeBadRequest},
		{"start empty body", "POST", "/start", ``, 400, api.CodeBadRequest},
		{"start body too large", "POST", "/start", bigBody, 413, api.CodeBodyTooLarge},
		{"start with GET", "GET", "/start", ``, 405, api.CodeMethodNotAllowed},
		{"stop unknown id", "POST", "/stop", `{"id": 999}`, 404, api.CodeNotFound},
		{"stop malformed", "POST", "/stop", `{"id": "one"}`, 400, api.CodeBadRequest},
		{"stop with GET", "GET", "/stop", ``, 405, api.CodeMethodNotAllowed},
		{"query all", "GET", "/query", ``, 200, ""},
		{"query unknown id", "GET", "/query?id=999", ``, 404, api.CodeNotFound},
		{"query bad id", "GET", "/query?id=abc", ``, 400, api.CodeBadRequest},
		{"query with POST", "POST", "/query", `{}`, 405, api.CodeMethodNotAllowed},
		{"logs unknown id", "GET", "/logs?id=999", ``, 404, api.CodeNotFound},
		{"logs without id", "GET", "/logs", ``, 400, api.CodeBadRequest},
		{"logs bad follow", "GET", "/logs?id=1&follow=maybe", ``, 400, api.CodeBadRequest},
		{"unknown path", "GET", "/jobs", ``, 404, api.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Call(t, alice, tc.method, tc.path, tc.body)
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.Status, tc.want, r.Body)
			}
			if tc.code == "" {
				return
			}
			var e api.Error
			r.Decode(t, &e)
			if e.Code != tc.code || e.Error == "" {
				t.Errorf("error body %s, want code %q and a message", r.Body, tc.code)
			}
			if tc.want == 405 && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}

	// 503 with Retry-After: one worker busy, one job queued, one too many.
	running := s.StartJob(t, alice, "sleep.sh")
	queued := s.StartJob(t, alice, "sleep.sh")
	r := s.Call(t, alice, "POST", "/start", `{"filePath": "sleep.sh"}`)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("full queue: %d %s, Retry-After %q", r.Status, r.Body, r.Header.Get("Retry-After"))
	}

	// Stop a queued job and a running one; each answer is final.
	for _, id := range []int64{queued, running} {
		r := s.Call(t, alice, "POST", "/stop", fmt.Sprintf(`{"id": %d}`, id))
		var j api.Job
		r.Decode(t, &j)
		if r.Status != 200 || j.Status != api.StatusStopped || j.EndedAt == nil {
			t.Errorf("stop %d: %d %s", id, r.Status, r.Body)
		}
	}
	// Stopping again returns the job as it is.
	again := s.Call(t, alice, "POST", "/stop", fmt.Sprintf(`{"id": %d}`, running))
	var j api.Job
	again.Decode(t, &j)
	if again.Status != 200 || j.Status != api.StatusStopped || j.Output == nil || *j.Output != "ready\n" {
		t.Errorf("stop twice: %d %s", again.Status, again.Body)
	}
}

func TestStartAndQueryJob(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice := s.IDs["alice"]
	id := s.StartJob(t, alice, "add.exe", "8", "10")
	s.Wait(t, id)
	r := s.Call(t, alice, "GET", idPath("/query", id), "")
	var j api.Job
	r.Decode(t, &j)
	if r.Status != 200 || j.ID != id || j.Owner != "alice" || j.FilePath != "add.exe" || j.Status != api.StatusFinished ||
		j.ExitCode == nil || *j.ExitCode != 0 || j.Output == nil || *j.Output != "18\n" || j.OutputTruncated ||
		j.StartedAt == nil || j.EndedAt == nil || j.Error != "" || j.Reason != "exited" {
		t.Fatalf("query: %d %s", r.Status, r.Body)
	}
	for _, field := range []string{`"id"`, `"owner"`, `"filePath"`, `"args"`, `"status"`, `"exitCode"`, `"reason"`, `"output"`, `"outputTruncated"`,
		`"createdAt"`, `"startedAt"`, `"endedAt"`, `"limits":{"memoryBytes":0,"cpus":0,"pids":0,"ioReadBytesPerSec":0,"ioWriteBytesPerSec":0}`, `"usage"`} {
		if !bytes.Contains(r.Body, []byte(field)) {
			t.Errorf("job JSON lacks %s: %s", field, r.Body)
		}
	}

	failed := s.StartJob(t, alice, "exit3.sh")
	s.Wait(t, failed)
	r = s.Call(t, alice, "GET", idPath("/query", failed), "")
	r.Decode(t, &j)
	if j.Status != api.StatusFailed || *j.ExitCode != 3 || j.Error != "exited with code 3" || j.Reason != "exited" {
		t.Errorf("failed job: %s", r.Body)
	}

	bad := s.StartJob(t, alice, "add.exe", "x")
	s.Wait(t, bad)
	r = s.Call(t, alice, "GET", idPath("/logs", bad), "")
	if r.Status != 200 || string(r.Body) != "add.exe: not an integer: 'x'\n" || r.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("logs: %d %q %s", r.Status, r.Body, r.Header.Get("Content-Type"))
	}

	r = s.Call(t, alice, "GET", "/query", "")
	var list api.JobList
	r.Decode(t, &list)
	if len(list.Jobs) != 3 || list.Jobs[0].ID != id || list.Jobs[2].ID != bad {
		t.Errorf("list: %s", r.Body)
	}
}

// TestOutputTailAndTruncation checks that a job's JSON carries at most the
// last 64 KiB of output and says when it is cut.
func TestOutputTailAndTruncation(t *testing.T) {
	s := testenv.Serve(t, worker.Config{MaxOutput: 100 << 10})
	alice := s.IDs["alice"]
	id := s.StartJob(t, alice, "zeros.sh", "200000")
	s.Wait(t, id)
	r := s.Call(t, alice, "GET", idPath("/query", id), "")
	var j api.Job
	r.Decode(t, &j)
	if j.Output == nil || len(*j.Output) != api.MaxOutputTail || !j.OutputTruncated {
		t.Errorf("output %d bytes, truncated %v", len(*j.Output), j.OutputTruncated)
	}
	r = s.Call(t, alice, "GET", idPath("/logs", id), "")
	if len(r.Body) != 100<<10 {
		t.Errorf("logs: %d bytes, want the %d kept", len(r.Body), 100<<10)
	}
	empty := s.StartJob(t, alice, "echo.sh")
	s.Wait(t, empty)
	r = s.Call(t, alice, "GET", idPath("/query", empty), "")
	if !bytes.Contains(r.Body, []byte(`"output":"\n"`)) {
		t.Errorf("job with a newline: %s", r.Body)
	}
}

func TestAuthentication(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice, bob := s.IDs["alice"], s.IDs["bob"]
	now := time.Now()
	expired, err := pki.IssueToken(s.TokenKey, alice.Leaf(), now.Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := pki.NewCA("other", now) // any ECDSA key will do
	wrongKey, err := pki.IssueToken(otherKey.Key, alice.Leaf(), now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A second certificate for alice: her token is bound to the first.
	alice2 := s.Issue(t, "alice", "admin")

	tests := []struct {
		name      string
		id        testenv.Identity
		header    string
		challenge string
		reason    string
	}{
		{"no header", alice, "", `Bearer realm="rw"`, "no bearer token"},
		{"Basic scheme", alice, "Basic YWxpY2U6c2VjcmV0", `Bearer realm="rw"`, "no bearer token"},
		{"expired", alice, "Bearer " + expired, `Bearer realm="rw", error="invalid_token"`, "expired"},
		{"signed by another key", alice, "Bearer " + wrongKey, `Bearer realm="rw", error="invalid_token"`, "signature"},
		{"token of another user", alice, "Bearer " + bob.Token, `Bearer realm="rw", error="invalid_token"`, "does not match the client certificate"},
		{"token bound to another certificate", alice2, "Bearer " + alice.Token, `Bearer realm="rw", error="invalid_token"`, "bound to another certificate"},
		{"garbage", alice, "Bearer not-a-token", `Bearer realm="rw", error="invalid_token"`, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/query", "/start", "/nowhere"} {
				r := s.Call(t, tc.id, "GET", path, "", tc.header)
				var e api.Error
				r.Decode(t, &e)
				if r.Status != 401 || e.Code != api.CodeUnauthenticated {
					t.Fatalf("%s: %d %s", path, r.Status, r.Body)
				}
				if got := r.Header.Get(api.HeaderStopTimeout); got != "" {
					t.Errorf("%s: an unauthenticated caller learns the grace period %q", path, got)
				}
				if got := r.Header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("%s: WWW-Authenticate %q, want %q", path, got, tc.challenge)
				}
				if !strings.Contains(e.Error, tc.reason) {
					t.Errorf("%s: error %q does not say %q", path, e.Error, tc.reason)
				}
			}
		})
	}
	// The log says what failed and never what the secret was.
	logs := s.Logs.String()
	for _, token := range []string{alice.Token, bob.Token, expired, wrongKey} {
		sig := token[strings.LastIndexByte(token, '.')+1:]
		if strings.Contains(logs, sig) {
			t.Errorf("a token is in the server log")
		}
	}
	s.Logs.WaitFor(t, `"message":"authentication failed"`, "token has expired")
}

func TestStopTimeoutIsAnnounced(t *testing.T) {
	s := testenv.Serve(t, worker.Config{StopTimeout: 1500 * time.Millisecond})
	r := s.Call(t, s.IDs["bob"], "GET", "/query", "")
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if got, want := r.Header.Get(api.HeaderStopTimeout), "1.5s"; got != want {
		t.Errorf("%s: %q, want %q", api.HeaderStopTimeout, got, want)
	}
}

func TestPermissions(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice, bob, dave, carol := s.IDs["alice"], s.IDs["bob"], s.IDs["dave"], s.IDs["carol"]
	aliceJob := s.StartJob(t, alice, "sleep.sh")
	bobJob := s.StartJob(t, bob, "add.exe", "1", "2")
	s.Wait(t, bobJob)

	type row struct {
		who          testenv.Identity
		method, path string
		body         string
		want         int
	}
	stop := func(id int64) string { return fmt.Sprintf(`{"id": %d}`, id) }
	rows := []row{
		{bob, "GET", idPath("/query", bobJob), "", 200},
		{bob, "GET", idPath("/logs", bobJob), "", 200},
		{bob, "GET", idPath("/query", aliceJob), "", 404},
		{bob, "GET", idPath("/logs", aliceJob), "", 404},
		{bob, "POST", "/stop", stop(aliceJob), 404},
		{dave, "GET", idPath("/query", bobJob), "", 404},
		{dave, "POST", "/stop", stop(bobJob), 404},
		{alice, "GET", idPath("/query", bobJob), "", 200},
		{alice, "GET", idPath("/logs", bobJob), "", 200},
		{carol, "POST", "/start", `{"filePath": "add.exe"}`, 403},
		{carol, "GET", "/query", "", 403},
		{carol, "GET", idPath("/query", bobJob), "", 403},
		{carol, "POST", "/stop", stop(bobJob), 403},
		{bob, "POST", "/stop", stop(bobJob), 200},
		{alice, "POST", "/stop", stop(aliceJob), 200},
	}
	for _, r := range rows {
		got := s.Call(t, r.who, r.method, r.path, r.body)
		if got.Status != r.want {
			t.Errorf("%s %s %s %s: %d, want %d (%s)", r.who.Name, r.method, r.path, r.body, got.Status, r.want, got.Body)
		}
	}

	// Another user's job is answered exactly as a missing one.
	hidden := s.Call(t, bob, "GET", idPath("/query", aliceJob), "")
	missing := s.Call(t, bob, "GET", idPath("/query", 1000), "")
	want := strings.ReplaceAll(string(missing.Body), "1000", fmt.Sprint(aliceJob))
	if string(hidden.Body) != want {
		t.Errorf("hidden job %s, missing job %s", hidden.Body, missing.Body)
	}

	// Lists show each user their own jobs only.
	for _, tc := range []struct {
		who  testenv.Identity
		want []int64
	}{{alice, []int64{aliceJob, bobJob}}, {bob, []int64{bobJob}}, {dave, nil}} {
		r := s.Call(t, tc.who, "GET", "/query", "")
		var list api.JobList
		r.Decode(t, &list)
		var ids []int64
		for _, j := range list.Jobs {
			ids = append(ids, j.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) || list.Jobs == nil {
			t.Errorf("%s sees %v, want %v (%s)", tc.who.Name, ids, tc.want, r.Body)
		}
	}
}

func TestStopOfFinishedJobChangesNothing(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice := s.IDs["alice"]
	id := s.StartJob(t, alice, "add.exe", "1")
	s.Wait(t, id)
	before := s.Call(t, alice, "GET", idPath("/query", id), "")
	s.Call(t, alice, "POST", "/stop", fmt.Sprintf(`{"id": %d}`, id))
	after := s.Call(t, alice, "GET", idPath("/query", id), "")
	if !bytes.Equal(before.Body, after.Body) {
		t.Errorf("stop of a finished job changed it:\n%s\n%s", before.Body, after.Body)
	}
}

// TestListParameters pages through a list, filters it by status and asks
// for a smaller tail of output per job.
func TestListParameters(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice := s.IDs["alice"]
	var ids []int64
	for range 5 {
		id := s.StartJob(t, alice, "echo.sh", "0123456789")
		s.Wait(t, id)
		ids = append(ids, id)
	}
	failed := s.StartJob(t, alice, "exit3.sh")
	s.Wait(t, failed)

	var page api.JobList
	s.Call(t, alice, "GET", "/query?limit=2&tail=4", "").Decode(t, &page)
	if len(page.Jobs) != 2 || page.Jobs[0].ID != ids[0] || page.Next == nil || *page.Next != ids[1] {
		t.Fatalf("first page: %+v", page)
	}
	if o := page.Jobs[0].Output; o == nil || *o != "789\n" || !page.Jobs[0].OutputTruncated {
		t.Errorf("tail=4 gave %v", o)
	}
	var rest api.JobList
	s.Call(t, alice, "GET", fmt.Sprintf("/query?limit=10&after=%d&tail=0", *page.Next), "").Decode(t, &rest)
	if len(rest.Jobs) != 4 || rest.Next != nil || rest.Jobs[0].Output != nil {
		t.Errorf("the rest: %d jobs, next %v, first output %v; want 4, none, no output", len(rest.Jobs), rest.Next, rest.Jobs[0].Output)
	}
	var onlyFailed api.JobList
	s.Call(t, alice, "GET", "/query?status=failed", "").Decode(t, &onlyFailed)
	if len(onlyFailed.Jobs) != 1 || onlyFailed.Jobs[0].ID != failed {
		t.Errorf("status=failed: %+v", onlyFailed.Jobs)
	}
	for _, bad := range []string{"tail=-1", "tail=99999999", "limit=0", "after=x", "status=sleeping"} {
		if r := s.Call(t, alice, "GET", "/query?"+bad, ""); r.Status != 400 {
			t.Errorf("%s: %d, want 400", bad, r.Status)
		}
	}
	// Without parameters, the answer keeps its shape: every job, no next.
	r := s.Call(t, alice, "GET", "/query", "")
	if bytes.Contains(r.Body, []byte(`"next"`)) {
		t.Errorf("a plain list has next: %s", r.Body)
	}
}
