package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/jobcluster/jobcluster/pki"
)

// TLSFiles names the PEM files of an endpoint's mutual TLS: the cluster
// CA, and the endpoint's own certificate and key, signed by that CA.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// TLS is an endpoint's mutual TLS: its certificate and key, and the CA
// its peers' certificates must come from. Reload reads the files again;
// connections made or accepted afterwards use the new ones, and those
// already open carry on. Safe for concurrent use.
//
// Every listener built from it speaks TLS 1.3 only and requires a client
// certificate from the CA carrying a jobcluster identity; every dial
// presents the certificate and checks the peer's against the CA and the
// roles the caller expects. Peers are known by the identity in their
// certificate (see pki), not by host name, so certificates need no SAN
// for every address a node may have.
type TLS struct {
	files TLSFiles
	cur   atomic.Pointer[tlsMaterial]
}

type tlsMaterial struct {
	cert  tls.Certificate
	roots *x509.CertPool
	id    pki.Identity
}

// LoadTLS reads and checks the files: the certificate must be signed by
// the CA, be valid now and carry a jobcluster identity.
func LoadTLS(files TLSFiles) (*TLS, error) {
	t := &TLS{files: files}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload reads the files again. The certificate may change, and the CA
// too, but not the identity: a node cannot become another by reloading.
// On error the material in use stays.
func (t *TLS) Reload() error {
	m, err := loadMaterial(t.files, time.Now())
	if err != nil {
		return err
	}
	if old := t.cur.Load(); old != nil && old.id != m.id {
		return fmt.Errorf("certificate %s is now %s's, was %s's: an identity cannot change on reload; restart with the new certificate", t.files.CertFile, m.id, old.id)
	}
	t.cur.Store(m)
	return nil
}

// Identity is who this endpoint's own certificate says it is.
func (t *TLS) Identity() pki.Identity { return t.cur.Load().id }

// Files are the files the endpoint's TLS is read from.
func (t *TLS) Files() TLSFiles { return t.files }

func loadMaterial(files TLSFiles, now time.Time) (*tlsMaterial, error) {
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read ca file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("ca file %s holds no PEM certificate: pass the jobcluster-ca.pem that jobcluster tls ca create wrote", files.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s and key %s: %w", files.CertFile, files.KeyFile, err)
	}
	leaf := cert.Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("certificate %s is not valid under ca %s: %w; make one with jobcluster tls cert create", files.CertFile, files.CAFile, err)
	}
	id, err := pki.IdentityOf(leaf)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", files.CertFile, err)
	}
	return &tlsMaterial{cert: cert, roots: roots, id: id}, nil
}

// serverConfig accepts connections that present a certificate from the
// CA with an identity in roles (any role when roles is empty).
func (t *TLS) serverConfig(nextProtos []string, roles []pki.Role) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: nextProtos,
		// The material is looked up per connection, so a reload applies
		// to the next connection accepted.
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := t.cur.Load()
			return &tls.Config{
				MinVersion:   tls.VersionTLS13,
				NextProtos:   nextProtos,
				Certificates: []tls.Certificate{m.cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    m.roots,
				VerifyConnection: func(cs tls.ConnectionState) error {
					return checkPeer(cs, roles)
				},
			}, nil
		},
	}
}

// clientConfig presents the endpoint's certificate and accepts a peer
// whose certificate comes from the CA with an identity in roles.
func (t *TLS) clientConfig(roles []pki.Role) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The peer is verified in VerifyConnection, against the CA
		// current at dial time and by its identity rather than its host
		// name; crypto/tls' own check would use a fixed CA and the name.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			m := t.cur.Load()
			return &m.cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("peer sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots:         t.cur.Load().roots,
				Intermediates: inter,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				return fmt.Errorf("peer certificate is not from this cluster's ca: %w", err)
			}
			return checkPeer(cs, roles)
		},
	}
}

// checkPeer requires the peer's certificate to carry an identity in roles
// (any role when roles is empty).
func checkPeer(cs tls.ConnectionState, roles []pki.Role) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("peer sent no certificate")
	}
	id, err := pki.IdentityOf(cs.PeerCertificates[0])
	if err != nil {
		return fmt.Errorf("peer certificate: %w", err)
	}
	if len(roles) > 0 && !slices.Contains(roles, id.Role) {
		return fmt.Errorf("peer certificate is %s's, a %s; want a %s certificate", id.Name, id.Role, joinRoles(roles))
	}
	return nil
}

func joinRoles(roles []pki.Role) string {
	s := ""
	for i, r := range roles {
		if i > 0 {
			s += " or "
		}
		s += string(r)
	}
	return s
}

// PeerIdentity is the identity in the certificate a gRPC caller presented.
// ok is false when the connection has no TLS (TLS is off).
func PeerIdentity(ctx context.Context) (id pki.Identity, ok bool) {
	p, found := peer.FromContext(ctx)
	if !found {
		return pki.Identity{}, false
	}
	info, isTLS := p.AuthInfo.(credentials.TLSInfo)
	if !isTLS {
		return pki.Identity{}, false
	}
	return stateIdentity(info.State)
}

// ConnIdentity is the identity in the certificate of the peer of a TLS
// connection made by DialConn or accepted by Listen; ok is false for a
// plain TCP connection.
func ConnIdentity(conn net.Conn) (id pki.Identity, ok bool) {
	tc, isTLS := conn.(*tls.Conn)
	if !isTLS {
		return pki.Identity{}, false
	}
	return stateIdentity(tc.ConnectionState())
}

func stateIdentity(cs tls.ConnectionState) (pki.Identity, bool) {
	if len(cs.PeerCertificates) == 0 {
		return pki.Identity{}, false
	}
	id, err := pki.IdentityOf(cs.PeerCertificates[0])
	return id, err == nil
}

// Listen binds addr for a stream protocol other than gRPC or HTTP (Raft).
// With TLS configured, connections must present a certificate from the CA
// whose role is in roles (any when empty); the handshake completes on the
// first read or write, or with (*tls.Conn).HandshakeContext.
func Listen(addr string, cfg Config, roles ...pki.Role) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg.TLS == nil {
		return lis, nil
	}
	return tls.NewListener(lis, cfg.TLS.serverConfig(nil, roles)), nil
}

// DialConn opens a stream connection to addr: TCP, with TLS configured a
// completed TLS handshake whose peer has a role in roles (any when empty).
func DialConn(ctx context.Context, addr string, cfg Config, roles ...pki.Role) (net.Conn, error) {
	d := &net.Dialer{}
	if cfg.TLS == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	conn, err := (&tls.Dialer{NetDialer: d, Config: cfg.TLS.clientConfig(roles)}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tls connection to %s: %w", addr, err)
	}
	return conn, nil
}

// IsLoopback reports whether every address the host of addr (host:port)
// names is a loopback address: only this machine can reach a listener
// bound there. An empty host or 0.0.0.0 is every interface, not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}
