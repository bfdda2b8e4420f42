// Package pki holds rw's security material: the two certificate authorities,
// the server and client certificates, the key that signs users' tokens, the
// tokens themselves, and the TLS configurations built from them.
//
// rw uses two self-signed root CAs: one signs server certificates (clients
// trust only it), the other signs client certificates (the server trusts only
// it), so a certificate issued for one side can never pass as the other. A
// client certificate names its user (common name) and role (organizational
// unit). A user's token is an ES256 JWT bound to that user's certificate by
// its SHA-256 thumbprint (RFC 8705 "cnf"/"x5t#S256"), so a stolen token is
// useless without the certificate's private key.
//
// The package uses the standard library and jwx only; it never runs openssl.
package pki
