package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// ErrLocked means another process, most likely another rw serve with
	// the same data directory, has the store open.
	ErrLocked = errors.New("job store is locked by another process")
	// ErrCorrupt means the store's file is damaged or is not a job store.
	ErrCorrupt = errors.New("job store is damaged")
	// ErrNewerSchema means the store was written by a newer rw, whose
	// schema this one does not know.
	ErrNewerSchema = errors.New("job store was written by a newer rw")
	// ErrNotFound means no record has the id asked for.
	ErrNotFound = errors.New("no such job in the store")
)

// DefaultLockTimeout is how long Open waits for another process to let go
// of the file before it gives ErrLocked.
const DefaultLockTimeout = time.Second

// Options tune Open. The zero value is what a server uses.
type Options struct {
	// LockTimeout is how long to wait for the file's lock; 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// NoBatch commits every write in a transaction of its own instead of
	// sharing commits between concurrent writers. It is there to measure
	// what batching gives.
	NoBatch bool

	// boltBatch shares commits through bbolt's DB.Batch instead of the
	// committer, and noSync commits without fsync (not durable), for the
	// benchmark that compares them.
	boltBatch, noSync bool
}

// Store is an open job store. Its methods may be called from any number of
// goroutines.
type Store struct {
	db        *bolt.DB
	path      string
	group     committer
	noBatch   bool
	boltBatch bool
}

// Path returns the store's file.
func (s *Store) Path() string {
	return s.path
}

// Size returns the size of the store's file in bytes.
func (s *Store) Size() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, fmt.Errorf("job store size: %w", err)
	}
	return fi.Size(), nil
}

// Backup writes a consistent copy of the whole store to w while the store
// stays in use: it reads from one read transaction, so writes go on and
// are not in the copy. The copy is itself a store file that Open takes.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up job store %s: %w", s.path, err)
	}
	return n, nil
}

// Close waits for the transactions under way and closes the file. Writes
// after Close fail.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close job store %s: %w", s.path, err)
	}
	return nil
}
