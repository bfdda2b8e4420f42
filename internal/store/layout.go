package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The file's buckets. docs/store.md describes them for people.
var (
	// bucketJobs holds one record per job: key the id as 8 bytes big-endian
	// (so that iteration is in id order), value the Record as JSON. Its
	// sequence is the last id given.
	bucketJobs = []byte("jobs")
	// bucketMeta holds the schema version and the totals of final
	// records, each value a decimal number in ASCII.
	bucketMeta = []byte("meta")
	// bucketUnfinished indexes the records whose status is not final: key
	// the id, empty value.
	bucketUnfinished = []byte("unfinished")
	// bucketEnded indexes the final records by when they ended: key the
	// end time (ordered nanoseconds, 8 bytes) then the id (8 bytes), empty
	// value.
	bucketEnded = []byte("ended")
)

// Keys of bucketMeta.
var (
	keySchema      = []byte("schema")
	keyFinalCount  = []byte("finalCount")
	keyFinalOutput = []byte("finalOutputBytes")
)

// idKey is the key of job id.
func idKey(id int64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, uint64(id))
	return k
}

// keyID is the id that k, a key of bucketJobs or bucketUnfinished, holds.
func keyID(k []byte) (int64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(k)), true
}

// endedKey is the key of a final record in bucketEnded: keys sort by end
// time, then by id. A zero end time sorts first.
func endedKey(ended time.Time, id int64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, orderedNanos(ended))
	binary.BigEndian.PutUint64(k[8:], uint64(id))
	return k
}

// orderedNanos maps t to an unsigned number that sorts as t does: its Unix
// nanoseconds with the sign bit flipped. The zero time, and times beyond
// what int64 nanoseconds hold, sort first or last.
func orderedNanos(t time.Time) uint64 {
	var n int64
	switch {
	case t.IsZero() || t.Before(minNanoTime):
		n = math.MinInt64
	case t.After(maxNanoTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return uint64(n) ^ (1 << 63)
}

var (
	minNanoTime = time.Unix(0, math.MinInt64+1)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// fillPercent is how full bbolt fills a page before it splits one. Ids and
// end times mostly grow, so records and index entries are mostly appended
// at the end, where bbolt's default of half full would leave every page
// half empty: as etcd does for its append-mostly bucket, fill them to 90%.
const fillPercent = 0.9

// bucket returns the bucket name of tx, ready for appends.
func bucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = fillPercent
	return b
}

// summary is what the indexes and totals need of a record.
type summary struct {
	final      bool
	ended      time.Time
	outputSize int64
}

func summarize(r Record) summary {
	return summary{final: Final(r.Status), ended: r.EndedAt, outputSize: r.OutputSize}
}

// reindex moves record id from where old put it in the indexes and totals
// to where updated puts it; a nil old is a new record, a nil updated a
// deleted one.
func reindex(tx *bolt.Tx, id int64, old, updated *summary) error {
	unfinished, ended, meta := bucket(tx, bucketUnfinished), bucket(tx, bucketEnded), tx.Bucket(bucketMeta)
	var count, output int64
	if old != nil {
		if old.final {
			if err := ended.Delete(endedKey(old.ended, id)); err != nil {
				return err
			}
			count--
			output -= old.outputSize
		} else if err := unfinished.Delete(idKey(id)); err != nil {
			return err
		}
	}
	if updated != nil {
		if updated.final {
			if err := ended.Put(endedKey(updated.ended, id), nil); err != nil {
				return err
			}
			count++
			output += updated.outputSize
		} else if err := unfinished.Put(idKey(id), nil); err != nil {
			return err
		}
	}
	if err := addCounter(meta, keyFinalCount, count); err != nil {
		return err
	}
	return addCounter(meta, keyFinalOutput, output)
}

// counter reads a decimal counter of bucketMeta; a missing one is 0.
func counter(meta *bolt.Bucket, key []byte) (int64, error) {
	v := meta.Get(key)
	if v == nil {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("meta %s is %q, not a number: %w", key, v, ErrCorrupt)
	}
	return n, nil
}

// addCounter adds delta to a counter of bucketMeta.
func addCounter(meta *bolt.Bucket, key []byte, delta int64) error {
	if delta == 0 {
		return nil
	}
	n, err := counter(meta, key)
	if err != nil {
		return err
	}
	return meta.Put(key, strconv.AppendInt(nil, n+delta, 10))
}

// encode is the stored form of r.
func encode(r Record) ([]byte, error) {
	v, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode job %d: %w", r.ID, err)
	}
	return v, nil
}

// decode reads the stored form of the record of job id.
func decode(id int64, v []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(v, &r); err != nil {
		return Record{}, fmt.Errorf("the record of job %d is unreadable (%v): %w", id, err, ErrCorrupt)
	}
	r.ID = id
	return r, nil
}
