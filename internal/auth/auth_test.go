package auth

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rw-project/rw/pki"
)

func TestDecide(t *testing.T) {
	alice := pki.Identity{User: "alice", Role: pki.RoleAdmin}
	bob := pki.Identity{User: "bob", Role: pki.RoleUser}
	auditor := pki.Identity{User: "carol", Role: "auditor"}
	tests := []struct {
		id     pki.Identity
		action Action
		owner  string
		want   Decision
	}{
		{alice, ActionStart, "", Allow},
		{alice, ActionQuery, "alice", Allow},
		{alice, ActionQuery, "bob", Allow},
		{alice, ActionStop, "bob", Allow},
		{alice, ActionLogs, "bob", Allow},
		{bob, ActionStart, "", Allow},
		{bob, ActionQuery, "bob", Allow},
		{bob, ActionStop, "bob", Allow},
		{bob, ActionLogs, "bob", Allow},
		{bob, ActionQuery, "alice", Hide},
		{bob, ActionStop, "alice", Hide},
		{bob, ActionLogs, "alice", Hide},
		{auditor, ActionStart, "", Deny},
		{auditor, ActionQuery, "carol", Deny},
		{auditor, ActionLogs, "alice", Deny},
		{pki.Identity{User: "x"}, ActionQuery, "x", Deny},
		{alice, Action("delete"), "alice", Deny},
		{bob, Action(""), "bob", Deny},
	}
	for _, tc := range tests {
		if got := Decide(tc.id, tc.action, tc.owner); got != tc.want {
			t.Errorf("Decide(%s as %s, %s, owner %q) = %s, want %s", tc.id.User, tc.id.Role, tc.action, tc.owner, got, tc.want)
		}
	}
}

func TestIdentify(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.Generate(pki.GenerateOptions{Dir: dir, Users: []pki.UserSpec{{Name: "alice", Role: pki.RoleAdmin}, {Name: "bob", Role: pki.RoleUser}}}); err != nil {
		t.Fatal(err)
	}
	pub, err := pki.ReadPublicKey(filepath.Join(dir, pki.TokenPub))
	if err != nil {
		t.Fatal(err)
	}
	load := func(user string) (*x509.Certificate, string) {
		certPath, _, tokenPath := pki.ClientFiles(user)
		cert, err := pki.ReadCert(filepath.Join(dir, certPath))
		if err != nil {
			t.Fatal(err)
		}
		token, err := os.ReadFile(filepath.Join(dir, tokenPath))
		if err != nil {
			t.Fatal(err)
		}
		return cert, strings.TrimSpace(string(token))
	}
	aliceCert, aliceToken := load("alice")
	bobCert, _ := load("bob")
	a := NewAuthenticator(pub)

	tests := []struct {
		name   string
		header string
		cert   *x509.Certificate
		want   error
	}{
		{"good", "Bearer " + aliceToken, aliceCert, nil},
		{"scheme in lower case", "bearer " + aliceToken, aliceCert, nil},
		{"no header", "", aliceCert, ErrNoToken},
		{"Basic scheme", "Basic YWxpY2U6c2VjcmV0", aliceCert, ErrNoToken},
		{"Bearer without token", "Bearer ", aliceCert, ErrNoToken},
		{"token without scheme", aliceToken, aliceCert, ErrNoToken},
		{"no certificate", "Bearer " + aliceToken, nil, ErrNoCertificate},
		{"alice's token with bob's certificate", "Bearer " + aliceToken, bobCert, pki.ErrTokenUser},
		{"garbage token", "Bearer x.y.z", aliceCert, pki.ErrTokenMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := a.Identify(tc.header, tc.cert)
			if tc.want == nil {
				if err != nil || id != (pki.Identity{User: "alice", Role: pki.RoleAdmin}) {
					t.Fatalf("Identify: %+v, %v", id, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Identify: %v, want %v", err, tc.want)
			}
		})
	}
}
