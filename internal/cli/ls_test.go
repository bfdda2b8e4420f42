package cli

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rw-project/rw/internal/api"
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

func TestAgoText(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ago  time.Duration
		want string
	}{
		{"now", 0, "just now"},
		{"under a second", 900 * time.Millisecond, "just now"},
		{"one second", time.Second, "1 second ago"},
		{"seconds", 59 * time.Second, "59 seconds ago"},
		{"one minute", 90 * time.Second, "1 minute ago"},
		{"minutes", 2*time.Minute + 59*time.Second, "2 minutes ago"},
		{"hours", 5 * time.Hour, "5 hours ago"},
		{"one day", 47 * time.Hour, "1 day ago"},
		{"days", 30 * 24 * time.Hour, "30 days ago"},
		{"a clock behind the server's", -time.Minute, "just now"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := agoText(now.Add(-tc.ago), now); got != tc.want {
				t.Errorf("agoText(now-%v) = %q, want %q", tc.ago, got, tc.want)
			}
		})
	}
}

func TestRunTimeText(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name string
		job  api.Job
		want string
	}{
		{"never started", api.Job{}, "-"},
		{"ended", api.Job{StartedAt: at(-90 * time.Second), EndedAt: at(-10*time.Second + 400*time.Millisecond)}, "1m20s"},
		{"short", api.Job{StartedAt: at(-time.Second), EndedAt: at(-time.Second + 12345*time.Microsecond)}, "12ms"},
		{"running", api.Job{StartedAt: at(-3*time.Hour - 2*time.Second)}, "3h0m2s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runTimeText(tc.job, now); got != tc.want {
				t.Errorf("runTimeText = %q, want %q", got, tc.want)
			}
		})
	}
}
