package client

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
)

// jobsMembers counts the members of the top-level object of body that
// decoding into api.JobList takes for its Jobs, as far as body parses.
func jobsMembers(body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0
	}
	n := 0
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return n
		}
		if name, _ := key.(string); strings.EqualFold(name, "jobs") {
			n++
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return n
		}
	}
	return n
}

// briefList is what a brief list would be, decoded whole.
type briefList struct {
	Jobs []briefJob `json:"jobs"`
	Next *int64     `json:"next,omitempty"`
}

// FuzzReadJobList checks the streamed decoding of a list (readJobList,
// which EachJob runs on the answer, whole and brief) against decoding the
// whole answer into an api.JobList, on any bytes. Where the whole
// decoding succeeds, the stream hands out the same jobs (brief: their
// ID, Status, Output and OutputTruncated) and no error; where it fails,
// the stream fails too, after handing out any number of jobs.
//
// The reference is json.Decoder.Decode, which is what the client ran
// before the list was streamed, not json.Unmarshal: the two differ only
// in that Unmarshal refuses bytes after the value, which Decode leaves
// unread, and the stream does too.
//
// Two differences are intended. An answer with more than one "jobs"
// member (which rw's server never sends) is decoded into one slice by
// encoding/json, a later member overwriting an earlier one's jobs field
// by field, while the stream has handed out the jobs of each member by
// the time it reads the next: for such an answer only the errors are
// compared. And a brief list skips, unread, every member of a job but
// the four it keeps, so a member of the wrong type among the rest is no
// error: a brief list may succeed where the whole decoding fails, if
// decoding the whole answer into the brief fields alone succeeds.
func FuzzReadJobList(f *testing.F) {
	for _, s := range []string{
		`{"jobs":[{"id":1,"status":"finished","reason":"exited","output":"18\n","outputTruncated":true,"args":["a"],"usage":{"cpuSeconds":0.5}},{"id":2,"status":"queued","queuePosition":0}]}`,
		`{"jobs":[{"id":7,"status":"running"}],"next":7}`,
		`{"next":7,"future":{"a":[1,2]},"jobs":[{"id":7}]}`,
		`{"JOBS":[{"ID":3,"Status":"x","OUTPUT":null}]}`, `{"jobſ":[{"id":3}]}`,
		`{"jobs":[]}`, `{"jobs":null}`, `{}`, `null`, ``, ` `, `[{"id":1}]`, `{"jobs":{"id":1}}`, `{"jobs":[1]}`,
		`{"jobs":[null,{}]}`, `{"jobs":[{"id":1}]} {"jobs":[{"id":2}]}`, `{"jobs":[{"id":1}]}x`,
		`{"jobs":[{"id":1,"status":"a"}],"jobs":[{"id":2}]}`, `{"jobs":[{"id":1}],"jobs":null}`,
		`{"jobs":[{"id":1,"status":"fin`, `{"jobs":[{"id":1},`, `{"jobs":[{"id":1}]`,
		`{"jobs":[{"id":"1"}]}`, `{"jobs":[{"id":1,"owner":2}]}`, `{"jobs":[{"id":1.5}]}`, `{"jobs":[{"id":1e3}]}`,
		`{"jobs":[{"id":1,"output":"\ud800\u00e9\"\\"}]}`, "{\"jobs\":[{\"status\":\"\xff\"}]}",
		`{"jobs":[{"id":1}],"next":null}`,
		`{"jobs":[{"id":1,"createdAt":"2026-11-28T00:00:00Z","startedAt":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var whole api.JobList
		wholeErr := json.NewDecoder(bytes.NewReader(body)).Decode(&whole)
		var brief briefList
		briefErr := json.NewDecoder(bytes.NewReader(body)).Decode(&brief)
		comparable := jobsMembers(body) <= 1
		for _, isBrief := range []bool{false, true} {
			var got []api.Job
			err := readJobList(json.NewDecoder(bytes.NewReader(body)), isBrief, func(j api.Job) error {
				got = append(got, j)
				return nil
			})
			want, wantErr := whole.Jobs, wholeErr
			if isBrief {
				want, wantErr = nil, briefErr
				for _, j := range brief.Jobs {
					want = append(want, api.Job{ID: j.ID, Status: j.Status, Output: j.Output, OutputTruncated: j.OutputTruncated})
				}
				if wholeErr == nil && briefErr != nil {
					t.Fatalf("%q: whole, the list decodes; brief, it fails: %v", body, briefErr)
				}
			}
			switch {
			case wantErr != nil && err == nil:
				t.Fatalf("%q, brief %v: decoded whole, it fails (%v); streamed, it gives %+v", body, isBrief, wantErr, got)
			case wantErr == nil && err != nil:
				t.Fatalf("%q, brief %v: decoded whole, it gives %+v; streamed, it fails after %d jobs: %v", body, isBrief, want, len(got), err)
			case wantErr == nil && comparable && (len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual(got, want)):
				// An empty list may come back as nil: no caller tells
				// them apart.
				t.Fatalf("%q, brief %v: streamed %+v; want %+v", body, isBrief, got, want)
			}
		}
	})
}
