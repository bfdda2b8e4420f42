//go:build linux

package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
)

func TestDecodeJSONKeys(t *testing.T) {
	tests := []struct {
		name, body string
		into       func() any
		wantKey    string // "" : accepted; else the 400's message names it
	}{
		{"start", `{"filePath": "add.exe", "args": ["8", 10], "limits": {"pids": 64}, "timeout": "1s", "isolate": false}`, start, ""},
		{"start, key escaped", `{"file\u0050ath": "add.exe"}`, start, ""},
		{"start, arg objects are the decoder's to refuse", `{"filePath": "add.exe", "args": [{"a": 1}]}`, start, ""},
		{"case-variant twin", `{"filePath": "add.exe", "FilePath": "sh.exe"}`, start, `"FilePath"`},
		{"case-variant alone", `{"FILEPATH": "sh.exe"}`, start, `"FILEPATH"`},
		{"long s folds to s in encoding/json", `{"filePath": "add.exe", "limits": {"pid\u017f": 1}}`, start, "\"limits.pid\u017f\""},
		{"duplicate key", `{"filePath": "add.exe", "filePath": "sh.exe"}`, start, `"filePath"`},
		{"duplicate nested key", `{"filePath": "add.exe", "limits": {"pids": 64, "pids": 0}}`, start, `"limits.pids"`},
		{"case-variant nested key", `{"filePath": "add.exe", "limits": {"MemoryBytes": 1}}`, start, `"limits.MemoryBytes"`},
		{"unknown nested key", `{"filePath": "add.exe", "limits": {"memory": 1}}`, start, `"limits.memory"`},
		{"unknown key", `{"filePath": "add.exe", "cmd": "rm"}`, start, `"cmd"`},
		{"duplicate key in an argument object", `{"filePath": "add.exe", "args": [{"a": 1, "a": 2}]}`, start, `"args[0].a"`},
		{"stop", `{"id": 7}`, stop, ""},
		{"stop, ID", `{"ID": 7}`, stop, `"ID"`},
		{"stop, id twice", `{"id": 1, "id": 7}`, stop, `"id"`},
		{"remove, Id", `{"Id": 7}`, remove, `"Id"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeJSON([]byte(tc.body), tc.into())
			if tc.wantKey == "" {
				if err != nil && !errors.Is(err, api.ErrArgType) {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusBadRequest || ae.code != api.CodeBadRequest {
				t.Fatalf("error %v, want 400 %s", err, api.CodeBadRequest)
			}
			if !strings.Contains(ae.message, tc.wantKey) {
				t.Errorf("message %q does not name %s", ae.message, tc.wantKey)
			}
		})
	}
}

func TestDecodeJSONNesting(t *testing.T) {
	deep := `{"filePath": "a", "args": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`
	var ae *apiError
	if err := decodeJSON([]byte(deep), start()); !errors.As(err, &ae) || ae.status != http.StatusBadRequest {
		t.Errorf("10000 nested arrays: %v, want 400", err)
	}
}

func start() any  { return new(api.StartRequest) }
func stop() any   { return new(api.StopRequest) }
func remove() any { return new(api.RemoveRequest) }
