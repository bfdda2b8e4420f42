package client

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
)

// BenchmarkListDecode measures decoding the answer to GET /query?tail=256
// for 1 000 finished jobs, as a server sends it: whole into api.JobList
// (what rw ls did), one job at a time (EachJob), and one brief job at a
// time (EachJob with Brief, what rw ls does for its one-line format).
func BenchmarkListDecode(b *testing.B) {
	body := listBody(b, 1000)
	b.Run("whole", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var list api.JobList
			if err := json.NewDecoder(bytes.NewReader(body)).Decode(&list); err != nil || len(list.Jobs) != 1000 {
				b.Fatal(len(list.Jobs), err)
			}
		}
	})
	for _, bc := range []struct {
		name  string
		brief bool
	}{{"streamed", false}, {"brief", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				n := 0
				err := readJobList(json.NewDecoder(bytes.NewReader(body)), bc.brief, func(api.Job) error {
					n++
					return nil
				})
				if err != nil || n != 1000 {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// listBody is a list of n finished jobs as the server writes it.
func listBody(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteString(`{"jobs":[`)
	t0 := time.Date(2026, 11, 28, 23, 36, 14, 19792063, time.UTC)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		started, ended := t0.Add(2*time.Millisecond), t0.Add(8*time.Millisecond)
		code, out, cpu, peak := 0, "18\n", 0.004, int64(1<<20)
		job := api.Job{
			ID: int64(i + 1), Owner: "alice", FilePath: "add.exe", Args: []string{"8", "10"},
			Status: api.StatusFinished, ExitCode: &code, Reason: "exited", Output: &out,
			CreatedAt: t0, StartedAt: &started, EndedAt: &ended,
			Limits: api.Limits{MemoryBytes: 512 << 20, CPUs: 2, Pids: 1024},
			Usage:  &api.Usage{CPUSeconds: &cpu, MemoryPeakBytes: &peak},
		}
		if err := enc.Encode(job); err != nil {
			b.Fatal(err)
		}
	}
	buf.WriteString("]}\n")
	return buf.Bytes()
}
