//go:build linux

package server

import (
	"fmt"
	"net/http"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/auth"
)

// handleFiles answers GET /files: the executables the caller may start.
func (s *Server) handleFiles(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := mayDo(c, auth.ActionFiles); err != nil {
		s.fail(w, r, c, err)
		return
	}
	files, truncated, err := s.pool.Files(api.MaxFiles)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	list := api.FileList{Files: make([]api.File, len(files)), Truncated: truncated}
	for i, f := range files {
		list.Files[i] = api.File{Path: f.Path, Size: f.Size, Mode: fmt.Sprintf("%04o", f.Mode.Perm()), ModTime: f.ModTime.UTC()}
	}
	writeJSON(w, http.StatusOK, list)
}
