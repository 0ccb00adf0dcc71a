package cluster

import (
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jobcluster/jobcluster/api"
)

// peerConns caches gRPC connections to other servers and to agents.
type peerConns struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newPeerConns() *peerConns { return &peerConns{conns: map[string]*grpc.ClientConn{}} }

func (p *peerConns) conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(api.MaxMessageBytes), grpc.MaxCallSendMsgSize(api.MaxMessageBytes)))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
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
