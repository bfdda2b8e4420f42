package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Role is what a client may do; it is carried in the client certificate's
// organizational unit.
type Role string

const (
	// RoleAdmin may do everything to every job.
	RoleAdmin Role = "admin"
	// RoleUser may start jobs and see and stop its own.
	RoleUser Role = "user"
	// RoleMonitor may read the server's metrics and health, and nothing
	// else: for scrapers such as Prometheus.
	RoleMonitor Role = "monitor"
)

// ParseRole returns the Role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleUser, RoleMonitor:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: the roles are %q, %q and %q", s, RoleAdmin, RoleUser, RoleMonitor)
}

// Identity is who a client is: its user name and role.
type Identity struct {
	User string
	Role Role
}

// Validity periods. A CA outlives what it signs; leaves stay well under the
// 825 days that some clients accept for server certificates.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
	// backdate covers clocks that run a little behind the one that signed.
	backdate = 5 * time.Minute
)

// userNamePattern is a simple identifier: it is used as a file name and a
// certificate common name, so it must be neither a path nor empty. It is
// compiled at first use, not at init: every rw command pays a package's
// init, and most never validate a name.
var userNamePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
})

// ValidateUserName reports whether name may be a user name: a lower-case
// letter or underscore, then up to 31 lower-case letters, digits, '_' or '-'.
func ValidateUserName(name string) error {
	if !userNamePattern().MatchString(name) {
		return fmt.Errorf("invalid user name %q: use a lower-case letter or '_' followed by up to 31 lower-case letters, digits, '_' or '-'", name)
	}
	return nil
}

// hostLabel is one label of a DNS name (RFC 1123), compiled at first use
// like userNamePattern.
var hostLabel = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
})

// ValidateHost reports whether h may be a server name: an IP address or a
// DNS name.
func ValidateHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) == 0 || len(h) > 253 {
		return fmt.Errorf("invalid host %q: give a DNS name or an IP address", h)
	}
	for _, label := range strings.Split(h, ".") {
		if !hostLabel().MatchString(label) {
			return fmt.Errorf("invalid host %q: give a DNS name or an IP address", h)
		}
	}
	return nil
}

// newKey generates an ECDSA P-256 key, the curve every TLS 1.3 peer supports.
func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// randomSerial returns a 128-bit random serial number, as the CA/Browser
// Forum asks: unpredictable serials defeat chosen-prefix collisions.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	return rand.Int(rand.Reader, limit)
}

// newKeyAndSerial returns what every new certificate needs: a fresh key and
// a serial.
func newKeyAndSerial() (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	return key, serial, err
}

// Issued is a certificate with its private key.
type Issued struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA creates a self-signed root CA named cn, valid from now.
func NewCA(cn string, now time.Time) (*Issued, error) {
	key, serial, err := newKeyAndSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"rw"}, CommonName: cn},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(CAValidity),
		// A CA signs certificates (and, should rw ever publish revocations,
		// CRLs) and nothing else.
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Path length zero: the CA signs leaves only, never another CA, so a
		// leaked leaf key can never mint certificates.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		// SubjectKeyId is left empty: x509.CreateCertificate derives it
		// from the public key for a CA, and copies it into the
		// AuthorityKeyId of what the CA signs, so verifiers can match a
		// certificate to its issuer's key.
	}
	return sign(tmpl, tmpl, key.Public(), key, key)
}

// LeafOptions describes a leaf certificate to issue.
type LeafOptions struct {
	CommonName string
	// OrganizationalUnit carries a client's role.
	OrganizationalUnit string
	// DNSNames and IPs are the server's subject alternative names.
	DNSNames []string
	IPs      []net.IP
	// Client selects ClientAuth instead of ServerAuth.
	Client    bool
	NotBefore time.Time
	NotAfter  time.Time
}

// Issue signs a new leaf certificate with ca.
func (ca *Issued) Issue(opts LeafOptions) (*Issued, error) {
	key, serial, err := newKeyAndSerial()
	if err != nil {
		return nil, err
	}
	eku := x509.ExtKeyUsageServerAuth
	if opts.Client {
		eku = x509.ExtKeyUsageClientAuth
	}
	subject := pkix.Name{Organization: []string{"rw"}, CommonName: opts.CommonName}
	if opts.OrganizationalUnit != "" {
		subject.OrganizationalUnit = []string{opts.OrganizationalUnit}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    opts.NotBefore,
		NotAfter:     opts.NotAfter,
		// ECDSA keys sign the handshake; they never encrypt, so no
		// KeyEncipherment.
		KeyUsage: x509.KeyUsageDigitalSignature,
		// Exactly one purpose: a server certificate must not pass as a
		// client's, nor the other way round.
		ExtKeyUsage:           []x509.ExtKeyUsage{eku},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              opts.DNSNames,
		IPAddresses:           opts.IPs,
	}
	return sign(tmpl, ca.Cert, key.Public(), key, ca.Key)
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key, signer *ecdsa.PrivateKey) (*Issued, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key}, nil
}

// CertNames lists a certificate's DNS names and IP addresses: the names it
// is valid for.
func CertNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// ClientIdentity returns the identity a verified client certificate names.
// The role is returned as the certificate states it, as long as it is a
// simple word: deciding what a role may do, including one this version does
// not know, is the authorizer's job, which denies unknown roles everything.
func ClientIdentity(cert *x509.Certificate) (Identity, error) {
	if err := ValidateUserName(cert.Subject.CommonName); err != nil {
		return Identity{}, fmt.Errorf("client certificate: %w", err)
	}
	if len(cert.Subject.OrganizationalUnit) != 1 {
		return Identity{}, errors.New("client certificate: want exactly one organizational unit naming the role")
	}
	role := cert.Subject.OrganizationalUnit[0]
	if !userNamePattern().MatchString(role) {
		return Identity{}, fmt.Errorf("client certificate: invalid role %q", role)
	}
	return Identity{User: cert.Subject.CommonName, Role: Role(role)}, nil
}
