package cluster

import (
	"sync"

	"google.golang.org/grpc"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/transport"
)

// peerConns caches gRPC connections to other servers and to agents. With
// TLS, a connection to a server accepts only a server certificate, and
// one to an agent an agent's (or a server's: `jobcluster dev` runs both on
// one server certificate).
type peerConns struct {
	transport transport.Config

	mu    sync.Mutex
	conns map[peerKey]*grpc.ClientConn
}

type peerKey struct {
	addr  string
	roles string
}

func newPeerConns(cfg transport.Config) *peerConns {
	return &peerConns{transport: cfg, conns: map[peerKey]*grpc.ClientConn{}}
}

func (p *peerConns) conn(addr string, roles ...pki.Role) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := peerKey{addr, rolesText(roles)}
	if c, ok := p.conns[key]; ok {
		return c, nil
	}
	c, err := transport.Dial(addr, p.transport, roles...)
	if err != nil {
		return nil, err
	}
	p.conns[key] = c
	return c, nil
}

func (p *peerConns) control(addr string) (api.ControlClient, error) {
	c, err := p.conn(addr, pki.RoleServer)
	if err != nil {
		return nil, err
	}
	return api.NewControlClient(appliedConn{c}), nil
}

func (p *peerConns) agent(addr string) (api.AgentClient, error) {
	c, err := p.conn(addr, pki.RoleAgent, pki.RoleServer)
	if err != nil {
		return nil, err
	}
	return api.NewAgentClient(c), nil
}

func (p *peerConns) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, c := range p.conns {
		c.Close()
		delete(p.conns, key)
	}
}
