// Package pki is jobcluster's certificate authority: it makes the cluster
// CA and the key pairs of servers, agents and clients, and reads back the
// identity a certificate carries.
//
// A certificate's identity is one URI SAN, jobcluster://ROLE/NAME (for
// example jobcluster://server/s1 or jobcluster://agent/worker-3). The
// subject repeats it for people (CN=NAME, OU=ROLE) but nothing reads the
// subject: IdentityOf is the one place an identity comes from.
package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Role is what a certificate's holder may do in the cluster.
type Role string

// The roles a certificate can carry.
const (
	// RoleServer runs Raft and the API; it may do everything.
	RoleServer Role = "server"
	// RoleAgent runs pods, for its own node only.
	RoleAgent Role = "agent"
	// RoleClient runs client commands (submit, get, logs...).
	RoleClient Role = "client"
)

// uriScheme is the scheme of the URI SAN that carries an identity.
const uriScheme = "jobcluster"

// ErrNoIdentity means a certificate carries no jobcluster identity.
var ErrNoIdentity = errors.New("certificate carries no jobcluster identity (a URI SAN jobcluster://ROLE/NAME): make it with jobcluster tls cert create")

// Identity is who a certificate says its holder is.
type Identity struct {
	Role Role
	// Name is the node name of a server or agent, or a client's name.
	Name string
}

// String is the identity as its URI: jobcluster://ROLE/NAME.
func (id Identity) String() string { return id.URI().String() }

// URI is the URI SAN that carries the identity.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: string(id.Role), Path: "/" + id.Name}
}

// Validate reports an unknown role or an unusable name.
func (id Identity) Validate() error {
	var errs []error
	switch id.Role {
	case RoleServer, RoleAgent, RoleClient:
	default:
		errs = append(errs, fmt.Errorf("role %q: use server, agent or client", id.Role))
	}
	if id.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	} else if strings.ContainsAny(id.Name, "/?#% \t\n") {
		errs = append(errs, fmt.Errorf("name %q: use letters, digits, '-', '_' and '.'", id.Name))
	}
	return errors.Join(errs...)
}

// IdentityOf reads the identity of a certificate from its URI SAN. A
// certificate with none, or with more than one, has no identity.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range cert.URIs {
		if u.Scheme != uriScheme {
			continue
		}
		id := Identity{Role: Role(u.Host), Name: strings.TrimPrefix(u.Path, "/")}
		if err := id.Validate(); err != nil {
			return Identity{}, fmt.Errorf("certificate identity %s: %w", u, err)
		}
		found = append(found, id)
	}
	switch len(found) {
	case 0:
		return Identity{}, ErrNoIdentity
	case 1:
		return found[0], nil
	default:
		return Identity{}, fmt.Errorf("certificate carries %d jobcluster identities, want one", len(found))
	}
}
