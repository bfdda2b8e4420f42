//go:build linux

package server

import (
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rw-project/rw/internal/api"
)

// appendJob appends j as writeJSON's encoder (encoding/json, without HTML
// escaping) writes it, the final newline included, byte for byte. A job
// is most of what the API answers, and encoding/json's reflection, and
// its checking and compacting of each time's MarshalJSON, cost more of a
// keep-alive GET /query?id=N than anything else the server does. ok is
// false for a job encoding/json refuses (a time outside the years 0 to
// 9999, a CPUs that is not a finite number): the caller falls back to it,
// so that such a job is refused as before. TestAppendJobMatchesEncodingJSON
// holds the two together, and fails when api.Job gains a field.
func appendJob(b []byte, j *api.Job) (_ []byte, ok bool) {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, j.ID, 10)
	b = append(b, `,"owner":`...)
	b = appendJSONString(b, j.Owner)
	b = append(b, `,"filePath":`...)
	b = appendJSONString(b, j.FilePath)
	b = append(b, `,"args":`...)
	if j.Args == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range j.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, j.Status)
	if j.QueuePosition != nil {
		b = append(b, `,"queuePosition":`...)
		b = strconv.AppendInt(b, int64(*j.QueuePosition), 10)
	}
	b = append(b, `,"exitCode":`...)
	b = appendIntPtr(b, j.ExitCode)
	if j.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, j.Reason)
	}
	if j.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, j.Error)
	}
	b = append(b, `,"output":`...)
	if j.Output == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *j.Output)
	}
	b = append(b, `,"outputTruncated":`...)
	b = strconv.AppendBool(b, j.OutputTruncated)
	if j.OutputError != "" {
		b = append(b, `,"outputError":`...)
		b = appendJSONString(b, j.OutputError)
	}
	b = append(b, `,"createdAt":`...)
	if b, ok = appendJSONTime(b, j.CreatedAt); !ok {
		return b, false
	}
	for _, t := range []struct {
		name string
		t    *time.Time
	}{{`,"startedAt":`, j.StartedAt}, {`,"endedAt":`, j.EndedAt}} {
		b = append(b, t.name...)
		if t.t == nil {
			b = append(b, "null"...)
		} else if b, ok = appendJSONTime(b, *t.t); !ok {
			return b, false
		}
	}
	l := j.Limits
	b = append(b, `,"limits":{"memoryBytes":`...)
	b = strconv.AppendInt(b, l.MemoryBytes, 10)
	b = append(b, `,"cpus":`...)
	if b, ok = appendJSONFloat(b, l.CPUs); !ok {
		return b, false
	}
	b = append(b, `,"pids":`...)
	b = strconv.AppendInt(b, l.Pids, 10)
	b = append(b, `,"ioReadBytesPerSec":`...)
	b = strconv.AppendInt(b, l.IOReadBytesPerSec, 10)
	b = append(b, `,"ioWriteBytesPerSec":`...)
	b = strconv.AppendInt(b, l.IOWriteBytesPerSec, 10)
	b = append(b, '}')
	if j.Timeout != "" {
		b = append(b, `,"timeout":`...)
		b = appendJSONString(b, j.Timeout)
	}
	b = append(b, `,"isolated":`...)
	b = strconv.AppendBool(b, j.Isolated)
	b = append(b, `,"usage":`...)
	if u := j.Usage; u == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"cpuSeconds":`...)
		if u.CPUSeconds == nil {
			b = append(b, "null"...)
		} else if b, ok = appendJSONFloat(b, *u.CPUSeconds); !ok {
			return b, false
		}
		b = append(b, `,"memoryPeakBytes":`...)
		if u.MemoryPeakBytes == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, *u.MemoryPeakBytes, 10)
		}
		b = append(b, '}')
	}
	return append(b, "}\n"...), true
}

func appendIntPtr(b []byte, p *int) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*p), 10)
}

// appendJSONTime appends t as time.Time's MarshalJSON does; ok is false
// where MarshalJSON fails.
func appendJSONTime(b []byte, t time.Time) (_ []byte, ok bool) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	// The checks of MarshalJSON: a year of four digits, a zone's hours
	// below 24.
	switch {
	case b[n0+len("9999")] != '-':
		return b, false
	case b[len(b)-1] != 'Z':
		c := b[len(b)-len("Z07:00")]
		zone := b[len(b)-len("07:00"):]
		if '0' <= c && c <= '9' || 10*(zone[0]-'0')+(zone[1]-'0') >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}

// appendJSONFloat appends f as encoding/json does a float64; ok is false
// for NaN and the infinities, which it refuses.
func appendJSONFloat(b []byte, f float64) (_ []byte, ok bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 is written e-9.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONString appends s quoted as encoding/json does without HTML
// escaping: the quote, the backslash and control characters escaped,
// invalid UTF-8 as U+FFFD, and U+2028 and U+2029 escaped for JSONP.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jobBuffers are the buffers jobs are encoded into, for reuse.
var jobBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledBuffer is the largest buffer given back to jobBuffers: a job
// with its whole output tail, escaped, may take several times that, and
// a pool of such buffers would hold memory for nothing.
const maxPooledBuffer = 16 << 10
