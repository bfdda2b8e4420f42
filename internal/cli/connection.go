package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rw-project/rw/internal/client"
	"github.com/rw-project/rw/internal/state"
	"github.com/rw-project/rw/pki"
	ucli "github.com/urfave/cli/v2"
)

// identity is a client identity's files, as absolute paths, and what its
// certificate says.
type identity struct {
	user, role string
	// cert, key and ca are the paths of the PEM files, tokenPath that of
	// the token.
	cert, key, ca, tokenPath string
}

// explicitIdentity reports whether the command line or environment names an
// identity, which then wins over the saved one. --pki alone does not: it
// says where identities live, not which one to use.
func explicitIdentity(c *ucli.Context) bool {
	for _, f := range []string{"user", "cert", "key", "ca", "token"} {
		if lookup(c, f) != "" {
			return true
		}
	}
	return false
}

// resolveIdentity finds the identity to use from the flags: files given
// one by one win over the PKI directory's, and the user defaults to the only
// one in its clients folder.
func resolveIdentity(c *ucli.Context) (identity, error) {
	dir, err := pkiDir(c, "pki")
	if err != nil {
		return identity{}, err
	}
	id := identity{
		cert:      lookup(c, "cert"),
		key:       lookup(c, "key"),
		ca:        lookup(c, "ca"),
		tokenPath: lookup(c, "token"),
	}
	if id.ca == "" {
		id.ca = filepath.Join(dir, pki.ServerCACert)
	}
	if id.cert == "" || id.key == "" || id.tokenPath == "" {
		user := lookup(c, "user")
		if user == "" {
			if user, err = onlyUser(dir); err != nil {
				return identity{}, err
			}
		} else if err := pki.ValidateUserName(user); err != nil {
			return identity{}, usagef("--user: %v", err)
		}
		certFile, keyFile, tokenFile := pki.ClientFiles(user)
		id.cert = orDefault(id.cert, filepath.Join(dir, certFile))
		id.key = orDefault(id.key, filepath.Join(dir, keyFile))
		id.tokenPath = orDefault(id.tokenPath, filepath.Join(dir, tokenFile))
	}
	for _, p := range []*string{&id.cert, &id.key, &id.ca, &id.tokenPath} {
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
	}
	cert, err := pki.ReadCert(id.cert)
	if err != nil {
		return identity{}, withHint(err, "check --pki and --user, or create the identity with 'rw gen-certs --user NAME'")
	}
	who, err := pki.ClientIdentity(cert)
	if err != nil {
		return identity{}, withHint(err, "%s is not an rw client certificate; make one with 'rw gen-certs --user NAME'", id.cert)
	}
	id.user, id.role = who.User, string(who.Role)
	return id, nil
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// onlyUser returns the one identity in dir's clients folder.
func onlyUser(dir string) (string, error) {
	names, err := pki.ClientNames(dir)
	if err != nil {
		return "", withHint(fmt.Errorf("no client identities in %s: %w", dir, err),
			"point --pki at the directory 'rw gen-certs' made, or create one with 'rw gen-certs --user NAME'")
	}
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", withHint(fmt.Errorf("no client identities in %s", filepath.Join(dir, pki.ClientsDir)),
			"create one with 'rw gen-certs --user NAME'")
	}
	return "", withHint(fmt.Errorf("%d identities in %s: say which with --user", len(names), filepath.Join(dir, pki.ClientsDir)),
		"the names are: %s", strings.Join(names, ", "))
}

// connection is a client ready to talk to the server.
type connection struct {
	*client.Client
	server string
	id     identity
	// timeout is --timeout: the bound on connecting and on each request.
	timeout time.Duration
	// token is the bearer token read from id's token file.
	token string
}

// newClient connects to the server and identity the command line names, or
// else the ones 'rw connect' saved, as containerd's ctr does for its
// commands. It returns the connection, a context for one request bounded by
// --timeout, and a cleanup to defer, which ends both.
func newClient(c *ucli.Context) (*connection, context.Context, func(), error) {
	server, id, err := savedTarget(c)
	if err != nil {
		return nil, nil, nil, err
	}
	return openClient(c, server, id)
}

// openClient connects to server as id; see newClient.
func openClient(c *ucli.Context, server string, id identity) (*connection, context.Context, func(), error) {
	timeout := lookupDuration(c, "timeout")
	if timeout <= 0 {
		return nil, nil, nil, usagef("--timeout must be positive, got %v", timeout)
	}
	conn, err := dial(server, id, timeout)
	if err != nil {
		return nil, nil, nil, err
	}
	warnTokenExpiry(c.App.ErrWriter, id.user, conn.token, time.Now())
	ctx, cancel := conn.bounded(c.Context)
	return conn, ctx, func() { cancel(); conn.Close() }, nil
}

// bounded returns a context for one more request, bounded by --timeout.
func (conn *connection) bounded(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, conn.timeout)
}

// dial builds a client for server with id; timeout bounds the connection.
func dial(server string, id identity, timeout time.Duration) (*connection, error) {
	tlsCfg, err := pki.LoadClientTLS(id.cert, id.key, id.ca)
	if err != nil {
		return nil, withHint(err, "check the identity files (--pki, --user, --cert, --key, --ca)")
	}
	token, err := os.ReadFile(id.tokenPath)
	if err != nil {
		return nil, withHint(fmt.Errorf("read token: %w", err), "check --pki and --user, or --token")
	}
	bearer := strings.TrimSpace(string(token))
	cl, err := client.New(client.Config{Server: server, TLS: tlsCfg, Token: bearer, DialTimeout: timeout})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return &connection{Client: cl, server: server, id: id, timeout: timeout, token: bearer}, nil
}

// savedTarget returns the server and identity to use: those the command
// line names, or else those 'rw connect' saved. Every command but connect
// uses it.
func savedTarget(c *ucli.Context) (string, identity, error) {
	path, err := statePath()
	if err != nil {
		return "", identity{}, err
	}
	st, stErr := state.Load(path)
	if stErr != nil && !errors.Is(stErr, state.ErrNotConnected) {
		return "", identity{}, withHint(stErr, "run 'rw connect HOST:PORT' again")
	}
	server := lookup(c, "server")
	if server == "" {
		server = st.Server
	}
	if server == "" {
		return "", identity{}, withHint(errors.New("not connected"), "run 'rw connect HOST:PORT' first")
	}
	if explicitIdentity(c) || stErr != nil {
		id, err := resolveIdentity(c)
		return server, id, err
	}
	return server, identity{user: st.User, role: st.Role, cert: st.Cert, key: st.Key, ca: st.CA, tokenPath: st.Token}, nil
}

// explain turns a client error into what a person needs: what happened and
// what to do next.
func explain(conn *connection, err error) error {
	var apiErr *client.Error
	switch {
	case errors.Is(err, client.ErrUnreachable):
		return withHint(err, "is 'rw serve' running at %s? check the address", conn.server)
	case errors.Is(err, client.ErrTimeout):
		return withHint(err, "the server is up but did not answer in time: it may be busy; try again, or raise --timeout (now %v)", conn.timeout)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// An answer that began and broke off: the connection or the
		// server went away in the middle of it, or the server cut off a
		// follower that fell too far behind output it does not keep.
		return withHint(err, "the answer from %s broke off: the server may have restarted, or (following a job's output) this reader fell behind output past the server's --max-output; run the command again", conn.server)
	case errors.Is(err, client.ErrServerCertificate):
		return withHint(err, "the server's certificate must come from the same 'rw gen-certs' as %s, and name the host you dial (gen-certs --host)", conn.id.ca)
	case errors.Is(err, client.ErrClientRefused):
		return withHint(err, "the server does not accept %s: it must be signed by the client CA the server uses", conn.id.cert)
	case errors.Is(err, client.ErrUnauthenticated) && errors.As(err, &apiErr):
		return withHint(fmt.Errorf("the server refused our token: %s", apiErr.Message), "use the token made with this certificate (%s); if it expired, issue a new one with 'rw gen-certs --renew %s'", conn.id.tokenPath, conn.id.user)
	case errors.Is(err, client.ErrForbidden):
		return withHint(err, "%s's role (%s) does not allow this", conn.id.user, conn.id.role)
	case errors.Is(err, client.ErrNoSuchFile) && errors.As(err, &apiErr):
		return withHint(errors.New(apiErr.Message), "'rw files' lists the programs you may start")
	case errors.Is(err, client.ErrTooMany) && errors.As(err, &apiErr):
		return withHint(errors.New(apiErr.Message), "wait for one of your jobs to end (rw ls -s running), then try again")
	case errors.Is(err, client.ErrQueueFull):
		return withHint(errors.New("the server's job queue is full"), "try again in a moment")
	case errors.As(err, &apiErr) && apiErr.Status >= 500 && apiErr.RequestID != "":
		// The server's fault: the request id finds its log line.
		return fmt.Errorf("%s (request %s)", apiErr.Message, apiErr.RequestID)
	case errors.As(err, &apiErr):
		return errors.New(apiErr.Message)
	}
	return err
}
