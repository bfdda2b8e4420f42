//go:build linux

package server

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
)

// Bits of FuzzAppendJob's set: which of a job's pointers are not nil,
// whether Args is nil, and its booleans.
const (
	fuzzQueuePosition = 1 << iota
	fuzzExitCode
	fuzzOutput
	fuzzStartedAt
	fuzzEndedAt
	fuzzUsage
	fuzzCPUSeconds
	fuzzMemoryPeak
	fuzzArgsNil
	fuzzTruncated
	fuzzIsolated
)

// FuzzAppendJob checks appendJob against encoding/json on jobs built from
// the fuzzer's strings (any bytes: invalid UTF-8, control characters,
// <>&, U+2028), integers, floats (-0, NaN, the infinities, the huge and
// the tiny), pointers nil or not, Args nil, empty or not, and times of
// any year and zone. Where encoding/json writes the job, appendJob must
// write the same bytes; where it refuses it, appendJob must hand it back
// (writeJob then falls back to encoding/json, which refuses it as before).
//
// The reference is what writeJSON wrote before appendJob: an Encoder
// with SetEscapeHTML(false), which ends the value with a newline. The
// one intended difference from json.Marshal is that: Marshal also
// escapes <, > and & (as \u003c, \u003e, \u0026), which writeJSON never
// did since a JSON body is no HTML. The target checks that too, by
// escaping appendJob's bytes with json.HTMLEscape and comparing them
// with Marshal's.
func FuzzAppendJob(f *testing.F) {
	type seed struct {
		id                                              int64
		owner, filePath, args, status, reason, errText  string
		output, outputError, timeout                    string
		set                                             uint16
		queuePosition, exitCode                         int
		memory, pids, ioRead, ioWrite, memoryPeak       int64
		cpus, cpuSeconds                                float64
		created, createdNanos, started, ended, zoneSecs int64
	}
	for _, s := range []seed{
		{id: 1, owner: "alice", filePath: "add.exe", args: "8\x0010", status: "finished", reason: "exited",
			output: "18\n", set: fuzzExitCode | fuzzOutput | fuzzStartedAt | fuzzEndedAt | fuzzUsage | fuzzCPUSeconds | fuzzMemoryPeak,
			cpus: 0.5, cpuSeconds: 0.001, memoryPeak: 1 << 20, created: 1795000000, createdNanos: 123456789, started: 1795000001, ended: 1795000002},
		{set: fuzzArgsNil},
		{owner: "<b>&amp;</b>", args: "\u2028\x00\u2029", output: "bad \xff\xfe utf-8 \xe2\x82 \xed\xa0\x80", set: fuzzOutput | fuzzQueuePosition,
			errText: "\x00\x01\x1f\x7f\"\\", cpus: math.Copysign(0, -1), queuePosition: -1},
		{cpus: 1e21, cpuSeconds: 9.99e-7, set: fuzzUsage | fuzzCPUSeconds, zoneSecs: 5*3600 + 30*60 + 15},
		{cpus: math.SmallestNonzeroFloat64, cpuSeconds: math.MaxFloat64, set: fuzzUsage | fuzzCPUSeconds | fuzzIsolated | fuzzTruncated},
		{cpus: math.NaN()},
		{cpuSeconds: math.Inf(-1), set: fuzzUsage | fuzzCPUSeconds},
		{created: 253402300800}, // year 10000
		{created: -62135596801}, // year 0
		{created: 253402300799, zoneSecs: -24 * 3600},
		{ended: 0, zoneSecs: 24*3600 - 1, set: fuzzEndedAt},
		{id: math.MinInt64, memory: math.MaxInt64, exitCode: math.MinInt64, set: fuzzExitCode, timeout: "1h30m"},
	} {
		f.Add(s.id, s.owner, s.filePath, s.args, s.status, s.reason, s.errText, s.output, s.outputError, s.timeout, s.set,
			s.queuePosition, s.exitCode, s.memory, s.pids, s.ioRead, s.ioWrite, s.memoryPeak, s.cpus, s.cpuSeconds,
			s.created, s.createdNanos, s.started, s.ended, s.zoneSecs)
	}
	f.Fuzz(func(t *testing.T, id int64, owner, filePath, args, status, reason, errText, output, outputError, timeout string, set uint16,
		queuePosition, exitCode int, memory, pids, ioRead, ioWrite, memoryPeak int64, cpus, cpuSeconds float64,
		created, createdNanos, started, ended, zoneSecs int64) {
		// Offsets beyond a day are no zone's; time.FixedZone takes an
		// int, and the formats write hours of two digits at most.
		zone := time.FixedZone("fuzz", int(zoneSecs%(100*3600)))
		at := func(sec int64) time.Time { return time.Unix(sec, createdNanos%1e9).In(zone) }
		j := api.Job{
			ID: id, Owner: owner, FilePath: filePath, Status: status, Reason: reason, Error: errText,
			OutputTruncated: set&fuzzTruncated != 0, OutputError: outputError, CreatedAt: at(created),
			Limits:   api.Limits{MemoryBytes: memory, CPUs: cpus, Pids: pids, IOReadBytesPerSec: ioRead, IOWriteBytesPerSec: ioWrite},
			Timeout:  timeout,
			Isolated: set&fuzzIsolated != 0,
		}
		if set&fuzzArgsNil == 0 {
			j.Args = []string{}
			if args != "" {
				j.Args = strings.Split(args, "\x00")
			}
		}
		if set&fuzzQueuePosition != 0 {
			j.QueuePosition = &queuePosition
		}
		if set&fuzzExitCode != 0 {
			j.ExitCode = &exitCode
		}
		if set&fuzzOutput != 0 {
			j.Output = &output
		}
		if set&fuzzStartedAt != 0 {
			tm := at(started)
			j.StartedAt = &tm
		}
		if set&fuzzEndedAt != 0 {
			tm := at(ended)
			j.EndedAt = &tm
		}
		if set&fuzzUsage != 0 {
			j.Usage = &api.Usage{}
			if set&fuzzCPUSeconds != 0 {
				j.Usage.CPUSeconds = &cpuSeconds
			}
			if set&fuzzMemoryPeak != 0 {
				j.Usage.MemoryPeakBytes = &memoryPeak
			}
		}

		got, ok := appendJob(nil, &j)
		want, err := encodeJob(t, j)
		switch {
		case err != nil && ok:
			t.Fatalf("encoding/json refuses the job (%v), appendJob wrote %s", err, got)
		case err == nil && !ok:
			t.Fatalf("appendJob refused a job encoding/json writes as %s", want)
		case err != nil:
			return
		case !bytes.Equal(got, want):
			t.Fatalf("\n got %q\nwant %q", got, want)
		}
		marshalled, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("json.Marshal refuses a job the Encoder writes: %v", err)
		}
		var escaped bytes.Buffer
		json.HTMLEscape(&escaped, got)
		if want := append(marshalled, '\n'); !bytes.Equal(escaped.Bytes(), want) {
			t.Fatalf("HTML-escaped\n got %q\nwant %q", escaped.Bytes(), want)
		}
	})
}
