package pki

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// greeting is what the test server sends after a successful handshake.
const greeting = "hello from rw"

// tlsServer accepts connections with the rw server configuration and reports
// each handshake's result.
type tlsServer struct {
	addr    string
	results chan error
}

func startTLSServer(t *testing.T, f *fixture) *tlsServer {
	t.Helper()
	cfg, err := LoadServerTLS(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{addr: ln.Addr().String(), results: make(chan error, 16)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(20 * time.Second))
				tc := tls.Server(conn, cfg)
				err := tc.Handshake()
				if err == nil {
					_, err = tc.Write([]byte(greeting + "\n"))
				}
				s.results <- err
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return s
}

// result returns the server side of the next connection.
func (s *tlsServer) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.results:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the server saw no connection")
		return nil
	}
}

func TestTLSWithGoClients(t *testing.T) {
	f := newFixture(t)
	srv := startTLSServer(t, f)
	serverCAs, err := LoadPool(f.path(ServerCACert))
	if err != nil {
		t.Fatal(err)
	}
	alice := f.client(t, "alice")
	expired := f.issue(t, f.clientCA, "expired", LeafOptions{CommonName: "eve", OrganizationalUnit: "user", Client: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	wrongCA := f.issue(t, f.serverCA, "wrong-ca", LeafOptions{CommonName: "eve", OrganizationalUnit: "user", Client: true})
	serverUsage := f.issue(t, f.clientCA, "server-usage", LeafOptions{CommonName: "eve", OrganizationalUnit: "user"})
	serverCert, err := ReadIssued(f.path(ServerCert), f.path(ServerKey))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		config func() *tls.Config
		ok     bool
	}{
		{"good client", func() *tls.Config { return NewClientTLS(tlsCert(alice), serverCAs) }, true},
		{"TLS 1.2", func() *tls.Config {
			c := NewClientTLS(tlsCert(alice), serverCAs)
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return c
		}, false},
		{"no client certificate", func() *tls.Config { return NewClientTLS(tls.Certificate{}, serverCAs) }, false},
		{"expired client certificate", func() *tls.Config { return NewClientTLS(tlsCert(expired), serverCAs) }, false},
		{"client certificate signed by the server CA", func() *tls.Config { return NewClientTLS(tlsCert(wrongCA), serverCAs) }, false},
		{"client CA certificate without ClientAuth usage", func() *tls.Config { return NewClientTLS(tlsCert(serverUsage), serverCAs) }, false},
		{"the server's own certificate as client certificate", func() *tls.Config { return NewClientTLS(tlsCert(serverCert), serverCAs) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.config()
			cfg.ServerName = "localhost"
			got, clientErr := dialAndRead(srv.addr, cfg)
			serverErr := srv.result(t)
			if tc.ok {
				if clientErr != nil || serverErr != nil || got != greeting {
					t.Fatalf("client %v, server %v, read %q", clientErr, serverErr, got)
				}
				return
			}
			if serverErr == nil || clientErr == nil {
				t.Fatalf("connection accepted: client %v, server %v", clientErr, serverErr)
			}
		})
	}
}

func dialAndRead(addr string, cfg *tls.Config) (string, error) {
	d := &tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 10 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	cs := conn.(*tls.Conn).ConnectionState()
	if cs.CipherSuite != Suite || cs.Version != tls.VersionTLS13 {
		return "", errors.New("negotiated " + tls.CipherSuiteName(cs.CipherSuite))
	}
	// In TLS 1.3 the server checks the client certificate after the
	// client's handshake is done, so a refusal shows on the first read.
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestClientRefusesWrongServer(t *testing.T) {
	f := newFixture(t)
	srv := startTLSServer(t, f)
	alice := f.client(t, "alice")

	// Trusting the client CA instead of the server CA.
	clientCAs, _ := LoadPool(f.path(ClientCACert))
	cfg := NewClientTLS(tlsCert(alice), clientCAs)
	cfg.ServerName = "localhost"
	if _, err := dialAndRead(srv.addr, cfg); err == nil {
		t.Error("client accepted a server signed by a CA it does not trust")
	}
	srv.result(t)

	// The right CA, the wrong name.
	serverCAs, _ := LoadPool(f.path(ServerCACert))
	cfg = NewClientTLS(tlsCert(alice), serverCAs)
	cfg.ServerName = "rw.example.com"
	var hostErr x509.HostnameError
	if _, err := dialAndRead(srv.addr, cfg); !errors.As(err, &hostErr) {
		t.Errorf("client accepted a certificate for another name: %v", err)
	}
	srv.result(t)
}

// TestTLSWithOpenSSL drives the server with openssl s_client, a peer nobody
// here wrote.
func TestTLSWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed: .ci/run installs it; install it to run this test")
	}
	f := newFixture(t)
	srv := startTLSServer(t, f)
	f.issue(t, f.clientCA, "expired", LeafOptions{CommonName: "eve", OrganizationalUnit: "user", Client: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	f.issue(t, f.serverCA, "wrong-ca", LeafOptions{CommonName: "eve", OrganizationalUnit: "user", Client: true})

	alice := []string{"-cert", f.path("clients/alice.pem"), "-key", f.path("clients/alice-key.pem")}
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"good client", append([]string{"-ciphersuites", "TLS_AES_128_GCM_SHA256"}, alice...), true},
		{"good client with openssl's default suites", alice, true},
		{"TLS 1.2", append([]string{"-tls1_2"}, alice...), false},
		{"only TLS_AES_256_GCM_SHA384", append([]string{"-ciphersuites", "TLS_AES_256_GCM_SHA384"}, alice...), false},
		{"only TLS_CHACHA20_POLY1305_SHA256", append([]string{"-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"}, alice...), false},
		// Offered, but listed after ChaCha20: Go's server then picks
		// ChaCha20, and the negotiated-suite check refuses the connection.
		{"TLS_AES_128_GCM_SHA256 offered after ChaCha20", append([]string{"-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"}, alice...), false},
		{"no client certificate", nil, false},
		{"client certificate signed by the server CA", []string{"-cert", f.path("wrong-ca.pem"), "-key", f.path("wrong-ca-key.pem")}, false},
		{"expired client certificate", []string{"-cert", f.path("expired.pem"), "-key", f.path("expired-key.pem")}, false},
		{"the server's own certificate", []string{"-cert", f.path(ServerCert), "-key", f.path(ServerKey)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"s_client", "-connect", srv.addr, "-servername", "localhost",
				"-CAfile", f.path(ServerCACert), "-verify_return_error", "-ign_eof"}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, args...)
			out, _ := cmd.CombinedOutput()
			serverErr := srv.result(t)
			got := strings.Contains(string(out), greeting)
			if tc.ok {
				if !got || serverErr != nil {
					t.Fatalf("refused: server %v\nopenssl:\n%s", serverErr, out)
				}
				if !strings.Contains(string(out), "TLS_AES_128_GCM_SHA256") {
					t.Errorf("openssl did not report TLS_AES_128_GCM_SHA256:\n%s", out)
				}
				return
			}
			if got || serverErr == nil {
				t.Fatalf("accepted: server %v\nopenssl:\n%s", serverErr, out)
			}
		})
	}
}

func TestCheckState(t *testing.T) {
	tests := []struct {
		version, suite uint16
		ok             bool
	}{
		{tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, true},
		{tls.VersionTLS13, tls.TLS_AES_256_GCM_SHA384, false},
		{tls.VersionTLS13, tls.TLS_CHACHA20_POLY1305_SHA256, false},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false},
	}
	for _, tc := range tests {
		err := checkState(tls.ConnectionState{Version: tc.version, CipherSuite: tc.suite})
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrSuite)) {
			t.Errorf("%s %s: %v", tls.VersionName(tc.version), tls.CipherSuiteName(tc.suite), err)
		}
	}
}
