//go:build linux

package worker

import (
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// File is an executable in the jobs directory: one that Start accepts.
type File struct {
	// Path is relative to the jobs directory, with forward slashes, as
	// Spec.Path takes it.
	Path    string
	Size    int64
	Mode    fs.FileMode
	ModTime time.Time
}

// Files lists the executables in the jobs directory, walking its
// subdirectories in lexical order, up to limit of them; truncated says
// whether more were left out. It sees what Start sees: it reads through the
// jobs directory's os.Root, so a symlink is listed only when its target is
// inside the directory, and only regular files with an execute bit are
// listed. A symlink to a directory is not walked into, so that a loop
// cannot make the walk endless. A subdirectory that cannot be read is left
// out, as Start could not reach its files either.
func (p *Pool) Files(limit int) (files []File, truncated bool, err error) {
	root, err := p.openJobsDir()
	if err != nil {
		return nil, false, err
	}
	defer root.Close()
	errFull := errors.New("limit reached")
	fsys := root.FS()
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == "." {
				return err
			}
			// An unreadable subdirectory (or an entry gone since its
			// directory was read): skip it.
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		// Stat follows a symlink through os.Root, which refuses one that
		// leads outside the jobs directory.
		info, err := fs.Stat(fsys, path)
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			return nil
		}
		if len(files) == limit {
			truncated = true
			return errFull
		}
		files = append(files, File{Path: path, Size: info.Size(), Mode: info.Mode(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return nil, false, fmt.Errorf("list the jobs directory: %w", err)
	}
	return files, truncated, nil
}
