//go:build linux

package cli

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
)

// defaultRunAs is the user jobs run as when the server runs as root.
const defaultRunAs = "nobody"

// runAs resolves --run-as. A server run as root runs jobs as that user
// (nobody unless told), with no supplementary groups; a server run as
// anyone else can only run them as itself, and says so.
func runAs(value string) (*worker.Credential, error) {
	if os.Geteuid() != 0 {
		if value == "" || value == strconv.Itoa(os.Geteuid())+":"+strconv.Itoa(os.Getegid()) {
			return nil, nil
		}
		if u, err := user.Current(); err == nil && value == u.Username {
			return nil, nil
		}
		return nil, withHint(fmt.Errorf("--run-as %s: only a server run as root can run jobs as another user", value),
			"drop --run-as to run jobs as this server's user, or run rw serve as root")
	}
	if value == "" {
		value = defaultRunAs
	}
	if uid, gid, ok := strings.Cut(value, ":"); ok {
		u, uerr := strconv.ParseUint(uid, 10, 32)
		g, gerr := strconv.ParseUint(gid, 10, 32)
		if uerr != nil || gerr != nil {
			return nil, usagef("--run-as %q: give a user name or UID:GID, two numbers", value)
		}
		return &worker.Credential{Name: value, Uid: uint32(u), Gid: uint32(g)}, nil
	}
	u, err := user.Lookup(value)
	if err != nil {
		return nil, withHint(fmt.Errorf("--run-as %s: no such user on this host", value),
			"create the user (useradd --system --no-create-home %s), or give --run-as UID:GID", value)
	}
	uid, uerr := strconv.ParseUint(u.Uid, 10, 32)
	gid, gerr := strconv.ParseUint(u.Gid, 10, 32)
	if uerr != nil || gerr != nil {
		return nil, fmt.Errorf("--run-as %s: user has uid %q and gid %q, which are not numbers", value, u.Uid, u.Gid)
	}
	return &worker.Credential{Name: value, Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// checkDataDir checks that the jobs' user can reach their working
// directories, which live in the data directory: every directory above it
// must let others enter. A data directory the server owns that others may
// not enter is made enterable but not listable (0711).
// dir is absolute: dataDir made it so.
func checkDataDir(logger zerolog.Logger, dir string, cred *worker.Credential) error {
	if cred == nil {
		return nil
	}
	info, err := os.Stat(dir)
	if err != nil {
		return withHint(fmt.Errorf("data directory %s: %w", dir, err), "create it, or pass another --data-dir")
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && info.Mode().Perm()&0o001 == 0 && int(st.Uid) == os.Geteuid() {
		if err := os.Chmod(dir, info.Mode().Perm()|0o711); err != nil {
			return err
		}
		logger.Info().Str("data_dir", dir).Str("run_as", cred.Name).
			Msg("made the data directory enterable by others, not listable, so that jobs reach their working directories")
	}
	for d := dir; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o001 == 0 {
			return withHint(fmt.Errorf("data directory %s: %s runs the jobs and cannot enter %s, where their working directories are", dir, cred.Name, d),
				"choose a --data-dir that others may enter (chmod o+x on %s, or a directory such as /var/lib/rw)", d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// warnPermissions logs what would let others act as this server, or what
// would keep jobs from running: a readable server key, the CA private keys
// on the server, a jobs directory or job file the jobs' user may write, and
// job files the jobs' user may not run.
func warnPermissions(logger zerolog.Logger, pkiDir, jobsDir string, cred *worker.Credential) {
	key := filepath.Join(pkiDir, pki.ServerKey)
	if info, err := os.Stat(key); err == nil && info.Mode().Perm()&0o077 != 0 {
		logger.Warn().Str("file", key).Msg("the server's private key is readable by others: chmod 600 it")
	}
	var signing []string
	for _, name := range []string{pki.ServerCAKey, pki.ClientCAKey, pki.TokenKey} {
		if _, err := os.Stat(filepath.Join(pkiDir, name)); err == nil {
			signing = append(signing, name)
		}
	}
	if len(signing) > 0 {
		logger.Warn().Str("pki_dir", pkiDir).Strs("files", signing).
			Msg("the PKI directory holds private keys a running server never needs: move them to a directory of their own and keep it off this host; 'rw gen-certs --dir THAT_DIR' keeps working with them")
	}
	if info, err := os.Stat(jobsDir); err == nil && info.Mode().Perm()&0o022 != 0 {
		logger.Warn().Str("jobs_dir", jobsDir).Msg("the jobs directory is writable by others: anyone who can write there can run code as this server")
	}
	if cred == nil {
		return
	}
	_ = filepath.WalkDir(jobsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		switch {
		case writableBy(info, cred):
			logger.Warn().Str("file", path).Str("run_as", cred.Name).
				Msg("the jobs' user may write this file of the jobs directory, and so change what the next job runs: chmod go-w, and give it to another owner")
		case info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 && !runnableBy(info, cred):
			logger.Warn().Str("file", path).Str("run_as", cred.Name).
				Msg("the jobs' user may not run this file: jobs of it will fail to start; chmod o+rx it (scripts need read as well as execute)")
		}
		return nil
	})
}

// writableBy reports whether cred may write the file info describes.
func writableBy(info fs.FileInfo, cred *worker.Credential) bool {
	return permFor(info, cred)&0o2 != 0
}

// runnableBy reports whether cred may read and execute it: a script's
// interpreter reads it, a binary is executed.
func runnableBy(info fs.FileInfo, cred *worker.Credential) bool {
	return permFor(info, cred)&0o5 == 0o5
}

// permFor returns the three permission bits that apply to cred: the
// owner's, the group's or the others'.
func permFor(info fs.FileInfo, cred *worker.Credential) fs.FileMode {
	perm := info.Mode().Perm()
	st, ok := info.Sys().(*syscall.Stat_t)
	switch {
	case cred.Uid == 0:
		return 0o7
	case !ok:
		return perm & 0o7
	case st.Uid == cred.Uid:
		return perm >> 6 & 0o7
	case st.Gid == cred.Gid:
		return perm >> 3 & 0o7
	}
	return perm & 0o7
}
