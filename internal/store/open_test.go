package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestLocked(t *testing.T) {
	s, path := openTemp(t, Options{})
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: got %v, want ErrLocked naming %s", err, path)
	}
	// The first store is unharmed, and once it is closed the file opens.
	mustCreate(t, s, queued("alice"))
	s = reopen(t, s)
	if got := ids(t, s, 0); !slices.Equal(got, []int64{1}) {
		t.Errorf("ids: got %v, want [1]", got)
	}
}

// damage is a way a store file can be broken; one that is random is tried
// with several seeds.
type damage struct {
	name   string
	random bool
	do     func(t *testing.T, path string, rng *rand.Rand)
}

var damages = []damage{
	{"garbage over both meta pages", true, func(t *testing.T, path string, rng *rand.Rand) {
		overwrite(t, path, 0, 2*pageBytes(t, path), rng)
	}},
	{"garbage over the data pages", true, func(t *testing.T, path string, rng *rand.Rand) {
		fi, _ := os.Stat(path)
		size := pageBytes(t, path)
		overwrite(t, path, 2*size, fi.Size()-2*size, rng)
	}},
	{"garbage over one page in use", true, func(t *testing.T, path string, rng *rand.Rand) {
		// A free page may hold anything: only a page that holds records
		// or points to them is damage.
		used := usedPages(t, path, "branch", "leaf")
		overwrite(t, path, used[rng.IntN(len(used))]*pageBytes(t, path), pageBytes(t, path), rng)
	}},
	{"a branch page's child far outside the file", true, func(t *testing.T, path string, rng *rand.Rand) {
		// A flipped high bit in a child pointer: bbolt would read far
		// outside its memory map.
		pointChild(t, path, rng, 1<<40+rng.Uint64N(1<<20))
	}},
	{"a branch page's child just past the end of the file", true, func(t *testing.T, path string, rng *rand.Rand) {
		fi, _ := os.Stat(path)
		pointChild(t, path, rng, uint64(fi.Size()/pageBytes(t, path))+rng.Uint64N(4))
	}},
	{"cut one page short of its contents", false, func(t *testing.T, path string, rng *rand.Rand) {
		// bbolt grows its file ahead of need: only a cut into the pages
		// in use is damage.
		truncate(t, path, usedBytes(t, path)-pageBytes(t, path))
	}},
	{"cut in half", false, func(t *testing.T, path string, rng *rand.Rand) {
		fi, _ := os.Stat(path)
		truncate(t, path, fi.Size()/2)
	}},
	{"cut after the meta pages", false, func(t *testing.T, path string, rng *rand.Rand) {
		truncate(t, path, 2*pageBytes(t, path))
	}},
	{"cut inside the first page", false, func(t *testing.T, path string, rng *rand.Rand) {
		truncate(t, path, 100)
	}},
	{"not a bbolt file", false, func(t *testing.T, path string, rng *rand.Rand) {
		if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
			t.Fatal(err)
		}
	}},
}

func TestCorrupt(t *testing.T) {
	valid, err := os.ReadFile(validFile(t, 200))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range damages {
		// Random garbage and pointers differ from seed to seed; each
		// damaged file must give ErrCorrupt, never a panic or a fault
		// that ends the process.
		seeds := uint64(1)
		if d.random {
			seeds = 5
		}
		for seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed %d", d.name, seed), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "jobs.db")
				if err := os.WriteFile(path, valid, 0o600); err != nil {
					t.Fatal(err)
				}
				d.do(t, path, rand.New(rand.NewPCG(seed, 1)))
				s, err := Open(path, Options{})
				if err == nil {
					s.Close()
					t.Fatalf("Open of a damaged file succeeded")
				}
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
					t.Fatalf("got %v, want ErrCorrupt naming %s", err, path)
				}
			})
		}
	}
}

// validFile writes a store with n records, some final, and returns its
// path.
func validFile(t *testing.T, n int) string {
	t.Helper()
	s, path := openTemp(t, Options{})
	for i := range n {
		r := mustCreate(t, s, queued(strings.Repeat("owner", i%7)))
		if i%3 != 0 {
			mustPut(t, s, ended(r, StatusFinished, base.Add(time.Duration(i)*time.Second), int64(i)))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// usedBytes is how much of the bbolt file at path holds pages in use or
// free, up to its high-water mark.
func usedBytes(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size int64
	db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	return size
}

// pageBytes is the page size of the bbolt file at path.
func pageBytes(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return int64(db.Info().PageSize)
}

// pointChild sets the child pointer of an element of a branch page of the
// file at path to page id. A branch page is its 16-byte header (id, flags,
// count, overflow) and then 16-byte elements (pos, ksize, pgid).
func pointChild(t *testing.T, path string, rng *rand.Rand, id uint64) {
	t.Helper()
	branches := usedPages(t, path, "branch")
	page := branches[rng.IntN(len(branches))]
	size := pageBytes(t, path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := make([]byte, 16)
	if _, err := f.ReadAt(header, page*size); err != nil {
		t.Fatal(err)
	}
	count := int64(binary.LittleEndian.Uint16(header[10:]))
	pgid := binary.LittleEndian.AppendUint64(nil, id)
	if _, err := f.WriteAt(pgid, page*size+16+rng.Int64N(count)*16+8); err != nil {
		t.Fatal(err)
	}
}

// usedPages lists the pages of the bbolt file at path of the given types.
func usedPages(t *testing.T, path string, types ...string) []int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var used []int64
	db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			info, err := tx.Page(id)
			if err != nil || info == nil {
				return err
			}
			if slices.Contains(types, info.Type) {
				used = append(used, int64(id))
			}
		}
	})
	if len(used) == 0 {
		t.Fatalf("no page of types %v", types)
	}
	return used
}

func overwrite(t *testing.T, path string, off, n int64, rng *rand.Rand) {
	t.Helper()
	garbage := make([]byte, n)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(garbage, off); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// rawFile creates a bbolt file at a new path and fills it with fill, as
// another program (or an older rw) would.
func rawFile(t *testing.T, fill func(tx *bolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jobs.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNotAJobStore(t *testing.T) {
	path := rawFile(t, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("something else"))
		return err
	})
	if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

func TestSchemaVersion(t *testing.T) {
	tests := []struct {
		version string
		want    error
	}{
		{"1", nil},
		{"2", ErrNewerSchema},
		{"99", ErrNewerSchema},
		{"0", ErrCorrupt}, // version 0 has no meta bucket at all
		{"one", ErrCorrupt},
		{"", ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			s, path := openTemp(t, Options{})
			mustCreate(t, s, queued("alice"))
			s.Close()
			setSchema(t, path, tc.version)
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tc.want) || (err != nil && !strings.Contains(err.Error(), path)) {
				t.Fatalf("got %v, want %v naming %s", err, tc.want, path)
			}
			if tc.want == ErrNewerSchema && !strings.Contains(err.Error(), "version is "+tc.version) {
				t.Errorf("the message does not say the file's version: %v", err)
			}
			// A refused file is left as it was.
			if got := schema(t, path); got != tc.version {
				t.Errorf("schema after Open: got %q, want %q", got, tc.version)
			}
		})
	}
}

func setSchema(t *testing.T, path, version string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(version))
	}); err != nil {
		t.Fatal(err)
	}
}

func schema(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			v = string(meta.Get(keySchema))
		}
		return nil
	})
	return v
}

// version0 are records as the layout before versions wrote them: no
// limits, isolation, pid or usage, and a sequence that was not kept.
var version0 = map[int64]string{
	1: `{"owner":"alice","path":"add.exe","args":["8","10"],"status":"finished","exitCode":0,"createdAt":"2025-03-01T12:00:00Z","endedAt":"2025-03-01T12:00:05Z","outputSize":3}`,
	2: `{"owner":"bob","path":"sleep.sh","status":"running","createdAt":"2025-03-01T12:01:00Z","startedAt":"2025-03-01T12:01:01Z"}`,
	5: `{"owner":"alice","path":"fail.sh","status":"failed","exitCode":1,"error":"exit status 1","createdAt":"2025-03-01T12:02:00Z","endedAt":"2025-03-01T12:02:01Z","outputSize":40}`,
	6: `{"owner":"carol","path":"add.exe","status":"starting","createdAt":"2025-03-01T12:03:00Z"}`,
}

func TestMigrateFrom0(t *testing.T) {
	path := rawFile(t, func(tx *bolt.Tx) error {
		jobs, err := tx.CreateBucket(bucketJobs)
		if err != nil {
			return err
		}
		for id, v := range version0 {
			if err := jobs.Put(idKey(id), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 0 file: %v", err)
	}
	defer s.Close()
	if got := ids(t, s, 0); !slices.Equal(got, []int64{1, 2, 5, 6}) {
		t.Errorf("ids: got %v, want [1 2 5 6]", got)
	}
	r, err := s.Get(1)
	if err != nil || r.Owner != "alice" || !slices.Equal(r.Args, []string{"8", "10"}) || r.ExitCode == nil || *r.ExitCode != 0 ||
		!r.EndedAt.Equal(base.Add(5*time.Second)) || r.Limits != (Limits{}) || r.CPUSeconds != nil {
		t.Errorf("record 1: got %+v, %v", r, err)
	}
	unfinished, err := s.Unfinished()
	if err != nil || len(unfinished) != 2 || unfinished[0].ID != 2 || unfinished[1].ID != 6 {
		t.Errorf("Unfinished: got %+v, %v; want jobs 2 and 6", unfinished, err)
	}
	if st, err := s.FinalStats(); err != nil || st != (FinalStats{Count: 2, OutputBytes: 43}) {
		t.Errorf("FinalStats: got %+v, %v; want 2 records, 43 bytes", st, err)
	}
	if got, err := s.OldestFinalIDs(5); err != nil || !slices.Equal(got, []int64{1, 5}) {
		t.Errorf("OldestFinalIDs: got %v, %v; want [1 5]", got, err)
	}
	// The sequence was not kept: the next id must still come after the
	// highest one in the file.
	if r := mustCreate(t, s, queued("dave")); r.ID != 7 {
		t.Errorf("next id: got %d, want 7", r.ID)
	}
	s.Close()
	if got := schema(t, path); got != "1" {
		t.Errorf("schema after migration: got %q, want 1", got)
	}
	// And the migrated file opens as a current one.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of the migrated file: %v", err)
	}
	if r := mustCreate(t, s, queued("dave")); r.ID != 8 {
		t.Errorf("next id after reopening: got %d, want 8", r.ID)
	}
}

func TestMigrateCorruptRecord(t *testing.T) {
	path := rawFile(t, func(tx *bolt.Tx) error {
		jobs, err := tx.CreateBucket(bucketJobs)
		if err != nil {
			return err
		}
		return jobs.Put(idKey(1), []byte(`{"owner":`))
	})
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want ErrCorrupt naming %s", err, path)
	}
	// The failed migration changed nothing.
	if got := schema(t, path); got != "" {
		t.Errorf("schema: got %q, want none", got)
	}
}

func TestMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no such dir", "jobs.db")
	_, err := Open(path, Options{})
	if err == nil || errors.Is(err, ErrCorrupt) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}
