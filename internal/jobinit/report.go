//go:build linux

package jobinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Init reports on the status pipe exactly once, in one write, just before
// it exits. A report is one of:
//
//	'w' + the job's wait status, 4 bytes big-endian   the job ran and ended
//	'n' + init's exit code, 1 byte, + the reason       the job did not start
//
// Anything else, including nothing, means init died before it could report.
const (
	reportWaited     = 'w'
	reportNotStarted = 'n'
	// maxReason bounds the reason of a report, so that a report fits in
	// one atomic pipe write (PIPE_BUF is 4096).
	maxReason = 1024
	// maxReport is more than any report init writes.
	maxReport = 2 + maxReason
)

// Init's exit codes when the job did not start, as a shell's.
const (
	// CodeExecFailed is init's exit code when the job could not be
	// executed: not found, not executable, or its working directory or
	// credentials could not be taken.
	CodeExecFailed = 126
	// CodeSetupFailed is init's exit code when it failed before trying to
	// execute the job: it could not read the spec, mount /proc, set the
	// hostname or bring the loopback interface up.
	CodeSetupFailed = 127
)

// ErrNoReport is returned by Status.Read when init exited without
// reporting: it was killed as a whole (SIGKILL), or died before the job
// ended. The caller then goes by init's own exit status.
var ErrNoReport = errors.New("the job's init exited without reporting the job's status")

// StartError is returned by Status.Read when the job never ran: init
// failed to set up the namespaces or to execute the job. Init has also
// written the reason to the job's output, as one line starting "rw: ".
type StartError struct {
	// Code is init's exit code: CodeExecFailed or CodeSetupFailed.
	Code int
	// Reason says what failed, such as
	// "exec /proc/self/fd/3: permission denied".
	Reason string
}

func (e *StartError) Error() string {
	return "the isolated job did not start: " + e.Reason
}

func waitedReport(ws syscall.WaitStatus) []byte {
	return binary.BigEndian.AppendUint32([]byte{reportWaited}, uint32(ws))
}

func notStartedReport(code int, reason string) []byte {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	return append([]byte{reportNotStarted, byte(code)}, reason...)
}

// parseReport reads what init wrote on the status pipe.
func parseReport(b []byte) (syscall.WaitStatus, error) {
	switch {
	case len(b) == 0:
		return 0, ErrNoReport
	case b[0] == reportWaited && len(b) == 5:
		return syscall.WaitStatus(binary.BigEndian.Uint32(b[1:])), nil
	case b[0] == reportNotStarted && len(b) >= 2 && len(b) <= maxReport:
		return 0, &StartError{Code: int(b[1]), Reason: string(b[2:])}
	}
	return 0, fmt.Errorf("the job's init wrote a malformed report %q: %w", b, ErrNoReport)
}
