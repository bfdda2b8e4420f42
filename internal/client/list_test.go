package client

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
)

// TestReadJobList checks that the streaming reader of a list hands out the
// jobs json.Unmarshal finds in the same answer, and refuses what it
// refuses.
func TestReadJobList(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"two jobs", `{"jobs":[{"id":1,"status":"finished","reason":"exited","output":"18\n","outputTruncated":true,"args":["a"],"usage":{"cpuSeconds":0.5}},{"id":2,"status":"queued","queuePosition":0}]}`, true},
		{"a page", `{"jobs":[{"id":7,"status":"running"}],"next":7}`, true},
		{"next first, unknown member", `{"next":7,"future":{"a":[1,2]},"jobs":[{"id":7}]}`, true},
		{"no jobs", `{"jobs":[]}`, true},
		{"another case", `{"Jobs":[{"id":3}]}`, true},
		{"null jobs", `{"jobs":null}`, true},
		{"empty object", `{}`, true},
		{"null", `null`, true},
		{"cut short", `{"jobs":[{"id":1,"status":"fin`, false},
		{"cut between jobs", `{"jobs":[{"id":1},`, false},
		{"unclosed list", `{"jobs":[{"id":1}]`, false},
		{"an array", `[{"id":1}]`, false},
		{"jobs not an array", `{"jobs":{"id":1}}`, false},
		{"a job not an object", `{"jobs":[1]}`, false},
		{"empty", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, brief := range []bool{false, true} {
				var got []api.Job
				err := readJobList(json.NewDecoder(strings.NewReader(tc.body)), brief, func(j api.Job) error {
					got = append(got, j)
					return nil
				})
				if !tc.ok {
					if err == nil {
						t.Errorf("brief %v: got %+v, want an error", brief, got)
					}
					continue
				}
				var want api.JobList
				if err := json.Unmarshal([]byte(tc.body), &want); err != nil {
					t.Fatal(err)
				}
				if brief {
					for i, j := range want.Jobs {
						want.Jobs[i] = api.Job{ID: j.ID, Status: j.Status, Output: j.Output, OutputTruncated: j.OutputTruncated}
					}
				}
				// An empty list may come back as nil: no caller tells them
				// apart.
				if err != nil || len(got) != len(want.Jobs) || (len(got) > 0 && !reflect.DeepEqual(got, want.Jobs)) {
					t.Errorf("brief %v: got %+v, %v; want %+v", brief, got, err, want.Jobs)
				}
			}
		})
	}
}

// TestReadJobListStops checks that an error from the callback ends the
// list at once and comes back as it is.
func TestReadJobListStops(t *testing.T) {
	stop := errors.New("stop")
	var ids []int64
	err := readJobList(json.NewDecoder(strings.NewReader(`{"jobs":[{"id":1},{"id":2},{"id":3}]}`)), false, func(j api.Job) error {
		ids = append(ids, j.ID)
		if j.ID == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !reflect.DeepEqual(ids, []int64{1, 2}) {
		t.Errorf("got %v, %v; want [1 2], %v", ids, err, stop)
	}
}
