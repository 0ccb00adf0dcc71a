package cluster

import (
	"sort"
	"sync"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
)

// fakeGossipNet is membership without sockets: every server started on it
// sees the same members at once, and tests add agents or change anyone's
// status directly, as gossip would report it.
type fakeGossipNet struct {
	mu      sync.Mutex
	members map[string]gossip.Member
	views   map[*fakeGossip]bool
}

func newFakeGossipNet() *fakeGossipNet {
	return &fakeGossipNet{members: map[string]gossip.Member{}, views: map[*fakeGossip]bool{}}
}

// start joins a member described by cfg; it is a seams.startGossip.
func (n *fakeGossipNet) start(cfg gossip.Config) (membership, error) {
	g := &fakeGossip{net: n, name: cfg.Name, changed: make(chan struct{}, 1)}
	n.mu.Lock()
	n.views[g] = true
	n.mu.Unlock()
	n.set(gossip.Member{Name: cfg.Name, Addr: cfg.BindAddr, Meta: cfg.Meta, Status: gossip.StatusAlive})
	return g, nil
}

// set adds or replaces a member and tells every view.
func (n *fakeGossipNet) set(m gossip.Member) {
	n.mu.Lock()
	n.members[m.Name] = m
	n.notifyLocked()
	n.mu.Unlock()
}

// setStatus changes a known member's status.
func (n *fakeGossipNet) setStatus(name, status string) {
	n.mu.Lock()
	if m, ok := n.members[name]; ok {
		m.Status = status
		n.members[name] = m
		n.notifyLocked()
	}
	n.mu.Unlock()
}

// addAgent makes an agent alive with the given RPC address and labels.
func (n *fakeGossipNet) addAgent(name, rpcAddr string, labels map[string]string) {
	n.set(gossip.Member{Name: name, Addr: rpcAddr, Status: gossip.StatusAlive, Meta: &api.MemberMeta{
		Role: gossip.RoleAgent, RpcAddr: rpcAddr, Labels: labels,
		Capacity: map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"},
	}})
}

func (n *fakeGossipNet) notifyLocked() {
	for g := range n.views {
		select {
		case g.changed <- struct{}{}:
		default:
		}
	}
}

func (n *fakeGossipNet) list() []gossip.Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]gossip.Member, 0, len(n.members))
	for _, m := range n.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// fakeGossip is one server's view of a fakeGossipNet.
type fakeGossip struct {
	net     *fakeGossipNet
	name    string
	changed chan struct{}
}

func (g *fakeGossip) Members() []gossip.Member { return g.net.list() }

func (g *fakeGossip) AliveServers() []gossip.Member {
	var out []gossip.Member
	for _, m := range g.net.list() {
		if m.Meta.GetRole() == gossip.RoleServer && (m.Status == gossip.StatusAlive || m.Status == gossip.StatusSuspect) {
			out = append(out, m)
		}
	}
	return out
}

func (g *fakeGossip) Changed() <-chan struct{} { return g.changed }

func (g *fakeGossip) Leave(time.Duration) error {
	g.net.setStatus(g.name, gossip.StatusLeft)
	return nil
}

// Shutdown is a crash as the others see it, unless the member left first.
func (g *fakeGossip) Shutdown() error {
	n := g.net
	n.mu.Lock()
	delete(n.views, g)
	m, ok := n.members[g.name]
	n.mu.Unlock()
	if ok && m.Status == gossip.StatusAlive {
		n.setStatus(g.name, gossip.StatusFailed)
	}
	return nil
}
