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

func TestCommandText(t *testing.T) {
	long := make([]string, 2000)
	for i := range long {
		long[i] = "arg"
	}
	tests := []struct {
		name string
		path string
		args []string
		want string
	}{
		{"plain", "add.exe", []string{"8", "10"}, "add.exe 8 10"},
		{"no args", "tools/b.sh", nil, "tools/b.sh"},
		{"quoted", "echo.sh", []string{"a b", ""}, "echo.sh 'a b' ''"},
		{"a quote in a quoted argument", "echo.sh", []string{"it's"}, `echo.sh 'it'\''s'`},
		{"escapes", "echo.sh", []string{"a\nb"}, `echo.sh 'a\nb'`},
		{"exactly the width", "a.sh", []string{strings.Repeat("x", 35)}, "a.sh " + strings.Repeat("x", 35)},
		{"one over the width", "a.sh", []string{strings.Repeat("x", 36)}, "a.sh " + strings.Repeat("x", 32) + "..."},
		{"thousands of arguments", "tick.sh", long, "tick.sh" + strings.Repeat(" arg", 7) + " a..."},
		// The cut falls inside \n: it is left out whole.
		{"an escape at the cut", "echo.sh", []string{strings.Repeat("x", 27) + "\n" + "tail"}, "echo.sh '" + strings.Repeat("x", 27) + "..."},
		{"a quote sequence at the cut", "echo.sh", []string{strings.Repeat("x", 25) + "'" + "tail"}, "echo.sh '" + strings.Repeat("x", 25) + "..."},
		{"runes, not bytes", "é.sh", []string{strings.Repeat("é", 40)}, "é.sh " + strings.Repeat("é", 32) + "..."},
		{"a control byte in the path", "a\x01.sh", nil, `a\x01.sh`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := commandText(api.Job{FilePath: tc.path, Args: tc.args}, commandWidth)
			if got != tc.want {
				t.Errorf("commandText = %q, want %q", got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > commandWidth {
				t.Errorf("%d characters, over %d", n, commandWidth)
			}
		})
	}
}

// The case of the report: a job's output cut in the middle of what escape
// makes of a newline keeps the backslash with its n, or drops both.
func TestOutputTextKeepsEscapesWhole(t *testing.T) {
	out := strings.Repeat("tick 1\n", 20) + "tick 2\n"
	for width := 8; width <= 30; width++ {
		got := outputText(&out, true, width)
		kept := strings.TrimPrefix(got, ellipsis)
		if strings.HasPrefix(kept, "n") {
			t.Errorf("width %d: %q starts with the n of a cut \\n", width, got)
		}
		if !strings.HasSuffix(escape(strings.TrimSuffix(out, "\n")), kept) {
			t.Errorf("width %d: %q is not the end of the escaped output", width, got)
		}
	}
}
