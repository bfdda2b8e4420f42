//go:build linux

package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countingReaderAt counts the bytes a tail search reads.
type countingReaderAt struct {
	r    io.ReaderAt
	read int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

// naiveTail is the last lines lines of s, split the simple way.
func naiveTail(s string, lines int) string {
	if lines == 0 {
		return ""
	}
	body, final := strings.CutSuffix(s, "\n")
	parts := strings.Split(body, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	out := strings.Join(parts, "\n")
	if final {
		out += "\n"
	}
	return out
}

func TestTailLinesStart(t *testing.T) {
	outputs := map[string]string{
		"empty":            "",
		"one newline":      "\n",
		"no final newline": "a\nb\nc",
		"final newline":    "a\nb\nc\n",
		"blank lines":      "a\n\n\nb\n\n",
		"one long line":    strings.Repeat("x", 100),
		"long lines":       strings.Repeat("x", 30) + "\n" + strings.Repeat("y", 17) + "\n" + strings.Repeat("z", 9),
	}
	// Blocks smaller than a line, of one byte, and larger than the output
	// all find the same start.
	for name, out := range outputs {
		for _, block := range []int{1, 2, 7, 64, 1 << 16} {
			for lines := range 8 {
				start, err := tailLinesStart(strings.NewReader(out), int64(len(out)), int64(lines), block)
				if err != nil {
					t.Fatalf("%s, block %d, %d lines: %v", name, block, lines, err)
				}
				if got, want := out[start:], naiveTail(out, lines); got != want {
					t.Errorf("%s, block %d, %d lines: got %q, want %q", name, block, lines, got, want)
				}
			}
		}
	}
}

// TestTailLinesStartReadsOnlyTheEnd searches the last 10 lines of 20 MiB of
// numbered lines and checks both the lines and that the search read no
// more than the blocks holding them.
func TestTailLinesStartReadsOnlyTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "output")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	var lines int
	for size := 0; size < 20<<20; lines++ {
		n, _ := fmt.Fprintf(w, "line %08d of numbered output\n", lines)
		size += n
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r := &countingReaderAt{r: f}
	start, err := tailLinesStart(r, info.Size(), 10, tailBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, info.Size()-start)
	if _, err := f.ReadAt(got, start); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := lines - 10; i < lines; i++ {
		fmt.Fprintf(&want, "line %08d of numbered output\n", i)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the last 10 lines:\ngot  %q\nwant %q", got, want.Bytes())
	}
	// One byte to look at the final newline, and one block.
	if limit := int64(tailBlockSize + 1); r.read > limit {
		t.Errorf("read %d bytes of %d to find the last 10 lines, want at most %d", r.read, info.Size(), limit)
	}
}
