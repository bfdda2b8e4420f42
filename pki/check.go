package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
)

// ErrServerPKI means the files a server reads from its PKI directory do not
// fit together: each is readable, but the server would start and then
// refuse every client, or accept ones it should not.
var ErrServerPKI = errors.New("the PKI directory does not fit together")

// CheckServerDir checks, before a server starts, what it reads from dir
// beyond each file's own form: that token-pub.pem is an ECDSA P-256 key,
// the one kind of key ES256 tokens are signed with; that server-key.pem is
// the key of server.pem, which is for ServerAuth; that client-ca.pem is
// not the server CA; and, when server-ca.pem is there, that it signed
// server.pem. The error wraps ErrServerPKI and says what to do, or is the
// error of reading a file.
func CheckServerDir(dir string) error {
	path := func(name string) string { return filepath.Join(dir, name) }
	tokenPub, err := ReadPublicKey(path(TokenPub))
	if err != nil {
		return err
	}
	if err := checkTokenKey(tokenPub); err != nil {
		return err
	}
	server, err := ReadIssued(path(ServerCert), path(ServerKey))
	if err != nil {
		if !exists(path(ServerKey)) || !exists(path(ServerCert)) {
			return err
		}
		return fmt.Errorf("%w: %v: copy server.pem and server-key.pem from the same 'rw gen-certs' run, or remove both and run 'rw gen-certs' to issue them again", ErrServerPKI, err)
	}
	if !slices.Contains(server.Cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return fmt.Errorf("%w: %s is not a server certificate (it lacks the ServerAuth usage): remove server.pem and server-key.pem and run 'rw gen-certs' to issue them", ErrServerPKI, ServerCert)
	}
	clientCA, err := ReadCert(path(ClientCACert))
	if err != nil {
		return err
	}
	if exists(path(ServerCACert)) {
		serverCA, err := ReadCert(path(ServerCACert))
		if err != nil {
			return err
		}
		// The same key under another certificate is the same CA.
		if k, ok := serverCA.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); serverCA.Equal(clientCA) || ok && k.Equal(clientCA.PublicKey) {
			return fmt.Errorf("%w: %s is the server CA: clients must come from a CA of their own, or a certificate issued to a server would pass as a client; copy the client-ca.pem that 'rw gen-certs' made, or run 'rw gen-certs --force' to make a new PKI (every client then needs its new files)", ErrServerPKI, ClientCACert)
		}
		if err := server.Cert.CheckSignatureFrom(serverCA); err != nil {
			return fmt.Errorf("%w: %s is not signed by %s, so clients would refuse it: remove server.pem and server-key.pem and run 'rw gen-certs' to issue them again under %s", ErrServerPKI, ServerCert, ServerCACert, ServerCACert)
		}
	}
	// Signed by the client CA, the server's own certificate shows the two
	// CAs to be one even without server-ca.pem.
	if server.Cert.CheckSignatureFrom(clientCA) == nil {
		return fmt.Errorf("%w: %s is signed by %s, the CA of clients: clients must come from a CA of their own, or a certificate issued to a server would pass as a client; copy the client-ca.pem and server.pem that 'rw gen-certs' made, or run 'rw gen-certs --force' to make a new PKI (every client then needs its new files)", ErrServerPKI, ServerCert, ClientCACert)
	}
	return nil
}

// checkTokenKey refuses a token key that cannot verify ES256 signatures.
func checkTokenKey(pub *ecdsa.PublicKey) error {
	if pub.Curve == elliptic.P256() {
		return nil
	}
	return fmt.Errorf("%w: %s is an ECDSA %s key, but tokens are ES256, which needs P-256: move token-key.pem and token-pub.pem away, run 'rw gen-certs' to make a new pair, then 'rw gen-certs --renew NAME' to give each user a new token",
		ErrServerPKI, TokenPub, pub.Curve.Params().Name)
}
