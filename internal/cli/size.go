package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// parseBytes reads a byte count, 0 included, with an optional binary unit:
// 512MiB, 64KiB, 1GiB, 100B or 100.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}, {"", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n < 0 || n > (1<<62)/u.mult {
			break
		}
		return n * u.mult, nil
	}
	return 0, fmt.Errorf("%q is not a size: use a number of bytes, or KiB, MiB, GiB", s)
}
