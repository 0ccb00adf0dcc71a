package cluster

import (
	"sync"

	"google.golang.org/grpc"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/transport"
)

// peerConns caches gRPC connections to other servers and to agents.
type peerConns struct {
	transport transport.Config

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newPeerConns(cfg transport.Config) *peerConns {
	return &peerConns{transport: cfg, conns: map[string]*grpc.ClientConn{}}
}

func (p *peerConns) conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return c, nil
	}
	c, err := transport.Dial(addr, p.transport)
	if err != nil {
		return nil, err
	}
	p.conns[addr] = c
	return c, nil
}

func (p *peerConns) control(addr string) (api.ControlClient, error) {
	c, err := p.conn(addr)
	if err != nil {
		return nil, err
	}
	return api.NewControlClient(c), nil
}

func (p *peerConns) agent(addr string) (api.AgentClient, error) {
	c, err := p.conn(addr)
	if err != nil {
		return nil, err
	}
	return api.NewAgentClient(c), nil
}

func (p *peerConns) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, c := range p.conns {
		c.Close()
		delete(p.conns, addr)
	}
}
