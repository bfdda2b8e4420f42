package pki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := ReadCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture is a generated PKI directory plus odd certificates that a test
// cannot get from gen-certs.
type fixture struct {
	dir      string
	serverCA *Issued
	clientCA *Issued
	tokenKey *Issued
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	generate(t, dir, false, "alice:admin", "bob")
	f := &fixture{dir: dir}
	var err error
	if f.serverCA, err = ReadIssued(filepath.Join(dir, ServerCACert), filepath.Join(dir, ServerCAKey)); err != nil {
		t.Fatal(err)
	}
	if f.clientCA, err = ReadIssued(filepath.Join(dir, ClientCACert), filepath.Join(dir, ClientCAKey)); err != nil {
		t.Fatal(err)
	}
	key, err := ReadKey(filepath.Join(dir, TokenKey))
	if err != nil {
		t.Fatal(err)
	}
	f.tokenKey = &Issued{Key: key}
	return f
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

// client returns the issued identity of a generated user.
func (f *fixture) client(t testing.TB, user string) *Issued {
	t.Helper()
	certPath, keyPath, _ := ClientFiles(user)
	c, err := ReadIssued(f.path(certPath), f.path(keyPath))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issue signs a leaf with ca and writes it as name.pem and name-key.pem.
func (f *fixture) issue(t *testing.T, ca *Issued, name string, opts LeafOptions) *Issued {
	t.Helper()
	if opts.NotBefore.IsZero() {
		opts.NotBefore = time.Now().Add(-time.Hour)
		opts.NotAfter = time.Now().Add(time.Hour)
	}
	leaf, err := ca.Issue(opts)
	if err != nil {
		t.Fatal(err)
	}
	key, err := encodeKey(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path(name+".pem"), encodeCert(leaf.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path(name+"-key.pem"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	return leaf
}

func tlsCert(i *Issued) tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{i.Cert.Raw}, PrivateKey: i.Key, Leaf: i.Cert}
}
