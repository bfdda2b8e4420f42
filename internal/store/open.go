package store

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Open opens the job store at path, creating it (mode 0600) if it is
// missing, and migrating it if an older rw wrote it. It fails with
// ErrLocked if another process has it open, ErrCorrupt if it is damaged,
// and ErrNewerSchema if a newer rw wrote it; each error names the file and
// what to do.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	db, err := openChecked(path, timeout)
	if err != nil {
		return nil, err
	}
	db.NoSync = opts.noSync
	s := &Store{db: db, path: path, group: committer{db: db}, noBatch: opts.NoBatch, boltBatch: opts.boltBatch}
	if err := s.upgrade(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openChecked opens the file and checks all of it, so that nothing read
// later meets a damaged page.
//
// bbolt reads pages through a memory map without bounds checks, and panics
// (or, past the map, faults) on a damaged page rather than returning an
// error. Here both become ErrCorrupt: faults are turned into panics for
// this goroutine, which does all the reading except tx.Check's, and
// tx.Check only runs once walk has read every page it will visit. A panic
// inside bolt.Open leaves the file open, which matters little: the server
// stops.
func openChecked(path string, timeout time.Duration) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, corrupt(path, fmt.Errorf("%v", p))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, openError(path, timeout, err)
	}
	if err := check(db, path); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openError turns an error of bolt.Open into one that says what to do.
func openError(path string, timeout time.Duration, err error) error {
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("open job store %s: %w (waited %v): is another rw serve running with this data directory? stop it, or give this server a data directory of its own",
			path, ErrLocked, timeout)
	}
	var perr *os.PathError
	if errors.As(err, &perr) {
		return fmt.Errorf("open job store: %w: check that the data directory exists and is writable by the server", err)
	}
	// The rest (invalid database, checksum error, version mismatch, file
	// size too small, ...) come from a file that is not what bbolt wrote.
	return corrupt(path, err)
}

// corrupt is the error for a damaged file at path.
func corrupt(path string, cause error) error {
	return fmt.Errorf("open job store %s: %w (%v): restore the file from a copy made while the server was stopped, or move it aside to start with an empty store",
		path, ErrCorrupt, cause)
}

// check gives ErrCorrupt for a file cut short or damaged anywhere. It reads
// every page in use, which takes milliseconds for tens of thousands of
// records, once, before anything else reads the file.
func check(db *bolt.DB, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("open job store: %w", err)
	}
	return db.View(func(tx *bolt.Tx) error {
		if fi.Size() < tx.Size() {
			return corrupt(path, fmt.Errorf("the file has %d bytes of the %d it should have: it was cut short", fi.Size(), tx.Size()))
		}
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			walk(b)
			return nil
		}); err != nil {
			return corrupt(path, err)
		}
		// Read the channel to its end, so that the checking goroutine
		// ends; the first error says enough.
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return corrupt(path, first)
		}
		return nil
	})
}

// walk reads every key and value of b and its nested buckets: the first
// and last byte of each, so that every page they span is touched.
func walk(b *bolt.Bucket) {
	var sum byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				walk(nested)
			}
			continue
		}
		if len(v) > 0 {
			sum += v[0] + v[len(v)-1]
		}
	}
	// Keep the reads from being optimised away.
	runtime.KeepAlive(sum)
}
