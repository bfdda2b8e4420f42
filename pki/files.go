package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rw-project/rw/internal/ondisk"
)

// The layout of a PKI directory, as rw gen-certs writes it.
const (
	ServerCACert = "server-ca.pem"
	ServerCAKey  = "server-ca-key.pem"
	ClientCACert = "client-ca.pem"
	ClientCAKey  = "client-ca-key.pem"
	ServerCert   = "server.pem"
	ServerKey    = "server-key.pem"
	TokenKey     = "token-key.pem"
	TokenPub     = "token-pub.pem"
	ClientsDir   = "clients"
)

// ClientFiles returns the paths of user's certificate, key and token,
// relative to the PKI directory.
func ClientFiles(user string) (cert, key, token string) {
	base := filepath.Join(ClientsDir, user)
	return base + ".pem", base + "-key.pem", base + ".jwt"
}

// File modes: private keys readable by their owner only, CA keys not even
// writable, public material readable by all, directories private.
const (
	modeCAKey  = 0o400
	modeKey    = 0o600
	modePublic = 0o644
	modeDir    = 0o700
)

// DefaultDir returns the PKI directory used when none is given: rw/pki under
// the user's configuration directory.
func DefaultDir() (string, error) {
	return ondisk.ConfigDir("pki")
}

func encodeCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func encodePublicKey(k *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// readPEM returns the DER bytes of the file at path, which must hold exactly
// one PEM block, of the given type.
func readPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("%s: no PEM %q block", path, typ)
	}
	if len(rest) > 0 {
		if b, _ := pem.Decode(rest); b != nil {
			return nil, fmt.Errorf("%s: more than one PEM block", path)
		}
	}
	return block.Bytes, nil
}

// ReadCert reads a PEM certificate file.
func ReadCert(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ReadKey reads a PEM PKCS #8 ECDSA private key file.
func ReadKey(path string) (*ecdsa.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA key", path)
	}
	return ec, nil
}

// ReadPublicKey reads a PEM PKIX ECDSA public key file.
func ReadPublicKey(path string) (*ecdsa.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA public key", path)
	}
	return ec, nil
}

// ReadIssued reads a certificate and its key, and checks they belong
// together.
func ReadIssued(certPath, keyPath string) (*Issued, error) {
	c, err := ReadCert(certPath)
	if err != nil {
		return nil, err
	}
	k, err := ReadKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !k.PublicKey.Equal(c.PublicKey) {
		return nil, fmt.Errorf("%s is not the key of %s", keyPath, certPath)
	}
	return &Issued{Cert: c, Key: k}, nil
}

// exists reports whether path exists; errors other than "not exist" count
// as existing, so that they surface when the file is read.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
