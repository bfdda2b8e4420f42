package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"
)

// ErrNoUser means a user to renew has no identity in the PKI directory.
var ErrNoUser = errors.New("no such user")

// RenewOptions says what Renew issues again.
type RenewOptions struct {
	Dir  string
	User string
	// Cert also issues a new certificate and key for the user, under the
	// existing client CA and with the same role; the token is then bound
	// to the new certificate.
	Cert bool
	// TokenLifetime is DefaultTokenLifetime if zero.
	TokenLifetime time.Duration
	// Now is time.Now if nil; tests move it.
	Now func() time.Time
}

// Renew issues a new token for an existing user, signed by the existing
// token key, and with opts.Cert a new certificate signed by the existing
// client CA. Nothing else changes: the CAs, the server certificate, the token
// key and every other identity stay as they are, so a running server accepts
// the renewed identity at once and keeps accepting everyone else. As with
// Generate, everything is checked and built in memory first and renamed into
// place last.
func Renew(opts RenewOptions) (Report, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	if err := ValidateUserName(opts.User); err != nil {
		return Report{}, err
	}
	g := &generator{dir: opts.Dir, now: now()}
	certName, keyName, tokenName := ClientFiles(opts.User)
	if !exists(g.path(certName)) {
		return Report{}, fmt.Errorf("%w: %s has no certificate %s", ErrNoUser, opts.User, g.path(certName))
	}
	issued, err := ReadIssued(g.path(certName), g.path(keyName))
	if err != nil {
		return Report{}, fmt.Errorf("%w: user %s: %v", ErrIncomplete, opts.User, err)
	}
	id, err := ClientIdentity(issued.Cert)
	if err != nil {
		return Report{}, fmt.Errorf("%w: %s: %v", ErrConflict, certName, err)
	}
	clientCA, err := g.existingCA(ClientCACert, ClientCAKey, opts.Cert)
	if err != nil {
		return Report{}, err
	}
	if err := g.signedBy(certName, clientCA); err != nil {
		return Report{}, err
	}
	tokenKey, err := g.existingTokenKey()
	if err != nil {
		return Report{}, err
	}

	if opts.Cert {
		leaf, err := clientCA.Issue(LeafOptions{
			CommonName:         id.User,
			OrganizationalUnit: string(id.Role),
			Client:             true,
			NotBefore:          g.now.Add(-backdate),
			NotAfter:           g.now.Add(LeafValidity),
		})
		if err != nil {
			return Report{}, err
		}
		if err := g.addIssued(certName, keyName, leaf); err != nil {
			return Report{}, err
		}
		issued = leaf
	} else {
		g.report.Kept = append(g.report.Kept, certName, keyName)
	}
	token, err := IssueToken(tokenKey.Key, issued.Cert, g.now, opts.TokenLifetime)
	if err != nil {
		return Report{}, err
	}
	g.add(tokenName, []byte(token+"\n"), modeKey)
	if err := g.commit(); err != nil {
		return Report{}, err
	}
	return g.report, nil
}

// existingCA reads the CA in certName, and its key too if withKey; unlike
// ca, it never creates one, since a new CA is what renewing must avoid.
func (g *generator) existingCA(certName, keyName string, withKey bool) (*Issued, error) {
	if !withKey {
		c, err := ReadCert(g.path(certName))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrIncomplete, err)
		}
		return &Issued{Cert: c}, nil
	}
	ca, err := ReadIssued(g.path(certName), g.path(keyName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %v; a new certificate needs the client CA's key", ErrIncomplete, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncomplete, err)
	}
	if !ca.Cert.IsCA {
		return nil, fmt.Errorf("%w: %s is not a CA certificate", ErrConflict, filepath.Base(certName))
	}
	return ca, nil
}

// existingTokenKey reads the token key and checks it against its public
// half, which the server verifies with.
func (g *generator) existingTokenKey() (*Issued, error) {
	key, err := ReadKey(g.path(TokenKey))
	if err != nil {
		return nil, fmt.Errorf("%w: %v; renewing needs the key that signed the tokens the server accepts", ErrIncomplete, err)
	}
	pub, err := ReadPublicKey(g.path(TokenPub))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncomplete, err)
	}
	if !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%w: %s is not the public half of %s", ErrConflict, TokenPub, TokenKey)
	}
	return &Issued{Key: key}, nil
}
