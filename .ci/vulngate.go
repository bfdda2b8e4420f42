//go:build ignore

// vulngate reads govulncheck's JSON stream (-format json) on stdin, prints
// the vulnerabilities rw's code reaches, and decides what fails CI:
//
//   - a reachable vulnerability in a module rw requires fails: the fix is a
//     version bump in go.mod, which this repository controls;
//   - a reachable vulnerability in the standard library is printed as a
//     warning with the Go release that fixes it: the fix is the Go that
//     builds rw, which each machine brings (CI's included) and this
//     repository cannot change. docs/security.md says which Go to build
//     deployed servers with.
//
// Findings in code that is imported but never called are counted, not
// listed: they cannot be reached from rw.
//
// Usage: govulncheck -format json ./... | go run .ci/vulngate.go
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type message struct {
	Config *struct {
		GoVersion string `json:"go_version"`
	} `json:"config"`
	Finding *finding `json:"finding"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rw: error:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	goVersion := "this Go"
	reached := map[string]finding{} // by OSV id, the first trace kept
	unreached := map[string]bool{}
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("reading govulncheck's output: %v", err)
		}
		if m.Config != nil && m.Config.GoVersion != "" {
			goVersion = m.Config.GoVersion
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		// A trace whose innermost frame names a function is a call path
		// from rw's code; one that names only a package or module is not.
		if f.Trace[0].Function == "" {
			unreached[f.OSV] = true
			continue
		}
		if _, ok := reached[f.OSV]; !ok {
			reached[f.OSV] = *f
		}
	}
	for id := range reached {
		delete(unreached, id)
	}

	var stdlib, modules []finding
	for _, f := range reached {
		if f.Trace[0].Module == "stdlib" || f.Trace[0].Module == "toolchain" {
			stdlib = append(stdlib, f)
		} else {
			modules = append(modules, f)
		}
	}
	byID := func(s []finding) {
		sort.Slice(s, func(i, j int) bool { return s[i].OSV < s[j].OSV })
	}
	byID(stdlib)
	byID(modules)

	fmt.Fprintf(out, "%d vulnerabilities reached from rw's code: %d in required modules, %d in the standard library of %s; %d more in code rw imports but never calls\n",
		len(reached), len(modules), len(stdlib), goVersion, len(unreached))
	for _, f := range modules {
		fmt.Fprintf(out, "  %s in %s@%s, fixed in %s: %s\n", f.OSV, f.Trace[0].Module, f.Trace[0].Version, orNone(f.FixedVersion), where(f))
	}
	if len(stdlib) > 0 {
		fixed := ""
		for _, f := range stdlib {
			fmt.Fprintf(out, "  %s in the standard library, fixed in %s: %s\n", f.OSV, orNone(f.FixedVersion), where(f))
			if later(f.FixedVersion, fixed) {
				fixed = f.FixedVersion
			}
		}
		fmt.Fprintf(os.Stderr, "rw: warning: %s, which built this, has %d vulnerabilities that rw's code reaches\n", goVersion, len(stdlib))
		fmt.Fprintf(os.Stderr, "rw: hint: build servers you deploy with Go %s or later (docs/security.md)\n", strings.TrimPrefix(orNone(fixed), "v"))
	}
	if len(modules) > 0 {
		return fmt.Errorf("%d required modules have vulnerabilities that rw's code reaches (above); move each to the version it is fixed in (go get MODULE@VERSION, go mod tidy), then run bash .ci/vulncheck again", len(modules))
	}
	return nil
}

// where names the function in rw's code that leads to the vulnerable one,
// and the vulnerable function.
func where(f finding) string {
	name := func(fr frame) string {
		s := fr.Package + "."
		if fr.Receiver != "" {
			s += strings.TrimPrefix(fr.Receiver, "*") + "."
		}
		return s + fr.Function
	}
	last := f.Trace[len(f.Trace)-1]
	if len(f.Trace) == 1 {
		return name(last)
	}
	return name(last) + " calls " + name(f.Trace[0])
}

func orNone(v string) string {
	if v == "" {
		return "no release yet"
	}
	return v
}

// later reports whether Go or module version a sorts after b, comparing
// their dot-separated numbers ("v1.26.10" after "v1.26.9").
func later(a, b string) bool {
	if b == "" {
		return a != ""
	}
	pa := strings.Split(strings.TrimPrefix(strings.TrimPrefix(a, "go"), "v"), ".")
	pb := strings.Split(strings.TrimPrefix(strings.TrimPrefix(b, "go"), "v"), ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			return x > y
		}
	}
	return len(pa) > len(pb)
}
