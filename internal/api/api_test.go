package api

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestArgUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    []Arg
		wantErr error
	}{
		{`["8", "10"]`, []Arg{"8", "10"}, nil},
		{`[8, 10]`, []Arg{"8", "10"}, nil},
		{`[-3, 0, 12345678901234567890]`, []Arg{"-3", "0", "12345678901234567890"}, nil},
		{`[1e3, 2.50, 0.1]`, []Arg{"1000", "2.5", "0.1"}, nil},
		{`["", " a ", "\u00e9"]`, []Arg{"", " a ", "é"}, nil},
		{`[true]`, nil, ErrArgType},
		{`[null]`, nil, ErrArgType},
		{`[{"a": 1}]`, nil, ErrArgType},
		{`[["x"]]`, nil, ErrArgType},
	}
	for _, tc := range tests {
		var got []Arg
		err := json.Unmarshal([]byte(tc.in), &got)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: error %v, want %v", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
