//go:build linux

package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/auth"
	"github.com/rw-project/rw/internal/worker"
)

// The handlers ask auth.Decide through these three guards only, one per
// shape of question, so that auth's table stays the one place a rule
// lives and every handler spells a check the same way.

// mayAct reports whether the caller may do action at all: start a job, or
// act on jobs of its own. A role that may not is refused with 403 before
// any job is looked up, so it cannot learn which ids exist.
func mayAct(c *caller, action auth.Action) error {
	if auth.Decide(c.identity, action, c.identity.User) != auth.Allow {
		return &apiError{http.StatusForbidden, api.CodeForbidden,
			fmt.Sprintf("role %q may not %s jobs", c.identity.Role, action)}
	}
	return nil
}

// mayDo reports whether the caller may do an action that concerns no job
// (read metrics, ask for health).
func mayDo(c *caller, action auth.Action) error {
	if auth.Decide(c.identity, action, "") != auth.Allow {
		return &apiError{http.StatusForbidden, api.CodeForbidden,
			fmt.Sprintf("role %q may not read the server's %s", c.identity.Role, action)}
	}
	return nil
}

// maySee reports whether a job of owner belongs in the caller's list.
func maySee(c *caller, owner string) bool {
	return auth.Decide(c.identity, auth.ActionQuery, owner) == auth.Allow
}

// visibleJob returns job id if the caller may do action to it. A job the
// caller may not see is answered exactly as a missing one.
func (s *Server) visibleJob(c *caller, action auth.Action, id int64) (worker.Snapshot, error) {
	if err := mayAct(c, action); err != nil {
		return worker.Snapshot{}, err
	}
	snap, err := s.pool.Query(id)
	if errors.Is(err, worker.ErrNotFound) {
		return worker.Snapshot{}, errNoJob(id)
	}
	if err != nil {
		return worker.Snapshot{}, err
	}
	if auth.Decide(c.identity, action, snap.Owner) != auth.Allow {
		return worker.Snapshot{}, errNoJob(id)
	}
	return snap, nil
}
