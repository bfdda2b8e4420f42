package jobinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Arg is argv[1] of an rw re-executed as a job's init. rw's main checks for
// it before anything else and then calls Main.
const Arg = "__rw_job_init"

// hostNameMax is the longest hostname Linux accepts (HOST_NAME_MAX).
const hostNameMax = 64

// ErrInvalidSpec is wrapped by the error Command returns for a Spec that
// init could not carry out. It is a mistake of the caller, not of the job.
var ErrInvalidSpec = errors.New("invalid isolated job spec")

// Spec is what init needs to run the job. It travels to init on a pipe,
// never in an environment variable, so that it is neither in the job's
// environment nor in init's.
type Spec struct {
	// Hostname is the namespace's hostname, such as "rw-7": 1 to 64 bytes.
	Hostname string
	// Path is what init executes for the job, such as "/proc/self/fd/3":
	// the executable handed to Command is the job's file descriptor 3.
	Path string
	// Args is the job's argv, argv[0] included, so it has at least one
	// element.
	Args []string
	// Env is the job's whole environment; the job inherits nothing else.
	Env []string
	// Dir is the job's working directory, an absolute path.
	Dir string
	// Uid and Gid are the job's credentials when SetCreds is true. The
	// job's supplementary groups are then cleared.
	Uid, Gid uint32
	// SetCreds says whether the job runs with Uid and Gid. When false, it
	// keeps init's credentials (those of the server).
	SetCreds bool
}

// validate checks what init could not carry out, so that such a spec fails
// in Command rather than as a job that did not start.
func (s *Spec) validate() error {
	switch {
	case s.Hostname == "" || len(s.Hostname) > hostNameMax:
		return fmt.Errorf("%w: hostname %q must be 1 to %d bytes", ErrInvalidSpec, s.Hostname, hostNameMax)
	case s.Path == "":
		return fmt.Errorf("%w: no path to execute", ErrInvalidSpec)
	case len(s.Args) == 0:
		return fmt.Errorf("%w: no argv[0]", ErrInvalidSpec)
	case !filepath.IsAbs(s.Dir):
		return fmt.Errorf("%w: working directory %q is not absolute", ErrInvalidSpec, s.Dir)
	}
	// execve takes C strings: a NUL would cut one short without a word.
	strs := append([]string{s.Hostname, s.Path, s.Dir}, s.Args...)
	for _, str := range append(strs, s.Env...) {
		if strings.IndexByte(str, 0) >= 0 {
			return fmt.Errorf("%w: %q contains a NUL byte", ErrInvalidSpec, str)
		}
	}
	return nil
}

// The spec's encoding, as Command writes it on the spec pipe and init reads
// it. Strings are length-prefixed byte strings, so every byte of every
// string arrives as it was sent, bytes that are not UTF-8 included (JSON
// would replace them). All integers are big-endian:
//
//	version   1 byte, specVersion
//	Uid, Gid  4 bytes each
//	SetCreds  1 byte, 0 or 1
//	Hostname, Path, Dir   each a string: a 4-byte length, then the bytes
//	Args, Env             each a 4-byte count, then that many strings
//
// Both ends are the same binary (init is /proc/self/exe), but the bytes still
// cross a process boundary: the decoder checks every length against what is
// left before it allocates, and refuses trailing bytes.
const (
	specVersion = 1
	// maxSpec bounds an encoded spec: far more than execve takes for a
	// job's arguments and environment together, and small enough that
	// init never reads without end.
	maxSpec = 16 << 20
)

// errMalformedSpec is wrapped by the error decodeSpec returns for bytes
// encode did not write.
var errMalformedSpec = errors.New("malformed job spec")

// encode returns the spec as init reads it.
func (s *Spec) encode() ([]byte, error) {
	size := 1 + 4 + 4 + 1 + 4*5 + len(s.Hostname) + len(s.Path) + len(s.Dir)
	for _, list := range [][]string{s.Args, s.Env} {
		for _, str := range list {
			size += 4 + len(str)
		}
	}
	if size > maxSpec {
		return nil, fmt.Errorf("%w: arguments and environment take %d bytes, more than %d", ErrInvalidSpec, size, maxSpec)
	}
	b := make([]byte, 0, size)
	b = append(b, specVersion)
	b = binary.BigEndian.AppendUint32(b, s.Uid)
	b = binary.BigEndian.AppendUint32(b, s.Gid)
	setCreds := byte(0)
	if s.SetCreds {
		setCreds = 1
	}
	b = append(b, setCreds)
	for _, str := range []string{s.Hostname, s.Path, s.Dir} {
		b = appendString(b, str)
	}
	for _, list := range [][]string{s.Args, s.Env} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(list)))
		for _, str := range list {
			b = appendString(b, str)
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}

// decodeSpec reads a spec written by encode until EOF.
func decodeSpec(r io.Reader) (Spec, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSpec+1))
	if err != nil {
		return Spec{}, fmt.Errorf("read the job spec: %w", err)
	}
	if len(b) > maxSpec {
		return Spec{}, fmt.Errorf("decode the job spec: %w: more than %d bytes", errMalformedSpec, maxSpec)
	}
	s, err := parseSpec(b)
	if err != nil {
		return Spec{}, fmt.Errorf("decode the job spec: %w", err)
	}
	return s, nil
}

// parseSpec decodes b, which must be exactly one encoded spec.
func parseSpec(b []byte) (Spec, error) {
	d := specDecoder{b: b}
	if v := d.readByte(); d.err == nil && v != specVersion {
		return Spec{}, fmt.Errorf("%w: version %d, want %d", errMalformedSpec, v, specVersion)
	}
	var s Spec
	s.Uid = d.readUint32()
	s.Gid = d.readUint32()
	switch d.readByte() {
	case 0:
	case 1:
		s.SetCreds = true
	default:
		d.fail("the credentials flag is neither 0 nor 1")
	}
	s.Hostname = d.readString()
	s.Path = d.readString()
	s.Dir = d.readString()
	s.Args = d.readStrings()
	s.Env = d.readStrings()
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Sprintf("%d bytes after the end", len(d.b)))
	}
	if d.err != nil {
		return Spec{}, d.err
	}
	return s, nil
}

// specDecoder reads an encoded spec from the front of b. After its first
// error every read returns the zero value, and err keeps that first error.
type specDecoder struct {
	b   []byte
	err error
}

func (d *specDecoder) fail(why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errMalformedSpec, why)
	}
}

// take returns the next n bytes, or nil and an error when fewer are left.
func (d *specDecoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(fmt.Sprintf("%d bytes wanted, %d left", n, len(d.b)))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *specDecoder) readByte() byte {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *specDecoder) readUint32() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *specDecoder) readString() string {
	return string(d.take(uint64(d.readUint32())))
}

// readStrings reads a count and that many strings. The count is checked
// against what is left (each string takes at least its 4-byte length)
// before the slice is made, so that a wrong count cannot make init
// allocate more than the spec's size.
func (d *specDecoder) readStrings() []string {
	n := uint64(d.readUint32())
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b))/4 {
		d.fail(fmt.Sprintf("%d strings cannot fit in %d bytes", n, len(d.b)))
		return nil
	}
	if n == 0 {
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = d.readString()
	}
	return list
}
