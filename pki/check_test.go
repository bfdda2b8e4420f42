package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestCheckServerDir(t *testing.T) {
	copyFile := func(t *testing.T, from, to string) {
		t.Helper()
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		spoil func(t *testing.T, f *fixture)
		want  string // "": accepted; else the error wraps ErrServerPKI and says this
	}{
		{"as gen-certs made it", func(*testing.T, *fixture) {}, ""},
		{"without server-ca.pem, which the server does not need", func(t *testing.T, f *fixture) {
			if err := os.Remove(f.path(ServerCACert)); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"a P-384 token key", func(t *testing.T, f *fixture) {
			key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			pem, err := encodePublicKey(&key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path(TokenPub), pem, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "P-384"},
		{"the server CA as client CA", func(t *testing.T, f *fixture) {
			copyFile(t, f.path(ServerCACert), f.path(ClientCACert))
		}, "client-ca.pem is the server CA"},
		{"the server CA as client CA, without server-ca.pem", func(t *testing.T, f *fixture) {
			copyFile(t, f.path(ServerCACert), f.path(ClientCACert))
			if err := os.Remove(f.path(ServerCACert)); err != nil {
				t.Fatal(err)
			}
		}, "server.pem is signed by client-ca.pem"},
		{"a server certificate from the client CA", func(t *testing.T, f *fixture) {
			f.issue(t, f.clientCA, "server", LeafOptions{CommonName: "localhost", DNSNames: []string{"localhost"}})
		}, "server.pem is not signed by server-ca.pem"},
		{"a server certificate from the client CA, without server-ca.pem", func(t *testing.T, f *fixture) {
			f.issue(t, f.clientCA, "server", LeafOptions{CommonName: "localhost", DNSNames: []string{"localhost"}})
			if err := os.Remove(f.path(ServerCACert)); err != nil {
				t.Fatal(err)
			}
		}, "server.pem is signed by client-ca.pem"},
		{"a server certificate from another server CA", func(t *testing.T, f *fixture) {
			other := newFixture(t)
			copyFile(t, other.path(ServerCert), f.path(ServerCert))
			copyFile(t, other.path(ServerKey), f.path(ServerKey))
		}, "not signed by server-ca.pem"},
		{"a client certificate as server.pem", func(t *testing.T, f *fixture) {
			f.issue(t, f.serverCA, "server", LeafOptions{CommonName: "localhost", Client: true})
		}, "not a server certificate"},
		{"another key as server-key.pem", func(t *testing.T, f *fixture) {
			_, keyPath, _ := ClientFiles("alice")
			copyFile(t, f.path(keyPath), f.path(ServerKey))
		}, "same 'rw gen-certs' run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.spoil(t, f)
			err := CheckServerDir(f.dir)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatal("accepted")
			case !errors.Is(err, ErrServerPKI) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "rw gen-certs"):
				t.Errorf("error %q, want %v saying %q and what to run", err, ErrServerPKI, tc.want)
			}
		})
	}
}

func TestCheckServerDirMissingFiles(t *testing.T) {
	for _, name := range []string{TokenPub, ServerCert, ServerKey, ClientCACert} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			if err := os.Remove(f.path(name)); err != nil {
				t.Fatal(err)
			}
			err := CheckServerDir(f.dir)
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("without %s: %v, want %v", name, err, os.ErrNotExist)
			}
		})
	}
}
