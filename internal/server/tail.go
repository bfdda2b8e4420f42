//go:build linux

package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// tailBlockSize is how much of the output tailLinesStart reads at a time,
// from the end backwards.
const tailBlockSize = 64 << 10

// tailLinesStart returns the offset at which the last lines lines of the
// first size bytes of r begin, reading r backwards from size in blocks of
// block bytes, so that a long output is never read whole. A last line
// without its newline counts as a line, as tail(1) has it; a newline that
// ends the output ends the last line and starts none. With fewer lines than
// asked it returns 0; with lines 0, size.
func tailLinesStart(r io.ReaderAt, size, lines int64, block int) (int64, error) {
	if lines <= 0 || size <= 0 {
		return max(size, 0), nil
	}
	buf := make([]byte, block)
	// end is where the unread part of the output ends. A final newline
	// ends the last line: it is not the boundary before it.
	end := size
	var last [1]byte
	if _, err := r.ReadAt(last[:], size-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		end--
	}
	var found int64
	for end > 0 {
		start := max(end-int64(block), 0)
		b := buf[:end-start]
		if n, err := r.ReadAt(b, start); n < len(b) {
			return 0, fmt.Errorf("read output at %d: %w", start, err)
		}
		for i := len(b); ; {
			if i = bytes.LastIndexByte(b[:i], '\n'); i < 0 {
				break
			}
			if found++; found == lines {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// outputAt reads one job's output at any offset through the Pool, whose
// readers read forward only: each ReadAt opens a reader at its offset. It
// serves the few blocks a tail search reads, not a whole output.
type outputAt struct {
	ctx  context.Context
	pool Pool
	id   int64
}

// ReadAt implements io.ReaderAt.
func (o outputAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := o.pool.Follow(o.ctx, o.id, off, false)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.ReadFull(rc, p)
}
