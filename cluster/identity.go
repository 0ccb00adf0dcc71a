package cluster

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/transport"
)

// verifyTimeout bounds the TLS handshake that checks a server's identity.
const verifyTimeout = 2 * time.Second

// serverIdentities remembers which gossip members proved, over TLS, to be
// the servers they claim to be, so each is dialled once.
type serverIdentities struct {
	mu       sync.Mutex
	verified map[string]string // member name -> RPC address it proved itself at
	refused  map[string]string // member name -> last reason, logged once
}

// verifyServer checks that the gossip member m, which claims the server
// role, holds a server certificate for its name: it dials m's RPC address
// and reads the certificate presented. With TLS off every member passes.
// Gossip alone must never make a member a Raft voter: whoever can reach
// the gossip port could claim to be a server.
func (s *Server) verifyServer(ctx context.Context, m gossip.Member) error {
	if s.cfg.Transport.TLS == nil || m.Name == s.cfg.Name {
		return nil
	}
	addr := m.Meta.GetRpcAddr()
	ids := &s.identities
	ids.mu.Lock()
	ok := ids.verified[m.Name] == addr
	ids.mu.Unlock()
	if ok {
		return nil
	}
	err := s.checkServerAt(ctx, m.Name, addr)
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if err != nil {
		reason := err.Error()
		if ids.refused[m.Name] != reason {
			s.logger.Warn("gossip member claims to be a server but did not prove it; not adding it to raft", "node", m.Name, "rpc", addr, "err", err)
		}
		ids.refused[m.Name] = reason
		return err
	}
	delete(ids.refused, m.Name)
	ids.verified[m.Name] = addr
	return nil
}

func (s *Server) checkServerAt(ctx context.Context, name, addr string) error {
	if addr == "" {
		return fmt.Errorf("server %q advertises no rpc address", name)
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	conn, err := transport.DialConn(ctx, addr, s.cfg.Transport, pki.RoleServer)
	if err != nil {
		return fmt.Errorf("verify server %q at %s: %w", name, addr, err)
	}
	defer conn.Close()
	id, _ := transport.ConnIdentity(conn)
	if id.Name != name {
		return fmt.Errorf("verify server %q at %s: its certificate is for server %q", name, addr, id.Name)
	}
	return nil
}

// tlsStreamLayer carries Raft over mutual TLS: it accepts and dials only
// server certificates from the cluster CA.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	cfg       transport.Config
}

func newTLSStreamLayer(addr string, cfg transport.Config) (*tlsStreamLayer, error) {
	advertise, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft address %q: %w", addr, err)
	}
	lis, err := transport.Listen(addr, cfg, pki.RoleServer)
	if err != nil {
		return nil, fmt.Errorf("listen on raft address %s: %w", addr, err)
	}
	return &tlsStreamLayer{Listener: lis, advertise: advertise, cfg: cfg}, nil
}

// Addr is the address advertised to the other servers.
func (l *tlsStreamLayer) Addr() net.Addr { return l.advertise }

// Dial connects to another server's Raft address.
func (l *tlsStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return transport.DialConn(ctx, string(addr), l.cfg, pki.RoleServer)
}
