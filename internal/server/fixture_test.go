//go:build linux

package server_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/rw-project/rw/internal/jobinit"
	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind.
func TestMain(m *testing.M) {
	// The test binary is the init of isolated jobs, as rw is.
	if len(os.Args) > 1 && os.Args[1] == jobinit.Arg {
		jobinit.Main()
	}
	goleak.VerifyTestMain(m)
}

func idPath(path string, id int64) string { return fmt.Sprintf("%s?id=%d", path, id) }
