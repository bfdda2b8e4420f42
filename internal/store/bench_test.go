package store

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkJobLife stores what a job's life writes: Create, Put(running),
// Put(final), each one committed with its fsync, from 1 and 8 goroutines,
// with commits shared between concurrent writers (Batch, the default) and
// without (NoBatch); BoltBatch shares them through bbolt's DB.Batch
// instead, and NoSync is the default without fsync, for reference. jobs/s
// is the rate of whole lives; commits/s the rate of writes.
func BenchmarkJobLife(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts Options
	}{
		{"Batch", Options{}},
		{"NoBatch", Options{NoBatch: true}},
		{"BoltBatch", Options{boltBatch: true}},
		// Not durable: what the rate would be if commits cost no fsync.
		{"NoSync", Options{noSync: true}},
	} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode.name, writers), func(b *testing.B) {
				s, _ := openTemp(b, mode.opts)
				start := time.Now()
				b.ResetTimer()
				var wg sync.WaitGroup
				jobs := make(chan struct{})
				for range writers {
					wg.Go(func() {
						for range jobs {
							jobLife(b, s)
						}
					})
				}
				for range b.N {
					jobs <- struct{}{}
				}
				close(jobs)
				wg.Wait()
				b.StopTimer()
				secs := time.Since(start).Seconds()
				b.ReportMetric(float64(b.N)/secs, "jobs/s")
				b.ReportMetric(float64(3*b.N)/secs, "commits/s")
			})
		}
	}
}

// jobLife writes the three records of one job's life.
func jobLife(b *testing.B, s *Store) {
	r, err := s.Create(queued("alice"))
	if err != nil {
		b.Error(err)
		return
	}
	r.Status, r.PID, r.StartedAt = "running", 1000, base
	if err := s.Put(r); err != nil {
		b.Error(err)
		return
	}
	if err := s.Put(ended(r, StatusFinished, base.Add(time.Second), 18)); err != nil {
		b.Error(err)
	}
}

// BenchmarkOpen opens a store of n final records: Open reads and checks
// every page before it returns, so this is what a server's start pays.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s, path := openTemp(b, Options{})
			fill(b, s, n)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s, err := Open(path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			if fi, err := os.Stat(path); err == nil {
				b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
			}
		})
	}
}

// fill creates n final records, a thousand to a transaction, which is
// quicker than Create's commit per record.
func fill(b *testing.B, s *Store, n int) {
	code, cpu, peak := 0, 0.5, int64(8<<20)
	for done := 0; done < n; {
		err := s.db.Update(func(tx *bolt.Tx) error {
			jobs := bucket(tx, bucketJobs)
			for i := 0; i < 1000 && done < n; i, done = i+1, done+1 {
				id, err := jobs.NextSequence()
				if err != nil {
					return err
				}
				r := ended(queued("alice"), StatusFinished, base.Add(time.Duration(id)*time.Second), 18)
				r.ID, r.ExitCode, r.CPUSeconds, r.MemoryPeakBytes = int64(id), &code, &cpu, &peak
				v, err := encode(r)
				if err != nil {
					return err
				}
				if err := jobs.Put(idKey(r.ID), v); err != nil {
					return err
				}
				sum := summarize(r)
				if err := reindex(tx, r.ID, nil, &sum); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
