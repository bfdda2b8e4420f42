//go:build linux

package jobinit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		ok     bool
	}{
		{"valid", func(*Spec) {}, true},
		{"longest hostname", func(s *Spec) { s.Hostname = strings.Repeat("h", hostNameMax) }, true},
		{"no hostname", func(s *Spec) { s.Hostname = "" }, false},
		{"long hostname", func(s *Spec) { s.Hostname = strings.Repeat("h", hostNameMax+1) }, false},
		{"no path", func(s *Spec) { s.Path = "" }, false},
		{"no argv", func(s *Spec) { s.Args = nil }, false},
		{"relative dir", func(s *Spec) { s.Dir = "jobs" }, false},
		{"NUL in an argument", func(s *Spec) { s.Args = append(s.Args, "a\x00b") }, false},
		{"NUL in the environment", func(s *Spec) { s.Env = append(s.Env, "A=\x00") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := helperSpec("exit", "0")
			tc.change(&s)
			err := s.validate()
			if tc.ok && err != nil {
				t.Errorf("got %v, want no error", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("got %v, want ErrInvalidSpec", err)
			}
		})
	}
}

// TestSpecRoundTrip checks that the spec reaches init byte for byte, bytes
// that are not UTF-8 included, and however large it is.
func TestSpecRoundTrip(t *testing.T) {
	want := Spec{
		Hostname: "rw-1",
		Path:     "/proc/self/fd/3",
		Args:     []string{"job", "\xff\xfe not UTF-8", "", strings.Repeat("a", 200<<10)},
		Env:      []string{"A=1", "B=\x80"},
		Dir:      "/srv/jobs",
		Uid:      65534,
		Gid:      65533,
		SetCreds: true,
	}
	r, err := specPipe(&want)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := decodeSpec(r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestDecodeSpecMalformed checks that init refuses, without panicking or
// allocating what a length claims, any bytes that are not exactly one spec
// as encode writes it.
func TestDecodeSpecMalformed(t *testing.T) {
	spec := helperSpec("exit", "0")
	good, err := spec.encode()
	if err != nil {
		t.Fatal(err)
	}
	// A copy of good with the bytes from off replaced by with.
	edit := func(off int, with ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], with)
		return b
	}
	// The offset of the hostname's length: version, Uid, Gid, SetCreds.
	const hostOff = 1 + 4 + 4 + 1
	type tcase struct {
		name string
		in   []byte
	}
	cases := []tcase{
		{"empty", nil},
		{"unknown version", edit(0, specVersion+1)},
		{"credentials flag not 0 or 1", edit(hostOff-1, 2)},
		{"string longer than the rest", edit(hostOff, 0xff, 0xff, 0xff, 0xff)},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"too large", make([]byte, maxSpec+1)},
	}
	// Args' count, after the three strings.
	argsOff := hostOff + 4*3 + len(spec.Hostname) + len(spec.Path) + len(spec.Dir)
	cases = append(cases, tcase{"more strings than bytes", edit(argsOff, 0x10, 0, 0, 0)})
	for n := range len(good) {
		cases = append(cases, tcase{fmt.Sprintf("cut at %d of %d", n, len(good)), good[:n]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := decodeSpec(bytes.NewReader(tc.in))
			if !errors.Is(err, errMalformedSpec) {
				t.Errorf("got %+v, %v; want errMalformedSpec", s, err)
			}
		})
	}
	if got, err := decodeSpec(bytes.NewReader(good)); err != nil || !reflect.DeepEqual(got, spec) {
		t.Errorf("the unedited spec: got %+v, %v; want %+v", got, err, spec)
	}
}

// TestEncodeRefusesHugeSpec checks that a spec init would refuse to read
// is refused when it is encoded, as a mistake of the caller.
func TestEncodeRefusesHugeSpec(t *testing.T) {
	s := helperSpec()
	s.Env = []string{"HUGE=" + strings.Repeat("x", maxSpec)}
	if _, err := s.encode(); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("got %v, want ErrInvalidSpec", err)
	}
}

// FuzzDecodeSpec checks that init's decoder never panics, and that what it
// accepts is exactly what encode writes for the spec it returns: one
// encoding per spec, so nothing is read twice or skipped.
func FuzzDecodeSpec(f *testing.F) {
	for _, s := range []Spec{helperSpec(), helperSpec("a", "\xff"), {Hostname: "h", Path: "/p", Dir: "/", Uid: 1, Gid: 2, SetCreds: true, Args: []string{""}, Env: []string{"A=1"}}} {
		b, err := s.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := parseSpec(in)
		if err != nil {
			if !errors.Is(err, errMalformedSpec) {
				t.Fatalf("got %v, want errMalformedSpec", err)
			}
			return
		}
		out, err := s.encode()
		if err != nil {
			t.Fatalf("%+v decoded but does not encode: %v", s, err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("decoded %+v from %q, which encodes as %q", s, in, out)
		}
	})
}

func TestParseReport(t *testing.T) {
	exited3 := syscall.WaitStatus(3 << 8)
	for _, tc := range []struct {
		name   string
		report []byte
		ws     syscall.WaitStatus
		err    error // nil, ErrNoReport, or a *StartError
	}{
		{"waited", waitedReport(exited3), exited3, nil},
		{"killed", waitedReport(syscall.WaitStatus(syscall.SIGKILL)), syscall.WaitStatus(syscall.SIGKILL), nil},
		{"not started", notStartedReport(CodeExecFailed, "exec x: permission denied"), 0, &StartError{CodeExecFailed, "exec x: permission denied"}},
		{"long reason", notStartedReport(CodeSetupFailed, strings.Repeat("r", 2*maxReason)), 0, &StartError{CodeSetupFailed, strings.Repeat("r", maxReason)}},
		{"nothing", nil, 0, ErrNoReport},
		{"short", waitedReport(exited3)[:3], 0, ErrNoReport},
		{"unknown kind", []byte("x1234"), 0, ErrNoReport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, err := parseReport(tc.report)
			if ws != tc.ws {
				t.Errorf("got status %#x, want %#x", ws, tc.ws)
			}
			var se *StartError
			switch want := tc.err.(type) {
			case nil:
				if err != nil {
					t.Errorf("got %v, want no error", err)
				}
			case *StartError:
				if !errors.As(err, &se) || *se != *want {
					t.Errorf("got %v, want %v", err, want)
				}
			default:
				if !errors.Is(err, want) {
					t.Errorf("got %v, want %v", err, want)
				}
			}
		})
	}
}

func TestCommandRefuses(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bad := helperSpec()
	bad.Dir = "relative"
	for _, tc := range []struct {
		name     string
		spec     Spec
		exe, out *os.File
	}{
		{"invalid spec", bad, f, f},
		{"no executable", helperSpec(), nil, f},
		{"no output", helperSpec(), f, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, st, err := Command("/proc/self/exe", tc.spec, tc.exe, tc.out)
			if !errors.Is(err, ErrInvalidSpec) || cmd != nil || st != nil {
				t.Errorf("got %v, %v, %v; want nil, nil, ErrInvalidSpec", cmd, st, err)
			}
		})
	}
}

// TestMainRefusesOutsideNamespace runs init by hand, as pid 1 of nothing:
// it must refuse before it mounts or names anything.
func TestMainRefusesOutsideNamespace(t *testing.T) {
	cmd := exec.Command(os.Args[0], Arg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != CodeSetupFailed {
		t.Errorf("got %v, want exit code %d", err, CodeSetupFailed)
	}
	want := "rw: error: the isolated job did not start: " + Arg + " is for rw's own use: it must run as pid 1 of a new PID namespace\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}
