package jobinit

import (
	"bytes"
	"encoding/gob"
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

// encode returns the spec as init reads it. gob keeps every byte of every
// string, which JSON would not for arguments that are not UTF-8.
func (s *Spec) encode() ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(s); err != nil {
		return nil, fmt.Errorf("encode the job spec: %w", err)
	}
	return b.Bytes(), nil
}

// decodeSpec reads a spec written by encode until EOF.
func decodeSpec(r io.Reader) (Spec, error) {
	var s Spec
	if err := gob.NewDecoder(r).Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("decode the job spec: %w", err)
	}
	return s, nil
}
