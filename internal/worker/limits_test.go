//go:build linux

package worker

import (
	"errors"
	"strings"
	"testing"
)

func i64(v int64) *int64     { return &v }
func f64(v float64) *float64 { return &v }

func TestResolveLimits(t *testing.T) {
	def := Limits{MemoryBytes: 512 << 20, CPUs: 2, Pids: 1024}
	capped := Limits{MemoryBytes: 1 << 30, CPUs: 1, Pids: 64, IOWriteBytesPerSec: 10 << 20}
	tests := []struct {
		name    string
		req     LimitsRequest
		max     Limits
		want    Limits
		wantErr string // a word the error must hold, "" for no error
	}{
		{name: "nothing asked: the defaults", want: def},
		{name: "some asked", req: LimitsRequest{MemoryBytes: i64(64 << 20), IOReadBytesPerSec: i64(1 << 20)},
			want: Limits{MemoryBytes: 64 << 20, CPUs: 2, Pids: 1024, IOReadBytesPerSec: 1 << 20}},
		{name: "zero is unlimited", req: LimitsRequest{MemoryBytes: i64(0), Pids: i64(0), CPUs: f64(0)},
			want: Limits{}},
		{name: "at the floors", req: LimitsRequest{MemoryBytes: i64(MinMemoryBytes), Pids: i64(MinPids), CPUs: f64(MinCPUs)},
			want: Limits{MemoryBytes: MinMemoryBytes, CPUs: MinCPUs, Pids: MinPids}},
		{name: "at the maxima", req: LimitsRequest{MemoryBytes: i64(1 << 30), Pids: i64(64), CPUs: f64(1), IOWriteBytesPerSec: i64(10 << 20)}, max: capped,
			want: Limits{MemoryBytes: 1 << 30, CPUs: 1, Pids: 64, IOWriteBytesPerSec: 10 << 20}},
		{name: "memory under the floor", req: LimitsRequest{MemoryBytes: i64(1 << 20)}, wantErr: "memoryBytes 1048576 is out of range: ask for 0 (unlimited) or at least 16777216 bytes"},
		{name: "pids under the floor", req: LimitsRequest{Pids: i64(15)}, wantErr: "pids"},
		{name: "cpus under the floor", req: LimitsRequest{CPUs: f64(0.001)}, wantErr: "cpus"},
		{name: "negative cpus", req: LimitsRequest{CPUs: f64(-1)}, wantErr: "cpus -1"},
		{name: "negative io", req: LimitsRequest{IOReadBytesPerSec: i64(-5)}, wantErr: "ioReadBytesPerSec"},
		{name: "over a maximum", req: LimitsRequest{Pids: i64(65)}, max: capped, wantErr: "pids 65 is out of range: ask for 16 to 64"},
		{name: "unlimited over a maximum", req: LimitsRequest{CPUs: f64(0)}, max: capped, wantErr: "cpus 0 is out of range: ask for 0.01 to 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveLimits(tc.req, def, tc.max)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidLimits) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want ErrInvalidLimits saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCheckLimits(t *testing.T) {
	if err := CheckLimits(Limits{MemoryBytes: 512 << 20, CPUs: 2, Pids: 1024}, Limits{}); err != nil {
		t.Errorf("the shipped defaults: %v", err)
	}
	if err := CheckLimits(Limits{MemoryBytes: 512 << 20}, Limits{MemoryBytes: 256 << 20}); !errors.Is(err, ErrInvalidLimits) {
		t.Errorf("a default over its maximum: %v", err)
	}
}

func TestLimitsNeedCgroups(t *testing.T) {
	p := newPool(t, Config{})
	if _, err := p.Start(Spec{Path: helperName, Args: []string{"exit", "0"}, Limits: LimitsRequest{Pids: i64(64)}}); !errors.Is(err, ErrInvalidLimits) {
		t.Fatalf("a limit without cgroups: %v, want ErrInvalidLimits", err)
	}
}
