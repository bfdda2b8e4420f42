//go:build linux

package server

import (
	"testing"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/worker"
)

// TestWireReasonsAreTheWorkers checks that the reasons clients compare
// against (internal/api, which builds everywhere) are the words the worker
// records, which the server sends as they are.
func TestWireReasonsAreTheWorkers(t *testing.T) {
	for _, tc := range []struct {
		wire   string
		worker worker.Reason
	}{
		{api.ReasonExited, worker.ReasonExited},
		{api.ReasonSignaled, worker.ReasonSignaled},
		{api.ReasonStopped, worker.ReasonStopped},
		{api.ReasonTimedOut, worker.ReasonTimedOut},
		{api.ReasonOOMKilled, worker.ReasonOOMKilled},
		{api.ReasonStartFailed, worker.ReasonStartFailed},
	} {
		if tc.wire != string(tc.worker) {
			t.Errorf("api reason %q, worker reason %q", tc.wire, tc.worker)
		}
	}
}
