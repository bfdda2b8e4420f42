package server_test

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func idPath(path string, id int64) string { return fmt.Sprintf("%s?id=%d", path, id) }
