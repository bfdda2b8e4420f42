package store

import (
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the version of the file's layout that this rw writes.
// A change that an older rw would misread (a new bucket it must keep up
// to date, a JSON name changed or dropped) takes the next version and a
// migration in migrations. Adding an optional field to Record does not:
// an older rw's JSON decoder skips it.
const SchemaVersion = 1

// migrations[v] turns a file of version v into one of version v+1, inside
// the transaction that then records the new version.
var migrations = [SchemaVersion]func(tx *bolt.Tx) error{
	0: migrateFrom0,
}

// upgrade brings a new file to the current layout and an older one up to
// it, and refuses a newer one. A current file is only read.
func (s *Store) upgrade() error {
	var version int
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		version, err = s.version(tx)
		return err
	})
	if err != nil || version == SchemaVersion {
		return err
	}
	if version > SchemaVersion {
		return fmt.Errorf("open job store %s: %w: its schema version is %d, and this rw knows versions up to %d: run the newer rw, or restore a copy this version wrote",
			s.path, ErrNewerSchema, version, SchemaVersion)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if version < 0 {
			return create(tx)
		}
		for v := version; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("from version %d to %d: %w", v, v+1, err)
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, strconv.AppendInt(nil, SchemaVersion, 10))
	})
	if err != nil {
		if version < 0 {
			return fmt.Errorf("create job store %s: %w", s.path, err)
		}
		return fmt.Errorf("migrate job store %s: %w: restore the file from a copy, or move it aside to start with an empty store", s.path, err)
	}
	return nil
}

// version returns the file's schema version, or -1 for a file without any
// buckets, just created. A file with jobs but no meta bucket is version 0,
// the layout before versions.
func (s *Store) version(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if tx.Bucket(bucketJobs) != nil {
			return 0, nil
		}
		empty := true
		tx.ForEach(func([]byte, *bolt.Bucket) error {
			empty = false
			return errStop
		})
		if !empty {
			return 0, corrupt(s.path, errors.New("it is a bbolt file, but not a job store"))
		}
		return -1, nil
	}
	v := meta.Get(keySchema)
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 {
		return 0, corrupt(s.path, fmt.Errorf("its schema version is %q", v))
	}
	return n, nil
}

// errStop ends a ForEach early.
var errStop = errors.New("stop")

// create lays out a new, empty store of the current version.
func create(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketJobs, bucketMeta, bucketUnfinished, bucketEnded} {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, strconv.AppendInt(nil, SchemaVersion, 10))
}

// migrateFrom0 upgrades the layout before versions: a jobs bucket alone,
// whose records lack the fields added since (limits, isolation, pid,
// usage), and whose sequence may lag behind its highest id. Version 1 adds
// the meta bucket, the unfinished and ended indexes and the totals of
// final records, built here from the records, and makes the sequence at
// least the highest id, so that no id is given twice.
func migrateFrom0(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketUnfinished, bucketEnded} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	jobs := tx.Bucket(bucketJobs)
	var last int64
	err := jobs.ForEach(func(k, v []byte) error {
		id, ok := keyID(k)
		if !ok {
			return fmt.Errorf("key %x is not a job id: %w", k, ErrCorrupt)
		}
		r, err := decode(id, v)
		if err != nil {
			return err
		}
		last = max(last, id)
		sum := summarize(r)
		return reindex(tx, id, nil, &sum)
	})
	if err != nil {
		return err
	}
	if last > 0 && jobs.Sequence() < uint64(last) {
		return jobs.SetSequence(uint64(last))
	}
	return nil
}
