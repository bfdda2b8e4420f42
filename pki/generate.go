package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rw-project/rw/internal/ondisk"
)

// UserSpec names a client identity to create.
type UserSpec struct {
	Name string
	Role Role
}

// ParseUserSpec parses NAME or NAME:ROLE; the role defaults to RoleUser.
func ParseUserSpec(s string) (UserSpec, error) {
	name, role, hasRole := strings.Cut(s, ":")
	if err := ValidateUserName(name); err != nil {
		return UserSpec{}, err
	}
	u := UserSpec{Name: name, Role: RoleUser}
	if hasRole {
		r, err := ParseRole(role)
		if err != nil {
			return UserSpec{}, err
		}
		u.Role = r
	}
	return u, nil
}

// DefaultHosts are the server's names when none are given.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// GenerateOptions says what Generate creates.
type GenerateOptions struct {
	Dir   string
	Users []UserSpec
	// Hosts are the server certificate's names; DefaultHosts if empty.
	Hosts []string
	// Force replaces existing files instead of keeping them: new CAs, server
	// certificate and token key, and every client identity issued again
	// with its role (a role given in Users wins).
	Force bool
	// TokenLifetime is DefaultTokenLifetime if zero.
	TokenLifetime time.Duration
	// Now is time.Now if nil; tests move it.
	Now func() time.Time
}

// Report lists the files Generate wrote and kept, relative to the
// directory.
type Report struct {
	Wrote []string
	Kept  []string
}

// ErrIncomplete means a directory holds part of a pair (a CA certificate
// without its key, say): rw will not guess which half to trust.
var ErrIncomplete = errors.New("incomplete PKI directory")

// ErrConflict means an existing file does not fit what was asked (a user
// that exists with another role, a certificate signed by another CA).
var ErrConflict = errors.New("existing file conflicts with the request")

// Generate creates, in opts.Dir, whatever of the rw PKI layout is missing:
// the two CAs, the server certificate, the token key pair, and one client
// identity per user. Existing files are kept unless opts.Force; new ones are
// signed by the existing CAs. Everything is validated and built in memory
// first and written under temporary names, then renamed into place, so bad
// input leaves no file behind and no file is ever half written.
func Generate(opts GenerateOptions) (Report, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	hosts := opts.Hosts
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	for _, h := range hosts {
		if err := ValidateHost(h); err != nil {
			return Report{}, err
		}
	}
	seen := map[string]bool{}
	for _, u := range opts.Users {
		if err := ValidateUserName(u.Name); err != nil {
			return Report{}, err
		}
		if _, err := ParseRole(string(u.Role)); err != nil {
			return Report{}, err
		}
		if seen[u.Name] {
			return Report{}, fmt.Errorf("user %q given twice", u.Name)
		}
		seen[u.Name] = true
	}

	users := opts.Users
	if opts.Force {
		// New CAs invalidate every certificate the old ones signed, so a
		// forced run issues every existing identity again, with its role,
		// rather than leave certificates that nothing trusts.
		existing, err := existingUsers(opts.Dir, seen)
		if err != nil {
			return Report{}, err
		}
		users = append(slices.Clone(users), existing...)
	}

	g := &generator{dir: opts.Dir, force: opts.Force, now: now()}
	if err := g.plan(hosts, len(opts.Hosts) > 0, users, opts.TokenLifetime); err != nil {
		return Report{}, err
	}
	if err := g.commit(); err != nil {
		return Report{}, err
	}
	return g.report, nil
}

// generator collects the files of one Generate call before they are
// committed.
type generator struct {
	dir    string
	force  bool
	now    time.Time
	files  []pending
	report Report
}

// pending is a file planned in memory, not yet written.
type pending struct {
	name string
	data []byte
	mode os.FileMode
}

func (g *generator) path(name string) string { return filepath.Join(g.dir, name) }

// keep reports whether name exists and is to be kept.
func (g *generator) keep(name string) bool {
	return !g.force && exists(g.path(name))
}

// add plans the file name; nothing is written before commit.
func (g *generator) add(name string, data []byte, mode os.FileMode) {
	g.files = append(g.files, pending{name: name, data: data, mode: mode})
	g.report.Wrote = append(g.report.Wrote, name)
}

// commit makes the directories private and writes every planned file: each
// is staged first, and only once all are staged are they renamed into place,
// so a failure (a full disk, say) leaves no file half written and none of
// the new set beside the old.
func (g *generator) commit() error {
	if err := os.MkdirAll(filepath.Join(g.dir, ClientsDir), modeDir); err != nil {
		return fmt.Errorf("create %s: %w", g.dir, err)
	}
	// MkdirAll leaves existing directories as they are; the PKI directory
	// holds private keys and must be private whoever created it.
	for _, d := range []string{g.dir, filepath.Join(g.dir, ClientsDir)} {
		if err := os.Chmod(d, modeDir); err != nil {
			return fmt.Errorf("make %s private: %w", d, err)
		}
	}
	staged := make([]*ondisk.Staged, 0, len(g.files))
	for _, f := range g.files {
		st, err := ondisk.Stage(g.path(f.name), f.data, f.mode)
		if err != nil {
			ondisk.DiscardAll(staged)
			return err
		}
		staged = append(staged, st)
	}
	return ondisk.CommitAll(staged)
}

// plan reads what exists and builds, in memory, every file to write.
// Nothing on disk changes, so an error here leaves the directory as it was.
func (g *generator) plan(hosts []string, explicitHosts bool, users []UserSpec, tokenLifetime time.Duration) error {
	serverCA, err := g.ca(ServerCACert, ServerCAKey, "rw server CA")
	if err != nil {
		return err
	}
	clientCA, err := g.ca(ClientCACert, ClientCAKey, "rw client CA")
	if err != nil {
		return err
	}
	if err := g.server(serverCA, hosts, explicitHosts); err != nil {
		return err
	}
	tokenKey, err := g.tokenKey()
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := g.client(clientCA, tokenKey, u, tokenLifetime); err != nil {
			return err
		}
	}
	return nil
}

// ca loads the CA in certName/keyName, or creates it.
func (g *generator) ca(certName, keyName, cn string) (*Issued, error) {
	hasCert, hasKey := exists(g.path(certName)), exists(g.path(keyName))
	if !g.force && (hasCert || hasKey) {
		if !hasKey {
			return nil, fmt.Errorf("%w: %s has no key %s; restore the key or start over with --force (which replaces every certificate it signed)", ErrIncomplete, certName, keyName)
		}
		if !hasCert {
			return nil, fmt.Errorf("%w: %s has no certificate %s; restore it or start over with --force", ErrIncomplete, keyName, certName)
		}
		ca, err := ReadIssued(g.path(certName), g.path(keyName))
		if err != nil {
			return nil, err
		}
		if !ca.Cert.IsCA {
			return nil, fmt.Errorf("%w: %s is not a CA certificate", ErrConflict, certName)
		}
		g.report.Kept = append(g.report.Kept, certName, keyName)
		return ca, nil
	}
	ca, err := NewCA(cn, g.now)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(ca.Key)
	if err != nil {
		return nil, err
	}
	g.add(certName, encodeCert(ca.Cert), modePublic)
	g.add(keyName, keyPEM, modeCAKey)
	return ca, nil
}

// signedBy checks that a kept certificate was signed by ca, so that a new CA
// never silently leaves old certificates that nothing trusts.
func (g *generator) signedBy(name string, ca *Issued) error {
	c, err := ReadCert(g.path(name))
	if err != nil {
		return err
	}
	if err := c.CheckSignatureFrom(ca.Cert); err != nil {
		return fmt.Errorf("%w: %s was not signed by the current CA; remove it or use --force", ErrConflict, name)
	}
	return nil
}

func (g *generator) server(ca *Issued, hosts []string, explicitHosts bool) error {
	if g.keep(ServerCert) || g.keep(ServerKey) {
		if err := g.signedBy(ServerCert, ca); err != nil {
			return err
		}
		kept, err := ReadIssued(g.path(ServerCert), g.path(ServerKey))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrIncomplete, err)
		}
		// Keeping a certificate for other names than the ones asked for
		// would look like success and fail at the first connection.
		if have := CertNames(kept.Cert); explicitHosts && !sameNames(have, hosts) {
			return fmt.Errorf("%w: %s is for %s, not %s; remove %s and %s to issue it again for the new names, signed by the same CA",
				ErrConflict, ServerCert, strings.Join(have, ", "), strings.Join(hosts, ", "), ServerCert, ServerKey)
		}
		g.report.Kept = append(g.report.Kept, ServerCert, ServerKey)
		return nil
	}
	opts := LeafOptions{CommonName: hosts[0], NotBefore: g.now.Add(-backdate), NotAfter: g.now.Add(LeafValidity)}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			opts.IPs = append(opts.IPs, ip)
		} else {
			opts.DNSNames = append(opts.DNSNames, h)
		}
	}
	leaf, err := ca.Issue(opts)
	if err != nil {
		return err
	}
	return g.addIssued(ServerCert, ServerKey, leaf)
}

func (g *generator) addIssued(certName, keyName string, leaf *Issued) error {
	keyPEM, err := encodeKey(leaf.Key)
	if err != nil {
		return err
	}
	g.add(certName, encodeCert(leaf.Cert), modePublic)
	g.add(keyName, keyPEM, modeKey)
	return nil
}

func (g *generator) tokenKey() (*Issued, error) {
	if g.keep(TokenKey) || g.keep(TokenPub) {
		key, err := ReadKey(g.path(TokenKey))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrIncomplete, err)
		}
		pub, err := ReadPublicKey(g.path(TokenPub))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrIncomplete, err)
		}
		if !pub.Equal(key.Public()) {
			return nil, fmt.Errorf("%w: %s is not the public half of %s", ErrConflict, TokenPub, TokenKey)
		}
		g.report.Kept = append(g.report.Kept, TokenKey, TokenPub)
		return &Issued{Key: key}, nil
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	pubPEM, err := encodePublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	g.add(TokenKey, keyPEM, modeKey)
	g.add(TokenPub, pubPEM, modePublic)
	return &Issued{Key: key}, nil
}

func (g *generator) client(ca, tokenKey *Issued, u UserSpec, lifetime time.Duration) error {
	certName, keyName, tokenName := ClientFiles(u.Name)
	if g.keep(certName) || g.keep(keyName) || g.keep(tokenName) {
		issued, err := ReadIssued(g.path(certName), g.path(keyName))
		if err != nil {
			return fmt.Errorf("%w: user %s: %v; remove the user's files or use --force", ErrIncomplete, u.Name, err)
		}
		if err := g.signedBy(certName, ca); err != nil {
			return err
		}
		id, err := ClientIdentity(issued.Cert)
		if err != nil {
			return err
		}
		if id.Role != u.Role {
			return fmt.Errorf("%w: user %s exists with role %s, not %s; use --force to issue it again", ErrConflict, u.Name, id.Role, u.Role)
		}
		if !exists(g.path(tokenName)) {
			return fmt.Errorf("%w: user %s has no token %s; use --force to issue it again", ErrIncomplete, u.Name, tokenName)
		}
		g.report.Kept = append(g.report.Kept, certName, keyName, tokenName)
		return nil
	}
	leaf, err := ca.Issue(LeafOptions{
		CommonName:         u.Name,
		OrganizationalUnit: string(u.Role),
		Client:             true,
		NotBefore:          g.now.Add(-backdate),
		NotAfter:           g.now.Add(LeafValidity),
	})
	if err != nil {
		return err
	}
	token, err := IssueToken(tokenKey.Key, leaf.Cert, g.now, lifetime)
	if err != nil {
		return err
	}
	if err := g.addIssued(certName, keyName, leaf); err != nil {
		return err
	}
	// The token grants access together with the key, so it is kept as
	// privately.
	g.add(tokenName, []byte(token+"\n"), modeKey)
	return nil
}

// sameNames reports whether two lists hold the same names in any order, IP
// addresses compared as addresses.
func sameNames(a, b []string) bool {
	norm := func(names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			if ip := net.ParseIP(n); ip != nil {
				n = ip.String()
			}
			out[i] = strings.ToLower(n)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// existingUsers returns the identities in dir's clients folder that are not
// in skip, with the roles their certificates carry.
func existingUsers(dir string, skip map[string]bool) ([]UserSpec, error) {
	names, err := ClientNames(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var users []UserSpec
	for _, name := range names {
		if skip[name] {
			continue
		}
		certPath, _, _ := ClientFiles(name)
		c, err := ReadCert(filepath.Join(dir, certPath))
		if err != nil {
			return nil, fmt.Errorf("%w: %v; remove the user's files or restore them", ErrIncomplete, err)
		}
		id, err := ClientIdentity(c)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConflict, certPath, err)
		}
		users = append(users, UserSpec{Name: id.User, Role: id.Role})
	}
	return users, nil
}

// ClientNames lists the users with a certificate in dir's clients folder.
func ClientNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, ClientsDir))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pem")
		if ok && !strings.HasSuffix(name, "-key") && ValidateUserName(name) == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}
