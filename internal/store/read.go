package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pageSize is how many records Scan and OldestFinal read in one read
// transaction. Between pages no transaction is open, so a slow caller (one
// writing to a slow client) never holds one: an open read transaction
// makes a write that must grow the file wait.
const pageSize = 256

// Get returns the record of job id, or ErrNotFound.
func (s *Store) Get(id int64) (Record, error) {
	var r Record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketJobs).Get(idKey(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		r, err = decode(id, v)
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("read job %d: %w", id, err)
	}
	return r, nil
}

// Scan calls fn with each record whose id is greater than after, in id
// order, until fn returns false. It holds a page of records at a time, not
// all of them, and no transaction while fn runs, so fn may take its time
// and may write to the store. Scan is not one snapshot: a record changed
// while it runs is seen as it was when its page was read, and records
// created meanwhile are seen if their ids come later.
func (s *Store) Scan(after int64, fn func(Record) bool) error {
	after = max(after, 0)
	for {
		var page []Record
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketJobs).Cursor()
			for k, v := c.Seek(idKey(after + 1)); k != nil && len(page) < pageSize; k, v = c.Next() {
				id, ok := keyID(k)
				if !ok {
					return fmt.Errorf("key %x is not a job id: %w", k, ErrCorrupt)
				}
				r, err := decode(id, v)
				if err != nil {
					return err
				}
				page = append(page, r)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list jobs after %d: %w", after, err)
		}
		for _, r := range page {
			if !fn(r) {
				return nil
			}
		}
		if len(page) < pageSize {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// Unfinished returns the records whose status is not final, in id order:
// the jobs a server that stopped or crashed left queued, starting or
// running. It reads only those records, through their index.
func (s *Store) Unfinished() ([]Record, error) {
	var recs []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		return tx.Bucket(bucketUnfinished).ForEach(func(k, _ []byte) error {
			r, err := indexed(jobs, k)
			if err != nil {
				return err
			}
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list unfinished jobs: %w", err)
	}
	return recs, nil
}

// indexed reads the record that an index entry names by id.
func indexed(jobs *bolt.Bucket, id []byte) (Record, error) {
	n, ok := keyID(id)
	if !ok {
		return Record{}, fmt.Errorf("index key %x is malformed: %w", id, ErrCorrupt)
	}
	v := jobs.Get(id)
	if v == nil {
		return Record{}, fmt.Errorf("the index names job %d, which has no record: %w", n, ErrCorrupt)
	}
	return decode(n, v)
}

// FinalStats are the totals of the final records.
type FinalStats struct {
	// Count is the number of final records.
	Count int64
	// OutputBytes is the sum of their OutputSize.
	OutputBytes int64
}

// FinalStats returns the totals of the final records, which the store
// keeps up to date with every write, so that retention need not read the
// records to know whether it has work to do.
func (s *Store) FinalStats() (FinalStats, error) {
	var st FinalStats
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var err error
		if st.Count, err = counter(meta, keyFinalCount); err != nil {
			return err
		}
		st.OutputBytes, err = counter(meta, keyFinalOutput)
		return err
	})
	if err != nil {
		return FinalStats{}, fmt.Errorf("job store totals: %w", err)
	}
	return st, nil
}

// OldestFinal calls fn with each final record, the earliest ended first
// (ties in id order; a final record without an end time comes first), until
// fn returns false. Like Scan, it holds a page at a time and no
// transaction while fn runs: retention can read each record's OutputSize
// and remove output, or records, as it goes.
func (s *Store) OldestFinal(fn func(Record) bool) error {
	var from []byte
	for {
		var page []Record
		err := s.db.View(func(tx *bolt.Tx) error {
			jobs := tx.Bucket(bucketJobs)
			c := tx.Bucket(bucketEnded).Cursor()
			k, _ := c.First()
			if from != nil {
				k, _ = c.Seek(from)
				if bytes.Equal(k, from) {
					k, _ = c.Next()
				}
			}
			for ; k != nil && len(page) < pageSize; k, _ = c.Next() {
				r, err := indexed(jobs, endedID(k))
				if err != nil {
					return err
				}
				page = append(page, r)
				from = bytes.Clone(k)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list final jobs: %w", err)
		}
		for _, r := range page {
			if !fn(r) {
				return nil
			}
		}
		if len(page) < pageSize {
			return nil
		}
	}
}

// FinalBefore returns the ids of the final records that ended before t
// (and those without an end time), the earliest ended first. It reads only
// the index, not the records.
func (s *Store) FinalBefore(t time.Time) ([]int64, error) {
	limit := orderedNanos(t)
	var ids []int64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEnded).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			id, ok := keyID(endedID(k))
			if !ok {
				return fmt.Errorf("ended index key %x is malformed: %w", k, ErrCorrupt)
			}
			if binary.BigEndian.Uint64(k) >= limit {
				break
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs ended before %v: %w", t, err)
	}
	return ids, nil
}

// OldestFinalIDs returns the ids of the n earliest ended final records (all
// of them if there are fewer), the earliest first. It reads only the
// index, not the records.
func (s *Store) OldestFinalIDs(n int) ([]int64, error) {
	var ids []int64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEnded).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < n; k, _ = c.Next() {
			id, ok := keyID(endedID(k))
			if !ok {
				return fmt.Errorf("ended index key %x is malformed: %w", k, ErrCorrupt)
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the %d oldest final jobs: %w", n, err)
	}
	return ids, nil
}

// endedID is the id part of a key of bucketEnded; nil if the key is
// malformed.
func endedID(k []byte) []byte {
	if len(k) != 16 {
		return nil
	}
	return k[8:]
}
