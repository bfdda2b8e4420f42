// Package store keeps job records in one bbolt file, so that jobs, their
// ids and how they ended outlive the server.
//
// Every write is one committed, fsynced transaction: when Create or Put
// returns, the record is on disk. Concurrent writers share commits through
// bbolt's Batch, so that many starts at once cost few fsyncs. Ids come from
// a sequence kept in the file: they only grow, also across deletes,
// restarts and crashes.
//
// The file carries a schema version. Open migrates a file written by an
// older rw, refuses one written by a newer rw (ErrNewerSchema), and stops
// at a damaged file (ErrCorrupt) or one that another server holds
// (ErrLocked), naming the file and what to do.
//
// The store knows nothing of processes, cgroups, HTTP or users: a Record is
// data it keeps as given. The only meaning it reads into a record is
// whether its status is final, to keep the indexes that make recovery
// (Unfinished) and retention (OldestFinal, FinalStats) cheap. The worker
// converts its jobs to and from Records.
package store
