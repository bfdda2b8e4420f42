//go:build linux

package worker

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOutputFileIsMadeOnTheFirstByte checks that the start path makes no
// output file: a job that writes nothing never has one, and a follower
// that opens a job's output before its first byte still reads all of it.
func TestOutputFileIsMadeOnTheFirstByte(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "/bin/true", filepath.Join(dir, "true"), 0o755)
	copyFile(t, "/bin/echo", filepath.Join(dir, "echo"), 0o755)
	p := newPool(t, Config{JobsDir: dir})

	silent, err := p.Start(Spec{Owner: "alice", Path: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if s := wait(t, p, silent); s.Status != StatusFinished || s.OutputSize != 0 {
		t.Fatalf("a silent job: %s, %d bytes of output", s.Status, s.OutputSize)
	}
	if _, err := os.Stat(p.outputPath(silent)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a job that wrote nothing has an output file: %v", err)
	}
	if got := readOutput(t, p, silent); len(got) != 0 {
		t.Errorf("a silent job's output: %q, want none", got)
	}

	// Followed from the moment Start returns, before the job has a
	// process, let alone a file.
	talker, err := p.Start(Spec{Owner: "alice", Path: "echo", Args: []string{"hello"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(readOutput(t, p, talker)), "hello\n"; got != want {
		t.Errorf("followed from the start: %q, want %q", got, want)
	}
	if info, err := os.Stat(p.outputPath(talker)); err != nil || info.Size() != 6 {
		t.Errorf("the output file of a job that wrote 6 bytes: %v, %v", info, err)
	}
}

// TestCutOffCopyKeepsBufferedOutput checks that output already in the pipe
// when drain cuts the copy off is kept, and that the copy then ends
// although the pipe's write end is still open (a process that left the
// job's group may hold it). On a loaded machine the copier may not have
// read a byte by the time drain gives up on it; that once lost a finished
// job's whole output.
func TestCutOffCopyKeepsBufferedOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	want := bytes.Repeat([]byte("0123456789abcdef"), 3000) // 48000 bytes: fits a default pipe
	if _, err := w.Write(want); err != nil {
		t.Fatal(err)
	}
	// drain's cut-off, come before the copier read anything.
	if err := r.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out")
	o := newOutput(path, 1<<20, nil)
	o.copyFrom(r)
	o.close()
	if size, truncated, why := o.stat(); size != int64(len(want)) || truncated {
		t.Errorf("kept %d bytes (truncated %v, %q), want %d", size, truncated, why, len(want))
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Errorf("output file: %d bytes, %v; want the %d bytes written", len(got), err, len(want))
	}
}
