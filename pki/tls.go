package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
)

// Suite is the one cipher suite rw speaks.
const Suite = tls.TLS_AES_128_GCM_SHA256

// ErrSuite is returned when a peer does not offer or did not negotiate
// TLS 1.3 with Suite.
var ErrSuite = errors.New("rw speaks only TLS 1.3 with TLS_AES_128_GCM_SHA256")

// Why two checks: Go does not let a tls.Config choose TLS 1.3 cipher suites
// (Config.CipherSuites applies to TLS 1.2 and below), so the suite cannot
// simply be configured.
//
//   - checkHello refuses, before any key exchange, a ClientHello that does
//     not offer the suite: the peer learns at once why it failed, and no
//     handshake work is spent on it.
//   - checkState refuses any connection whose negotiated version or suite is
//     not the one, on both sides. A client may offer the suite and still
//     get another one: Go's server picks by its own preference (AES-128
//     first where the CPU has AES instructions and the client prefers AES,
//     ChaCha20 first otherwise). This check is what guarantees the property;
//     the first only makes the common refusal early and clear.
//
// One consequence, documented in docs/security.md: a client that lists
// ChaCha20 before AES may be refused even though it offers AES-128.

func checkHello(hello *tls.ClientHelloInfo) error {
	if !slices.Contains(hello.SupportedVersions, tls.VersionTLS13) {
		return fmt.Errorf("client does not offer TLS 1.3: %w", ErrSuite)
	}
	if !slices.Contains(hello.CipherSuites, Suite) {
		return fmt.Errorf("client does not offer TLS_AES_128_GCM_SHA256: %w", ErrSuite)
	}
	return nil
}

func checkState(cs tls.ConnectionState) error {
	if cs.Version != tls.VersionTLS13 || cs.CipherSuite != Suite {
		return fmt.Errorf("negotiated %s with %s: %w", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), ErrSuite)
	}
	return nil
}

// NewServerTLS returns the server's TLS configuration: TLS 1.3 with Suite
// only, presenting cert, and requiring a client certificate that chains to
// clientCAs with the ClientAuth extended key usage (the default for
// RequireAndVerifyClientCert).
func NewServerTLS(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	base := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{cert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        clientCAs,
		VerifyConnection: checkState,
		// Without tickets every connection presents and verifies its
		// client certificate afresh, instead of resuming a session that
		// carries an earlier handshake's verification.
		SessionTicketsDisabled: true,
	}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if err := checkHello(hello); err != nil {
			return nil, err
		}
		return base, nil
	}
	return cfg
}

// NewClientTLS returns a client's TLS configuration: TLS 1.3 with Suite only,
// presenting cert, and trusting only serverCA for server certificates with
// the ServerAuth extended key usage (the default for a client).
func NewClientTLS(cert tls.Certificate, serverCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{cert},
		RootCAs:          serverCAs,
		VerifyConnection: checkState,
	}
}

// LoadServerTLS builds the server's configuration from a PKI directory. It
// reads server.pem, server-key.pem and client-ca.pem and nothing else.
func LoadServerTLS(dir string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, ServerCert), filepath.Join(dir, ServerKey))
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	pool, err := LoadPool(filepath.Join(dir, ClientCACert))
	if err != nil {
		return nil, err
	}
	return NewServerTLS(cert, pool), nil
}

// LoadClientTLS builds a client's configuration from the paths of its
// certificate, key and the server CA.
func LoadClientTLS(certPath, keyPath, serverCAPath string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	pool, err := LoadPool(serverCAPath)
	if err != nil {
		return nil, err
	}
	return NewClientTLS(cert, pool), nil
}

// LoadPool returns a pool holding the one CA certificate at path.
func LoadPool(path string) (*x509.CertPool, error) {
	ca, err := ReadCert(path)
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	if !ca.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate", path)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}
