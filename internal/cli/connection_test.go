package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/client"
)

// TestExplainTransport checks the hint for each way a request can fail
// before an answer: a timeout must not send the user looking for a server
// that is down, nor an unreachable server for a --timeout to raise.
func TestExplainTransport(t *testing.T) {
	conn := &connection{server: "localhost:3000", timeout: 30 * time.Second}
	tests := []struct {
		name     string
		err      error
		want     string // in the hint
		wantNot  string // not in the hint
		sentinel error
	}{
		{"timeout", fmt.Errorf("%w: localhost:3000 did not answer before the deadline", client.ErrTimeout),
			"raise --timeout (now 30s)", "running", client.ErrTimeout},
		{"unreachable", fmt.Errorf("%w: no connection to localhost:3000 before the deadline", client.ErrUnreachable),
			"is 'rw serve' running at localhost:3000?", "--timeout", client.ErrUnreachable},
		{"broken answer", fmt.Errorf("read the answer to GET /query: %w", io.ErrUnexpectedEOF),
			"broke off", "--timeout", io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := explain(conn, tc.err)
			var he *hintError
			if !errors.As(err, &he) {
				t.Fatalf("explain(%v) = %v, without a hint", tc.err, err)
			}
			if !strings.Contains(he.hint, tc.want) || strings.Contains(he.hint, tc.wantNot) {
				t.Errorf("hint %q, want one with %q and without %q", he.hint, tc.want, tc.wantNot)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("explain lost the sentinel: %v", err)
			}
		})
	}
}
