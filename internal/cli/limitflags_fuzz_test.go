//go:build linux

package cli

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rw-project/rw/internal/api"
)

// FuzzParseBytes checks the sizes of --memory, --io-read, --io-write and
// --max-output: what is accepted is a byte count from 0 (from 1 for
// parseSize), a whole number of the unit given, and reads back the same
// written in bytes; what is refused says which text it refused.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{
		"0", "100", "100B", "64KiB", "512MiB", "1GiB", " 1 GiB", "1.5GiB", "-1", "+1", "1e3", "1KB", "1kib", "1 KiB ",
		"4294967296GiB", "4294967295GiB", "9223372036854775807", "9223372036854775807B", "4611686018427387904",
		"0x10", "", "GiB", "B", "١٢", "1\x00", "NaN", "Inf",
	} {
		f.Add(s)
	}
	units := map[string]int64{"GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		size, serr := parseSize(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("%q: error %q does not quote the input", s, err)
			}
			if serr == nil {
				t.Fatalf("%q: a size (%d) but not a byte count", s, size)
			}
			return
		}
		if n < 0 || n > 1<<62 {
			t.Fatalf("%q: %d bytes", s, n)
		}
		for suffix, mult := range units {
			if strings.HasSuffix(s, suffix) && n%mult != 0 {
				t.Fatalf("%q: %d is not a whole number of %s", s, n, suffix)
			}
		}
		if back, err := parseBytes(strconv.FormatInt(n, 10)); err != nil || back != n {
			t.Fatalf("%q: %d bytes, which reads back as %d (%v)", s, n, back, err)
		}
		if (serr == nil) != (n > 0) || serr == nil && size != n {
			t.Fatalf("%q: %d bytes, but as a size %d, %v", s, n, size, serr)
		}
	})
}

// FuzzParseLimit checks every job limit flag: what is accepted is a finite
// limit from 0 in the one field the flag sets ("NaN" and "Inf", which
// strconv.ParseFloat reads, were accepted for --cpus); what is refused
// quotes the value.
func FuzzParseLimit(f *testing.F) {
	for _, name := range []string{"memory", "cpus", "pids", "io-read", "io-write", "other"} {
		for _, v := range []string{"0", "1", "0.5", "64", "256MiB", "-1", "NaN", "Inf", "-Inf", "+Inf", "1e400", "1e-400", "0x1p-2", "", " 2", "9223372036854775808"} {
			f.Add(name, v)
		}
	}
	f.Fuzz(func(t *testing.T, name, v string) {
		var l api.Limits
		known := slices.Contains([]string{"memory", "cpus", "pids", "io-read", "io-write"}, name)
		if err := parseLimit(&l, name, v); err != nil {
			if known && !strings.Contains(err.Error(), strconv.Quote(v)) {
				t.Fatalf("%s=%q: error %q does not quote the value", name, v, err)
			}
			return
		}
		fields := map[string]float64{"memory": float64(l.MemoryBytes), "cpus": l.CPUs, "pids": float64(l.Pids),
			"io-read": float64(l.IOReadBytesPerSec), "io-write": float64(l.IOWriteBytesPerSec)}
		if _, ok := fields[name]; !ok {
			t.Fatalf("%s=%q: accepted a flag that is no limit", name, v)
		}
		for field, x := range fields {
			if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				t.Fatalf("%s=%q: %s is %v", name, v, field, x)
			}
			if field != name && x != 0 {
				t.Fatalf("%s=%q: set %s too, to %v", name, v, field, x)
			}
		}
	})
}

// FuzzParseLifetime checks --token-lifetime: what is accepted is a positive
// duration that reads back the same from Go's own notation for it.
func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"30d", "90d", "12h", "1d12h", "0d", "0", "-1d", "1d-25h", "36500d", "36501d", "36500d2562047h",
		"d", "1dd", "1d1d", "h", "", "1.5d", "+1d", "1e3d", "2562047h47m16.854775807s", "9223372036854775807ns", "1d\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseLifetime(s)
		if err != nil {
			return
		}
		if d <= 0 {
			t.Fatalf("%q: accepted as %v", s, d)
		}
		if back, err := parseLifetime(d.String()); err != nil || back != d {
			t.Fatalf("%q: %v, which reads back as %v (%v)", s, d, back, err)
		}
	})
}
