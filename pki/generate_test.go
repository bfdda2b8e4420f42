package pki

import (
	"crypto/ecdsa"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// generate runs Generate into dir and fails the test on error.
func generate(t testing.TB, dir string, force bool, users ...string) Report {
	t.Helper()
	var specs []UserSpec
	for _, u := range users {
		s, err := ParseUserSpec(u)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	r, err := Generate(GenerateOptions{Dir: dir, Users: specs, Force: force})
	if err != nil {
		t.Fatalf("Generate(%v): %v", users, err)
	}
	return r
}

// snapshotDir maps every file under dir to its contents.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestGenerateLayoutAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	generate(t, dir, false, "alice:admin", "bob")
	want := map[string]os.FileMode{
		".":                     0o700,
		"clients":               0o700,
		"server-ca.pem":         0o644,
		"server-ca-key.pem":     0o400,
		"client-ca.pem":         0o644,
		"client-ca-key.pem":     0o400,
		"server.pem":            0o644,
		"server-key.pem":        0o600,
		"token-key.pem":         0o600,
		"token-pub.pem":         0o644,
		"clients/alice.pem":     0o644,
		"clients/alice-key.pem": 0o600,
		"clients/alice.jwt":     0o600,
		"clients/bob.pem":       0o644,
		"clients/bob-key.pem":   0o600,
		"clients/bob.jwt":       0o600,
	}
	var got []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		got = append(got, rel)
		return err
	})
	var wantNames []string
	for name := range want {
		wantNames = append(wantNames, name)
	}
	slices.Sort(got)
	slices.Sort(wantNames)
	if !slices.Equal(got, wantNames) {
		t.Fatalf("files = %v\nwant %v", got, wantNames)
	}
	for name, mode := range want {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, info.Mode().Perm(), mode)
		}
	}

	serverCA := mustCert(t, filepath.Join(dir, ServerCACert))
	clientCA := mustCert(t, filepath.Join(dir, ClientCACert))
	if serverCA.Equal(clientCA) || serverCA.PublicKey.(*ecdsa.PublicKey).Equal(clientCA.PublicKey) {
		t.Fatal("the two CAs are the same")
	}
	for _, ca := range []struct {
		name string
	}{{ServerCACert}, {ClientCACert}} {
		c := mustCert(t, filepath.Join(dir, ca.name))
		if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero || len(c.SubjectKeyId) == 0 || c.CheckSignatureFrom(c) != nil {
			t.Errorf("%s is not a self-signed CA with path length zero and a key id", ca.name)
		}
		if c.SerialNumber.BitLen() < 64 {
			t.Errorf("%s: serial %v is not random", ca.name, c.SerialNumber)
		}
	}
	server := mustCert(t, filepath.Join(dir, ServerCert))
	if server.CheckSignatureFrom(serverCA) != nil || server.IsCA || len(server.ExtKeyUsage) != 1 {
		t.Errorf("server certificate: bad issuer or usage")
	}
	if !slices.Equal(server.DNSNames, []string{"localhost"}) || len(server.IPAddresses) != 2 {
		t.Errorf("server names: %v %v", server.DNSNames, server.IPAddresses)
	}
	alice := mustCert(t, filepath.Join(dir, "clients/alice.pem"))
	id, err := ClientIdentity(alice)
	if err != nil || id != (Identity{"alice", RoleAdmin}) || alice.CheckSignatureFrom(clientCA) != nil {
		t.Errorf("alice: %+v, %v", id, err)
	}
	bob := mustCert(t, filepath.Join(dir, "clients/bob.pem"))
	if id, _ := ClientIdentity(bob); id.Role != RoleUser {
		t.Errorf("bob's default role = %q, want user", id.Role)
	}
}

func TestGenerateIsIdempotentAndAddsUsers(t *testing.T) {
	dir := t.TempDir()
	generate(t, dir, false, "alice:admin")
	before := snapshotDir(t, dir)
	r := generate(t, dir, false, "alice:admin")
	if len(r.Wrote) != 0 {
		t.Errorf("second run wrote %v", r.Wrote)
	}
	if after := snapshotDir(t, dir); !mapsEqual(before, after) {
		t.Error("second run changed files")
	}
	r = generate(t, dir, false, "carol")
	if !slices.Equal(r.Wrote, []string{"clients/carol.pem", "clients/carol-key.pem", "clients/carol.jwt"}) {
		t.Errorf("adding carol wrote %v", r.Wrote)
	}
	after := snapshotDir(t, dir)
	for name, content := range before {
		if after[name] != content {
			t.Errorf("adding carol changed %s", name)
		}
	}
	carol := mustCert(t, filepath.Join(dir, "clients/carol.pem"))
	if err := carol.CheckSignatureFrom(mustCert(t, filepath.Join(dir, ClientCACert))); err != nil {
		t.Errorf("carol not signed by the existing client CA: %v", err)
	}
}

func TestGenerateForceReissuesEverything(t *testing.T) {
	dir := t.TempDir()
	generate(t, dir, false, "alice:admin", "bob")
	before := snapshotDir(t, dir)
	generate(t, dir, true, "bob:admin")
	after := snapshotDir(t, dir)
	for name := range before {
		if after[name] == before[name] {
			t.Errorf("--force kept %s", name)
		}
	}
	clientCA := mustCert(t, filepath.Join(dir, ClientCACert))
	for user, role := range map[string]Role{"alice": RoleAdmin, "bob": RoleAdmin} {
		c := mustCert(t, filepath.Join(dir, "clients", user+".pem"))
		id, _ := ClientIdentity(c)
		if c.CheckSignatureFrom(clientCA) != nil || id.Role != role {
			t.Errorf("%s after --force: role %s, signed by new CA: %v", user, id.Role, c.CheckSignatureFrom(clientCA) == nil)
		}
	}
}

func TestGenerateBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name  string
		opts  GenerateOptions
		setup func(dir string)
		want  error
	}{
		{name: "unknown role", opts: GenerateOptions{Users: []UserSpec{{"alice", "root"}}}},
		{name: "path as user name", opts: GenerateOptions{Users: []UserSpec{{"../alice", RoleUser}}}},
		{name: "upper-case user name", opts: GenerateOptions{Users: []UserSpec{{"Alice", RoleUser}}}},
		{name: "user twice", opts: GenerateOptions{Users: []UserSpec{{"alice", RoleUser}, {"alice", RoleAdmin}}}},
		{name: "bad host", opts: GenerateOptions{Hosts: []string{"-bad-.example"}}},
		{name: "host with space", opts: GenerateOptions{Hosts: []string{"a b"}}},
		{name: "unwritable dir", opts: GenerateOptions{Dir: filepath.Join(file, "pki")}},
		{name: "CA certificate without key", setup: func(dir string) {
			generate(t, dir, false)
			os.Remove(filepath.Join(dir, ClientCAKey))
		}, want: ErrIncomplete},
		{name: "CA key without certificate", setup: func(dir string) {
			generate(t, dir, false)
			os.Remove(filepath.Join(dir, ServerCACert))
		}, want: ErrIncomplete},
		{name: "server certificate from another CA", setup: func(dir string) {
			generate(t, dir, false)
			os.Remove(filepath.Join(dir, ServerCACert))
			os.Remove(filepath.Join(dir, ServerCAKey))
		}, want: ErrConflict},
		{name: "existing server certificate for other names", opts: GenerateOptions{Hosts: []string{"rw.example.com"}}, setup: func(dir string) {
			generate(t, dir, false)
		}, want: ErrConflict},
		{name: "existing user with another role", opts: GenerateOptions{Users: []UserSpec{{"bob", RoleAdmin}}}, setup: func(dir string) {
			generate(t, dir, false, "bob")
		}, want: ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(dir)
			}
			if tc.opts.Dir == "" {
				tc.opts.Dir = dir
			}
			// A directory others may enter is the user's choice until
			// Generate has something to write into it.
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			before := snapshotDir(t, dir)
			_, err := Generate(tc.opts)
			if err == nil {
				t.Fatal("Generate succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if after := snapshotDir(t, dir); !mapsEqual(before, after) {
				t.Errorf("a failed Generate changed the directory:\nbefore %v\nafter  %v", keys(before), keys(after))
			}
			if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o755 {
				t.Errorf("a failed Generate changed the directory's mode: %v, %v", info.Mode(), err)
			}
		})
	}
}

func TestGenerateKeepsServerForTheSameNames(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(GenerateOptions{Dir: dir, Hosts: []string{"rw.example.com", "10.0.0.5"}}); err != nil {
		t.Fatal(err)
	}
	r, err := Generate(GenerateOptions{Dir: dir, Hosts: []string{"10.0.0.5", "RW.example.com"}})
	if err != nil || !slices.Contains(r.Kept, ServerCert) {
		t.Fatalf("same names in another order: %v, kept %v", err, r.Kept)
	}
	// Without --host, the existing certificate is kept whatever its names.
	if _, err := Generate(GenerateOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	// Removing it issues it again, signed by the same CA.
	os.Remove(filepath.Join(dir, ServerCert))
	os.Remove(filepath.Join(dir, ServerKey))
	r, err = Generate(GenerateOptions{Dir: dir, Hosts: []string{"localhost"}})
	if err != nil || !slices.Equal(r.Wrote, []string{ServerCert, ServerKey}) {
		t.Fatalf("reissue: %v, wrote %v", err, r.Wrote)
	}
	if err := mustCert(t, filepath.Join(dir, ServerCert)).CheckSignatureFrom(mustCert(t, filepath.Join(dir, ServerCACert))); err != nil {
		t.Error(err)
	}
}

func TestGeneratedTokenVerifies(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	generate(t, dir, false, "alice:admin")
	raw, err := os.ReadFile(filepath.Join(dir, "clients/alice.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ReadPublicKey(filepath.Join(dir, TokenPub))
	if err != nil {
		t.Fatal(err)
	}
	cert := mustCert(t, filepath.Join(dir, "clients/alice.pem"))
	id, err := VerifyToken(strings.TrimSpace(string(raw)), pub, cert, time.Now())
	if err != nil || id != (Identity{"alice", RoleAdmin}) {
		t.Fatalf("VerifyToken: %+v, %v", id, err)
	}
	if _, err := VerifyToken(strings.TrimSpace(string(raw)), pub, cert, start.Add(DefaultTokenLifetime+time.Hour)); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("token valid past its lifetime: %v", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
