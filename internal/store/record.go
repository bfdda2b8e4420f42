package store

import "time"

// The statuses the store tells apart. Any other status, such as "queued",
// "starting" or "running", is unfinished: a job the server must recover
// after a restart.
const (
	// StatusFinished is a job whose process exited with code 0.
	StatusFinished = "finished"
	// StatusFailed is a job that failed to start or to run.
	StatusFailed = "failed"
	// StatusStopped is a job that was stopped, or timed out.
	StatusStopped = "stopped"
)

// Final reports whether status is one after which a job never runs again.
func Final(status string) bool {
	return status == StatusFinished || status == StatusFailed || status == StatusStopped
}

// Record is what the store keeps of one job. The store does not interpret
// its fields, except Status (see Final) and, for final records, EndedAt and
// OutputSize, which order and total the records for retention.
//
// The JSON names are the file's schema: a Go field may be renamed freely,
// but changing or removing a JSON name needs a new schema version and a
// migration (see schema.go).
type Record struct {
	// ID is the job's id, given by Create. It is the record's key in the
	// file, so it is not repeated in the value.
	ID    int64    `json:"-"`
	Owner string   `json:"owner"`
	Path  string   `json:"path"`
	Args  []string `json:"args,omitempty"`
	// Status is stored as given: "queued", "starting", "running",
	// "finished", "failed" or "stopped".
	Status string `json:"status"`
	// ExitCode is nil until the process has ended.
	ExitCode *int `json:"exitCode,omitempty"`
	// Reason is how the job ended, in one word; Error says it in a
	// sentence.
	Reason    string    `json:"reason,omitempty"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	// Limits are the limits in force for the job.
	Limits Limits `json:"limits,omitzero"`
	// Timeout is the job's time limit, 0 for none; stored in nanoseconds.
	Timeout  time.Duration `json:"timeoutNs,omitempty"`
	Isolated bool          `json:"isolated,omitempty"`
	// PID is the job's process group leader while it runs, so that a
	// server restarted where cgroups are off can find what is left of it.
	PID int `json:"pid,omitempty"`
	// OutputSize is the number of output bytes kept; OutputTruncated says
	// the job wrote more than was kept.
	OutputSize      int64 `json:"outputSize,omitempty"`
	OutputTruncated bool  `json:"outputTruncated,omitempty"`
	// OutputError says why the output is not (or no longer) all there,
	// for example that retention removed it.
	OutputError string `json:"outputError,omitempty"`
	// CPUSeconds and MemoryPeakBytes are what the job used; nil where the
	// host could not tell.
	CPUSeconds      *float64 `json:"cpuSeconds,omitempty"`
	MemoryPeakBytes *int64   `json:"memoryPeakBytes,omitempty"`
}

// Limits are the limits a job ran under; a zero field is unlimited. They
// are the store's own type, so that the file's schema does not change when
// another package's does.
type Limits struct {
	MemoryBytes        int64   `json:"memoryBytes,omitempty"`
	CPUs               float64 `json:"cpus,omitempty"`
	Pids               int64   `json:"pids,omitempty"`
	IOReadBytesPerSec  int64   `json:"ioReadBytesPerSec,omitempty"`
	IOWriteBytesPerSec int64   `json:"ioWriteBytesPerSec,omitempty"`
}
