package cli

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzOutputText checks that any output fits on one printable line of the
// asked width, and keeps its end whole when it is shortened.
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
		if n := utf8.RuneCountInString(got); n > 60 {
			t.Fatalf("%q: %d characters in %q", s, n, got)
		}
		whole := escape(strings.TrimSuffix(s, "\n"))
		if kept, cut := strings.CutPrefix(got, "..."); (cut || truncated) && !strings.HasSuffix(whole, kept) {
			t.Fatalf("%q: %q is not the end of %q", s, got, whole)
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
		// Shortened by the server and long: still at most 60 characters.
		{ptr(long), true, "..." + long[len(long)-57:]},
		{ptr(strings.Repeat("x", 60)), true, "..." + strings.Repeat("x", 57)},
		{ptr(strings.Repeat("x", 57)), true, "..." + strings.Repeat("x", 57)},
		{ptr(strings.Repeat("x", 60)), false, strings.Repeat("x", 60)},
		// An escape is not cut in two: \x01 takes 4 of the 57 places.
		{ptr("\x01" + strings.Repeat("x", 54)), true, "..." + strings.Repeat("x", 54)},
		{ptr("\x01" + strings.Repeat("x", 53)), true, `...\x01` + strings.Repeat("x", 53)},
		{ptr(strings.Repeat("é", 70)), false, "..." + strings.Repeat("é", 57)},
	}
	for _, tc := range tests {
		if got := outputText(tc.in, tc.truncated, 60); got != tc.want {
			t.Errorf("outputText(%v, %v) = %q, want %q", tc.in, tc.truncated, got, tc.want)
		}
	}
}

func ptr(s string) *string { return &s }
