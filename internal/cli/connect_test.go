package cli

import (
	"testing"
	"time"
)

func TestRoughly(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{2*24*time.Hour - time.Second, "2 days"},
		{7 * 24 * time.Hour, "7 days"},
		{24*time.Hour + time.Second, "2 days"},
		{24 * time.Hour, "24 hours"},
		{90 * time.Minute, "2 hours"},
		{time.Hour, "60 minutes"},
		{30 * time.Second, "1 minute"},
	}
	for _, tt := range tests {
		if got := roughly(tt.in); got != tt.want {
			t.Errorf("roughly(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
