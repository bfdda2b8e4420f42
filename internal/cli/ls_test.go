package cli

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzOutputText checks that any output fits on one printable line of the
// asked width.
func FuzzOutputText(f *testing.F) {
	for _, s := range []string{"18\n", "a\tb\x01\n\xff \\ c", strings.Repeat("x", 100), "\u200b\u2028", ""} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, truncated bool) {
		got := outputText(&s, truncated, 60)
		if !utf8.ValidString(got) {
			t.Fatalf("%q: invalid UTF-8 %q", s, got)
		}
		for _, r := range got {
			if !unicode.IsPrint(r) {
				t.Fatalf("%q: unprintable %U in %q", s, r, got)
			}
		}
		if n := utf8.RuneCountInString(got); n > 60+3 {
			t.Fatalf("%q: %d characters", s, n)
		}
	})
}

func TestOutputText(t *testing.T) {
	long := strings.Repeat("ab", 50) + "END"
	tests := []struct {
		in        *string
		truncated bool
		want      string
	}{
		{nil, false, "Null"},
		{ptr("18\n"), false, "18"},
		{ptr("a\nb\n"), false, `a\nb`},
		{ptr(""), false, ""},
		{ptr("tail"), true, "...tail"},
		{ptr(long), false, "..." + long[len(long)-57:]},
	}
	for _, tc := range tests {
		if got := outputText(tc.in, tc.truncated, 60); got != tc.want {
			t.Errorf("outputText(%v, %v) = %q, want %q", tc.in, tc.truncated, got, tc.want)
		}
	}
}

func ptr(s string) *string { return &s }
