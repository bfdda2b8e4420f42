//go:build linux

package cli

import (
	"errors"
	"os"
	"strconv"
	"testing"
)

func TestRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		// A server not run as root runs jobs as itself, and says so when
		// told otherwise.
		if c, err := runAs(""); c != nil || err != nil {
			t.Errorf(`runAs("") = %+v, %v; want the server's own user`, c, err)
		}
		self := strconv.Itoa(os.Geteuid()) + ":" + strconv.Itoa(os.Getegid())
		if c, err := runAs(self); c != nil || err != nil {
			t.Errorf("runAs(%q) = %+v, %v; want the server's own user", self, c, err)
		}
		var he *hintError
		if _, err := runAs("0:0"); !errors.As(err, &he) {
			t.Errorf(`runAs("0:0") as another user: %v, want an error with a hint`, err)
		}
		return
	}
	tests := []struct {
		value    string
		uid, gid uint32
		wantErr  bool
	}{
		{"", 65534, 65534, false},
		{"nobody", 65534, 65534, false},
		{"1234:5678", 1234, 5678, false},
		{"root", 0, 0, false},
		{"no-such-user-here", 0, 0, true},
		{"12:x", 0, 0, true},
	}
	for _, tc := range tests {
		c, err := runAs(tc.value)
		if tc.wantErr {
			if err == nil {
				t.Errorf("runAs(%q) = %+v, want an error", tc.value, c)
			}
			continue
		}
		if err != nil || c == nil || c.Uid != tc.uid || c.Gid != tc.gid {
			t.Errorf("runAs(%q) = %+v, %v; want %d:%d", tc.value, c, err, tc.uid, tc.gid)
		}
	}
}
