package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	s, _ := openTemp(t, Options{})
	code, cpu, peak := 137, 1.25, int64(48<<20)
	want := Record{
		Owner:           "alice",
		Path:            "sub/job.sh",
		Args:            []string{"-x", "", "two words"},
		Status:          StatusFailed,
		ExitCode:        &code,
		Reason:          "oom-killed",
		Error:           "the kernel's OOM killer killed a process of the job",
		CreatedAt:       base,
		StartedAt:       base.Add(time.Millisecond),
		EndedAt:         base.Add(time.Minute),
		Limits:          Limits{MemoryBytes: 64 << 20, CPUs: 0.25, Pids: 16, IOReadBytesPerSec: 1 << 20, IOWriteBytesPerSec: 2 << 20},
		Timeout:         90 * time.Second,
		Isolated:        true,
		PID:             4242,
		OutputSize:      1 << 20,
		OutputTruncated: true,
		OutputError:     "removed by retention",
		CPUSeconds:      &cpu,
		MemoryPeakBytes: &peak,
	}
	created := mustCreate(t, s, want)
	if created.ID != 1 {
		t.Fatalf("first id: got %d, want 1", created.ID)
	}
	want.ID = created.ID
	for _, when := range []string{"after Create", "after reopening"} {
		if when == "after reopening" {
			s = reopen(t, s)
		}
		got, err := s.Get(want.ID)
		if err != nil {
			t.Fatalf("Get %s: %v", when, err)
		}
		if !equalRecords(got, want) {
			t.Errorf("Get %s:\n got %+v\nwant %+v", when, got, want)
		}
	}
}

// equalRecords compares records with times compared by Equal.
func equalRecords(a, b Record) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.StartedAt.Equal(b.StartedAt) || !a.EndedAt.Equal(b.EndedAt) {
		return false
	}
	a.CreatedAt, a.StartedAt, a.EndedAt = time.Time{}, time.Time{}, time.Time{}
	b.CreatedAt, b.StartedAt, b.EndedAt = time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestTransitions(t *testing.T) {
	s, _ := openTemp(t, Options{})
	r := mustCreate(t, s, queued("alice"))
	r.Status, r.PID, r.StartedAt = "running", 100, base.Add(time.Second)
	mustPut(t, s, r)
	if got, _ := s.Get(r.ID); got.Status != "running" || got.PID != 100 {
		t.Fatalf("after Put(running): got status %q pid %d", got.Status, got.PID)
	}
	r = ended(r, StatusFinished, base.Add(2*time.Second), 18)
	mustPut(t, s, r)
	got, err := s.Get(r.ID)
	if err != nil || !equalRecords(got, r) {
		t.Fatalf("after Put(finished): got %+v, %v; want %+v", got, err, r)
	}
}

func TestNotFound(t *testing.T) {
	s, _ := openTemp(t, Options{})
	r := mustCreate(t, s, queued("alice"))
	if err := s.Delete(r.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"Get deleted", func() error { _, err := s.Get(r.ID); return err }},
		{"Get never given", func() error { _, err := s.Get(99); return err }},
		{"Put deleted", func() error { return s.Put(r) }},
		{"Put never given", func() error { r := r; r.ID = 99; return s.Put(r) }},
		{"Delete deleted", func() error { return s.Delete(r.ID) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
	}
	// A Put of a deleted id must not bring the record back.
	if got := ids(t, s, 0); len(got) != 0 {
		t.Errorf("records after the failed Puts: %v, want none", got)
	}
}

func TestIDsNeverReused(t *testing.T) {
	s, _ := openTemp(t, Options{})
	var last int64
	next := func() int64 {
		t.Helper()
		id := mustCreate(t, s, queued("alice")).ID
		if id <= last {
			t.Fatalf("id %d after %d: ids must grow", id, last)
		}
		last = id
		return id
	}
	for range 3 {
		next()
	}
	// Deleting the newest record must not make its id free again.
	if err := s.Delete(last); err != nil {
		t.Fatal(err)
	}
	if id := next(); id != 4 {
		t.Errorf("after deleting 3: got id %d, want 4", id)
	}
	if err := s.Delete(last); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if id := next(); id != 5 {
		t.Errorf("after deleting 4 and reopening: got id %d, want 5", id)
	}
	if got, want := ids(t, s, 0), []int64{1, 2, 5}; !slices.Equal(got, want) {
		t.Errorf("ids: got %v, want %v", got, want)
	}
}

func TestScan(t *testing.T) {
	s, _ := openTemp(t, Options{})
	// More than two pages, so that Scan goes from page to page.
	n := 2*pageSize + 10
	for range n {
		mustCreate(t, s, queued("alice"))
	}
	// Deleted records leave gaps that Scan must step over.
	for _, id := range []int64{1, pageSize, pageSize + 1, int64(n)} {
		if err := s.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	var all []int64
	for id := int64(1); id <= int64(n); id++ {
		if id != 1 && id != pageSize && id != pageSize+1 && id != int64(n) {
			all = append(all, id)
		}
	}
	tests := []struct {
		name  string
		after int64
		want  []int64
	}{
		{"all", 0, all},
		{"negative after is all", -5, all},
		{"after a gap", pageSize - 1, all[pageSize-2:]},
		{"after the last", int64(n), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(t, s, tc.after); !slices.Equal(got, tc.want) {
				t.Errorf("got %d ids %v..., want %d from %v", len(got), head(got), len(tc.want), head(tc.want))
			}
		})
	}
	t.Run("early stop", func(t *testing.T) {
		var got []int64
		err := s.Scan(0, func(r Record) bool {
			got = append(got, r.ID)
			return len(got) < 3
		})
		if err != nil || !slices.Equal(got, []int64{2, 3, 4}) {
			t.Errorf("got %v, %v; want [2 3 4]", got, err)
		}
	})
	t.Run("writes from fn", func(t *testing.T) {
		// Scan holds no transaction while fn runs, so fn may write.
		count := 0
		err := s.Scan(0, func(r Record) bool {
			r.Status = "running"
			mustPut(t, s, r)
			count++
			return true
		})
		if err != nil || count != len(all) {
			t.Errorf("got %d records, %v; want %d", count, err, len(all))
		}
	})
}

func head(ids []int64) []int64 {
	return ids[:min(len(ids), 5)]
}

func TestUnfinished(t *testing.T) {
	s, _ := openTemp(t, Options{})
	a := mustCreate(t, s, queued("alice"))
	b := mustCreate(t, s, queued("bob"))
	c := mustCreate(t, s, queued("carol"))
	b.Status = "running"
	mustPut(t, s, b)
	mustPut(t, s, ended(a, StatusStopped, base, 0))
	if err := s.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	d := mustCreate(t, s, queued("dave"))
	s = reopen(t, s)
	got, err := s.Unfinished()
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []int64
	for _, r := range got {
		gotIDs = append(gotIDs, r.ID)
	}
	if want := []int64{b.ID, d.ID}; !slices.Equal(gotIDs, want) {
		t.Errorf("unfinished: got %v, want %v", gotIDs, want)
	}
	if len(got) == 2 && (got[0].Status != "running" || got[1].Owner != "dave") {
		t.Errorf("unfinished records: got %+v", got)
	}
}

func TestRetention(t *testing.T) {
	s, _ := openTemp(t, Options{})
	// Five jobs that end out of id order: 3 ends first, 1 last; 5 never.
	at := map[int64]time.Duration{1: 50, 2: 20, 3: 10, 4: 30}
	output := map[int64]int64{1: 100, 2: 200, 3: 300, 4: 400}
	for id := int64(1); id <= 5; id++ {
		r := mustCreate(t, s, queued("alice"))
		if d, ok := at[id]; ok {
			mustPut(t, s, ended(r, StatusFinished, base.Add(d*time.Minute), output[id]))
		}
	}
	oldest := func() []int64 {
		t.Helper()
		var got []int64
		if err := s.OldestFinal(func(r Record) bool {
			got = append(got, r.ID)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	stats := func() FinalStats {
		t.Helper()
		st, err := s.FinalStats()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if got, want := oldest(), []int64{3, 2, 4, 1}; !slices.Equal(got, want) {
		t.Errorf("OldestFinal: got %v, want %v", got, want)
	}
	if got, want := stats(), (FinalStats{Count: 4, OutputBytes: 1000}); got != want {
		t.Errorf("FinalStats: got %+v, want %+v", got, want)
	}
	before, err := s.FinalBefore(base.Add(30 * time.Minute))
	if err != nil || !slices.Equal(before, []int64{3, 2}) {
		t.Errorf("FinalBefore(30 min): got %v, %v; want [3 2]", before, err)
	}
	for n, want := range map[int][]int64{0: nil, 1: {3}, 3: {3, 2, 4}, 10: {3, 2, 4, 1}} {
		if got, err := s.OldestFinalIDs(n); err != nil || !slices.Equal(got, want) {
			t.Errorf("OldestFinalIDs(%d): got %v, %v; want %v", n, got, err, want)
		}
	}

	// Retention removing output changes the totals; removing records
	// takes them out of the index.
	r, _ := s.Get(2)
	r.OutputSize, r.OutputError = 0, "removed by retention"
	mustPut(t, s, r)
	if err := s.Delete(3); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if got, want := stats(), (FinalStats{Count: 3, OutputBytes: 500}); got != want {
		t.Errorf("FinalStats after retention: got %+v, want %+v", got, want)
	}
	if got, want := oldest(), []int64{2, 4, 1}; !slices.Equal(got, want) {
		t.Errorf("OldestFinal after retention: got %v, want %v", got, want)
	}
}

func TestOldestFinalPages(t *testing.T) {
	s, _ := openTemp(t, Options{})
	// Records that all end at the same moment are ordered by id, across
	// pages; early stop ends the walk.
	n := pageSize + 3
	for range n {
		r := mustCreate(t, s, queued("alice"))
		mustPut(t, s, ended(r, StatusFailed, base, 1))
	}
	var got []int64
	if err := s.OldestFinal(func(r Record) bool { got = append(got, r.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != n || !slices.IsSorted(got) || got[0] != 1 {
		t.Errorf("got %d ids from %v, want %d in id order", len(got), head(got), n)
	}
	got = nil
	if err := s.OldestFinal(func(r Record) bool { got = append(got, r.ID); return len(got) < 2 }); err != nil || !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("early stop: got %v, %v", got, err)
	}
}

func TestBackup(t *testing.T) {
	s, _ := openTemp(t, Options{})
	for range 10 {
		mustCreate(t, s, queued("alice"))
	}
	var copied bytes.Buffer
	if _, err := s.Backup(&copied); err != nil {
		t.Fatal(err)
	}
	// The store goes on while and after it is copied.
	mustCreate(t, s, queued("alice"))
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, copied.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	defer c.Close()
	if got := ids(t, c, 0); len(got) != 10 {
		t.Errorf("copy has %d records, want 10", len(got))
	}
	if r := mustCreate(t, c, queued("alice")); r.ID != 11 {
		t.Errorf("next id in the copy: got %d, want 11", r.ID)
	}
}

func TestSize(t *testing.T) {
	s, path := openTemp(t, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if size, err := s.Size(); err != nil || size != fi.Size() || size == 0 {
		t.Fatalf("Size: got %d, %v; the file has %d bytes", size, err, fi.Size())
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode: got %v, want 0600", mode)
	}
}
