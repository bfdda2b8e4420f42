package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/client"
	ucli "github.com/urfave/cli/v2"
)

func lsCommand() *ucli.Command {
	return &ucli.Command{
		Name:    "ls",
		Aliases: []string{"ps"},
		Usage:   "list the jobs you may see",
		UsageText: `rw ls [-s STATUS,...] [--json | -l | -q]

   Every job you may see, whatever its status, one line each:
   Id: 1, Status: Finished, Output: 18. The output is the end of the job's
   output on one line (newlines and control bytes escaped, long output
   shortened with ...), Null when there is none yet. -s keeps the jobs in
   the statuses named: queued (waiting for a worker), starting (its process
   being made), running, stopping (SIGTERM sent, SIGKILL due at the end of
   the grace period), finished, failed, stopped. With no jobs, prints
   nothing on stdout, and 'no jobs' on stderr when stdout is a terminal.

EXAMPLES:
   rw ls
   rw ls -l -s queued,running
   rw ls -q -s finished,failed,stopped | xargs rw rm
   rw ls --json | jq '.jobs[] | select(.status == "failed") | .id'`,
		Flags: append([]ucli.Flag{
			&ucli.StringSliceFlag{Name: "status", Aliases: []string{"s"}, Usage: "only jobs in these statuses, comma-separated or repeated"},
			&ucli.BoolFlag{Name: "json", Usage: "print the API's JSON"},
			&ucli.BoolFlag{Name: "long", Aliases: []string{"l"}, Usage: "an aligned table with exit code, reason, owner, age, duration, CPU time, peak memory and command (its first 40 characters)"},
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print the ids alone"},
		}, connectionFlags()...),
		Action: lsAction,
	}
}

func lsAction(c *ucli.Context) error {
	if c.Args().Present() {
		return usagef("ls takes no arguments; use 'rw logs ID' for one job's output")
	}
	asJSON, long, quiet := c.Bool("json"), c.Bool("long"), c.Bool("quiet")
	formats := 0
	for _, on := range []bool{asJSON, long, quiet} {
		if on {
			formats++
		}
	}
	if formats > 1 {
		return usagef("--json, -l and -q do not go together: choose one")
	}
	var statuses []string
	for _, name := range c.StringSlice("status") {
		status := strings.ToLower(strings.TrimSpace(name))
		if !slices.Contains(api.Statuses, status) {
			return usagef("-s: %q is not a status: use %s", name, strings.Join(api.Statuses, ", "))
		}
		statuses = append(statuses, status)
	}
	conn, ctx, cleanup, err := newClient(c)
	if err != nil {
		return err
	}
	defer cleanup()
	// The one-line and long formats show the end of each job's output on
	// one line: a few runes, each at most 4 bytes and a little escaping.
	// Only --json shows it all.
	tail := int64(api.MaxOutputTail)
	if !asJSON {
		tail = lsTailBytes
	}
	// The one-line format and -q print each job as it is decoded, into a
	// buffer written once at the end: a list that breaks off prints
	// nothing, and a thousand lines take one write, not a thousand. They
	// show no more than a brief job. --json and -l need the whole list
	// first (-l measures ages and durations from after its end).
	var out bytes.Buffer
	var jobs []api.Job // --json and -l
	opts := client.ListOptions{Tail: tail, Statuses: statuses, Brief: !asJSON && !long}
	n := 0
	err = conn.EachJob(ctx, opts, func(j api.Job) error {
		n++
		switch {
		case asJSON, long:
			jobs = append(jobs, j)
		case quiet:
			out.WriteString(strconv.FormatInt(j.ID, 10))
			out.WriteByte('\n')
		default:
			out.WriteString(shortLine(j))
			out.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		return explain(conn, err)
	}
	w := c.App.Writer
	if n == 0 && !asJSON && isTerminal(w) {
		// Nothing on stdout, so that scripts see an empty list.
		fmt.Fprintln(c.App.ErrWriter, "no jobs")
	}
	switch {
	case asJSON:
		if jobs == nil {
			jobs = []api.Job{} // "jobs": [], not null
		}
		return writeJSON(w, api.JobList{Jobs: jobs})
	case long && len(jobs) > 0:
		now := time.Now()
		tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tEXIT\tREASON\tOWNER\tCREATED\tDURATION\tCPU\tMEM PEAK\tCOMMAND\tOUTPUT")
		for _, j := range jobs {
			cpu, mem := usageText(j.Usage)
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Status, exitText(j.ExitCode), orDefault(j.Reason, "-"),
				j.Owner, agoText(j.CreatedAt, now), runTimeText(j, now), cpu, mem, commandText(j, commandWidth), outputText(j.Output, j.OutputTruncated, 40))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err = w.Write(out.Bytes())
	return err
}

// writeJSON writes v as the API's JSON, indented for people; "<" and ">"
// stay as they are, since nothing here is HTML.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// shortLine is the one-line format of a job, as rw ls prints it:
// "Id: 1, Status: Finished, Output: 18".
func shortLine(j api.Job) string {
	return "Id: " + strconv.FormatInt(j.ID, 10) + ", Status: " + capitalize(j.Status) + ", Output: " + outputText(j.Output, j.OutputTruncated, 60)
}

// lsTailBytes is the output rw ls asks for per job: enough for the widest
// line it prints (60 runes of up to 4 bytes).
const lsTailBytes = 256

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// ellipsis marks output shortened at its start.
const ellipsis = "..."

// outputText puts a job's output on one line of at most width characters:
// the final newline dropped, control bytes and invalid UTF-8 escaped, and
// the end kept when it is too long, since that is where a job says how it
// went. Output the server already shortened (truncated) starts with "..."
// too. An escape is kept whole or not at all.
func outputText(out *string, truncated bool, width int) string {
	if out == nil {
		return "Null"
	}
	s := strings.TrimSuffix(*out, "\n")
	if text := escape(s); !truncated && utf8.RuneCountInString(text) <= width {
		return text
	}
	// Escape from the end, a rune at a time, as long as what is kept fits
	// after the ellipsis.
	var tail []string
	room := width - len(ellipsis)
	for end := len(s); end > 0; {
		_, n := utf8.DecodeLastRuneInString(s[:end])
		piece := escape(s[end-n : end])
		if room -= utf8.RuneCountInString(piece); room < 0 {
			break
		}
		tail = append(tail, piece)
		end -= n
	}
	slices.Reverse(tail)
	return ellipsis + strings.Join(tail, "")
}

// escape makes s printable on one line: newlines, tabs, control bytes,
// backslashes, invalid UTF-8 and unprintable runes become escapes.
func escape(s string) string {
	if plainASCII(s) {
		// Most output: nothing to escape, nothing to copy.
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// plainASCII reports whether s is printable ASCII without a backslash, which
// escape leaves as it is.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// usageText shows the CPU time and peak memory of a job, "-" for what the
// server cannot tell.
func usageText(u *api.Usage) (cpu, mem string) {
	cpu, mem = "-", "-"
	if u == nil {
		return
	}
	if u.CPUSeconds != nil {
		cpu = fmt.Sprintf("%.2fs", *u.CPUSeconds)
	}
	if u.MemoryPeakBytes != nil {
		mem = sizeText(*u.MemoryPeakBytes)
	}
	return
}

// sizeText shows a byte count in the largest binary unit that keeps it
// at 1 or more, as --max-output takes them.
func sizeText(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			return fmt.Sprintf("%.1f%s", float64(n)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}

func exitText(code *int) string {
	if code == nil {
		return "-"
	}
	return fmt.Sprint(*code)
}

// agoText says how long before now t was, as people say it: "2 minutes
// ago", in the largest unit that is at least 1.
func agoText(t, now time.Time) string {
	d := now.Sub(t)
	for _, u := range []struct {
		name string
		size time.Duration
	}{{"day", 24 * time.Hour}, {"hour", time.Hour}, {"minute", time.Minute}} {
		if d >= u.size {
			return plural(int(d/u.size), u.name) + " ago"
		}
	}
	if d < time.Second {
		return "just now"
	}
	return plural(int(d/time.Second), "second") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// runTimeText is how long a job ran, or has been running until now: whole
// seconds past a minute (1m20s), milliseconds below; "-" for a job that
// never started.
func runTimeText(j api.Job, now time.Time) string {
	if j.StartedAt == nil {
		return "-"
	}
	end := now
	if j.EndedAt != nil {
		end = *j.EndedAt
	}
	d := end.Sub(*j.StartedAt)
	if d >= time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

// commandWidth caps the COMMAND column of rw ls -l: tabwriter pads every
// line to the widest cell, so one job with long arguments would otherwise
// widen the whole table.
const commandWidth = 40

// commandText shows a job's path and arguments as a shell would need them,
// escaped as output is, in at most width characters: a longer command
// keeps its start, where the program is, and ends in "...". It is cut
// before it is escaped, so that an escape or a quote is kept whole or not
// at all.
func commandText(j api.Job, width int) string {
	pieces := escapedRunes(nil, j.FilePath, false)
	for _, a := range j.Args {
		pieces = append(pieces, " ")
		quote := a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_./=:,+@%", r)
		})
		if quote {
			pieces = append(pieces, "'")
		}
		pieces = escapedRunes(pieces, a, quote)
		if quote {
			pieces = append(pieces, "'")
		}
	}
	total := 0
	for _, p := range pieces {
		total += utf8.RuneCountInString(p)
	}
	if total <= width {
		return strings.Join(pieces, "")
	}
	room := width - len(ellipsis)
	var b strings.Builder
	for _, p := range pieces {
		if room -= utf8.RuneCountInString(p); room < 0 {
			break
		}
		b.WriteString(p)
	}
	return b.String() + ellipsis
}

// escapedRunes appends to pieces each rune of s, escaped; in an argument
// in single quotes, a single quote becomes the shell's close, escaped
// quote, open sequence, as one piece.
func escapedRunes(pieces []string, s string, quoted bool) []string {
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		if quoted && s[i] == '\'' {
			pieces = append(pieces, `'\''`)
		} else {
			pieces = append(pieces, escape(s[i:i+n]))
		}
		i += n
	}
	return pieces
}
