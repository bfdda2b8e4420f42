//go:build linux

package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// row is one line of the table: what rw took, what its floor took, and the
// goal for their ratio (or for rw's figure alone, where there is no floor).
type row struct {
	path      string
	rw, floor string
	ratio     float64 // 0 when there is no floor
	goal      string
	met       string // "yes", "no" or "-" when the goal is not a bound
}

// ratioAtMost and ratioAtLeast make a row whose goal bounds the ratio.
func ratioAtMost(path, rw, floor string, ratio, goal float64) row {
	return row{path, rw, floor, ratio, fmt.Sprintf("<= %.2gx", goal), yesNo(ratio <= goal)}
}

func ratioAtLeast(path, rw, floor string, ratio, goal float64) row {
	return row{path, rw, floor, ratio, fmt.Sprintf(">= %.2gx", goal), yesNo(ratio >= goal)}
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\trw\tfloor\tratio\tgoal\tmet?")
	for _, r := range rows {
		ratio := "-"
		if r.ratio != 0 {
			ratio = fmt.Sprintf("%.2fx", r.ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.path, r.rw, r.floor, ratio, r.goal, r.met)
	}
	tw.Flush()
}

func ms(d float64) string     { return fmt.Sprintf("%.2f ms", d) }
func perSec(r float64) string { return fmt.Sprintf("%.0f/s", r) }
func mbps(r float64) string   { return fmt.Sprintf("%.0f MB/s", r/1e6) }
func mib(kb int64) string     { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }
