package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// write runs fn in a read-write transaction and commits it, fsync
// included, before it returns. Unless the store was opened with NoBatch,
// concurrent writes share one transaction and one commit (see committer):
// fn may then run more than once, in transactions that are rolled back,
// so it must only write to tx and to variables it sets afresh each time.
func (s *Store) write(fn func(tx *bolt.Tx) error) error {
	switch {
	case s.noBatch:
		return s.db.Update(fn)
	case s.boltBatch:
		return s.db.Batch(fn)
	}
	return s.group.do(fn)
}

// Create stores r as a new record under the next id, and returns it with
// its ID set; r.ID is ignored. The record is committed when Create returns.
// Ids start at 1 and are never given twice, not even after a Delete or a
// crash.
func (s *Store) Create(r Record) (Record, error) {
	v, err := encode(r)
	if err != nil {
		return Record{}, err
	}
	sum := summarize(r)
	var id int64
	err = s.write(func(tx *bolt.Tx) error {
		jobs := bucket(tx, bucketJobs)
		seq, err := jobs.NextSequence()
		if err != nil {
			return err
		}
		id = int64(seq)
		if err := jobs.Put(idKey(id), v); err != nil {
			return err
		}
		return reindex(tx, id, nil, &sum)
	})
	if err != nil {
		return Record{}, fmt.Errorf("store new job: %w", err)
	}
	r.ID = id
	return r, nil
}

// Put replaces the record r.ID with r, as a job's status changes. It gives
// ErrNotFound for an id that has no record, so a deleted record never comes
// back. The record is committed when Put returns.
func (s *Store) Put(r Record) error {
	v, err := encode(r)
	if err != nil {
		return err
	}
	sum := summarize(r)
	err = s.write(func(tx *bolt.Tx) error {
		jobs := bucket(tx, bucketJobs)
		old, err := oldSummary(jobs, r.ID)
		if err != nil {
			return err
		}
		if err := jobs.Put(idKey(r.ID), v); err != nil {
			return err
		}
		return reindex(tx, r.ID, &old, &sum)
	})
	if err != nil {
		return fmt.Errorf("store job %d: %w", r.ID, err)
	}
	return nil
}

// Delete removes the record of job id. The id is not given again.
func (s *Store) Delete(id int64) error {
	err := s.write(func(tx *bolt.Tx) error {
		jobs := bucket(tx, bucketJobs)
		old, err := oldSummary(jobs, id)
		if err != nil {
			return err
		}
		if err := jobs.Delete(idKey(id)); err != nil {
			return err
		}
		return reindex(tx, id, &old, nil)
	})
	if err != nil {
		return fmt.Errorf("delete job %d: %w", id, err)
	}
	return nil
}

// oldSummary reads what the indexes hold of the stored record of job id.
func oldSummary(jobs *bolt.Bucket, id int64) (summary, error) {
	v := jobs.Get(idKey(id))
	if v == nil {
		return summary{}, ErrNotFound
	}
	r, err := decode(id, v)
	if err != nil {
		return summary{}, err
	}
	return summarize(r), nil
}
