//go:build linux

// Package testenv is the one fixture for tests that need a PKI, a jobs
// directory or a live rw server on loopback. Everything it makes lives in
// the test's temporary directories and ends with the test.
//
// It is for tests only: no other package imports it.
package testenv

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/pki"
)

// Identity is a client's certificate and the token bound to it.
type Identity struct {
	Name  string
	Cert  tls.Certificate
	Token string
}

// Leaf returns the identity's certificate.
func (id Identity) Leaf() *x509.Certificate {
	if id.Cert.Leaf != nil {
		return id.Cert.Leaf
	}
	c, _ := x509.ParseCertificate(id.Cert.Certificate[0])
	return c
}

// PKI is a PKI directory made by 'rw gen-certs' for one test, and the
// identities in it.
type PKI struct {
	Dir      string
	TokenKey *ecdsa.PrivateKey
	ClientCA *pki.Issued
	// IDs holds alice (admin), bob and dave (users), and carol, whose role
	// ("auditor") this version does not know: authenticated, allowed
	// nothing.
	IDs map[string]Identity
}

// NewPKI generates a PKI in a temporary directory.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	users := []pki.UserSpec{{Name: "alice", Role: pki.RoleAdmin}, {Name: "bob", Role: pki.RoleUser}, {Name: "dave", Role: pki.RoleUser}}
	if _, err := pki.Generate(pki.GenerateOptions{Dir: dir, Users: users}); err != nil {
		t.Fatal(err)
	}
	p := &PKI{Dir: dir, IDs: map[string]Identity{}}
	var err error
	if p.TokenKey, err = pki.ReadKey(filepath.Join(dir, pki.TokenKey)); err != nil {
		t.Fatal(err)
	}
	if p.ClientCA, err = pki.ReadIssued(filepath.Join(dir, pki.ClientCACert), filepath.Join(dir, pki.ClientCAKey)); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		certPath, keyPath, tokenPath := pki.ClientFiles(u.Name)
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certPath), filepath.Join(dir, keyPath))
		if err != nil {
			t.Fatal(err)
		}
		token, err := os.ReadFile(filepath.Join(dir, tokenPath))
		if err != nil {
			t.Fatal(err)
		}
		p.IDs[u.Name] = Identity{Name: u.Name, Cert: cert, Token: strings.TrimSpace(string(token))}
	}
	p.IDs["carol"] = p.Issue(t, "carol", "auditor")
	return p
}

// Issue makes a new client identity with role, signed by the client CA and
// valid for an hour.
func (p *PKI) Issue(t testing.TB, name, role string) Identity {
	t.Helper()
	leaf, err := p.ClientCA.Issue(pki.LeafOptions{CommonName: name, OrganizationalUnit: role, Client: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	token, err := pki.IssueToken(p.TokenKey, leaf.Cert, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return Identity{Name: name, Cert: tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key, Leaf: leaf.Cert}, Token: token}
}

// ClientTLS returns a client TLS configuration that presents id and trusts
// the PKI's server CA.
func (p *PKI) ClientTLS(t testing.TB, id Identity) *tls.Config {
	t.Helper()
	pool, err := pki.LoadPool(filepath.Join(p.Dir, pki.ServerCACert))
	if err != nil {
		t.Fatal(err)
	}
	return pki.NewClientTLS(id.Cert, pool)
}

// Jobs are the scripts of JobsDir, by name. Each is a small shell script,
// so that tests read what a job does where they use it.
var Jobs = map[string]string{
	"sleep.sh": "#!/bin/sh\necho ready\nexec sleep 600\n",
	"slow.sh":  "#!/bin/sh\necho before\nsleep 0.5\necho after\n",
	"exit3.sh": "#!/bin/sh\necho failing\nexit 3\n",
	"lines.sh": "#!/bin/sh\ni=0\nwhile [ $i -lt $1 ]; do echo line $i; i=$((i+1)); sleep 0.01; done\n",
	"zeros.sh": "#!/bin/sh\nexec head -c \"$1\" /dev/zero\n",
	"echo.sh":  "#!/bin/sh\nprintf '%s\\n' \"$@\"\n",
	// ignore.sh ignores SIGTERM: only SIGKILL ends it.
	"ignore.sh": "#!/bin/sh\ntrap '' TERM\necho ignoring\nwhile :; do sleep 1; done\n",
}

// JobsDir makes a jobs directory holding the Jobs scripts, the quick
// start's add.exe, a script without an execute bit (notexec.txt) and an
// empty directory (sub).
func JobsDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	add, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "jobs", "add.exe"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"add.exe": add}
	for name, body := range Jobs {
		files[name] = []byte(body)
	}
	files["notexec.txt"] = []byte("#!/bin/sh\necho no\n")
	for name, body := range files {
		mode := os.FileMode(0o755)
		if name == "notexec.txt" {
			mode = 0o644
		}
		// Chmod, not WriteFile's mode alone: a server run in this
		// process sets the umask to 077, and jobs may run as another user.
		path := filepath.Join(dir, name)
		if err := errors.Join(os.WriteFile(path, body, mode), os.Chmod(path, mode)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// repoRoot is the repository's top directory, found from this file's
// place in it, so that any package's tests can read testdata.
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot find its own source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}
