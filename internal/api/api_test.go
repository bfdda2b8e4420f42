package api

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"
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

// FuzzArg checks that every string survives the wire as it is, and that
// nothing but strings and numbers is accepted.
func FuzzArg(f *testing.F) {
	for _, s := range []string{"8", "", "a\x00b", "\xff", "é", `"`, "\\", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // JSON strings are UTF-8; the client never sends others
		}
		b, _ := json.Marshal([]string{s})
		var got []Arg
		if err := json.Unmarshal(b, &got); err != nil || len(got) != 1 || string(got[0]) != s {
			t.Fatalf("%q came back as %q, %v", s, got, err)
		}
		// The raw text as a JSON value: accepted only as a number or string.
		var a Arg
		if err := json.Unmarshal([]byte(s), &a); err == nil {
			var v any
			if json.Unmarshal([]byte(s), &v) != nil {
				t.Fatalf("accepted invalid JSON %q", s)
			}
			switch v.(type) {
			case string, float64:
			default:
				t.Fatalf("accepted %T %q as an argument", v, s)
			}
		}
	})
}
