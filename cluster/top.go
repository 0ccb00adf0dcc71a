package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// usageMaxAge is how old a node's last measurement may be and still be
// shown: agents measure every few seconds, so an older one is a node
// that stopped reporting.
const usageMaxAge = 30 * time.Second

// usages holds the latest measurement of each node, delivered with its
// heartbeats. Only the leader receives heartbeats, so only the leader's is
// filled; it lives in memory only, as metrics-server's does.
type usages struct {
	mu     sync.Mutex
	byNode map[string]*api.NodeUsage
}

func newUsages() *usages { return &usages{byNode: map[string]*api.NodeUsage{}} }

// record keeps node's measurement; the node is the one the heartbeat was
// authorized for, whatever the measurement says.
func (u *usages) record(node string, m *api.NodeUsage) {
	if m == nil {
		return
	}
	m = proto.Clone(m).(*api.NodeUsage)
	m.Node = node
	u.mu.Lock()
	u.byNode[node] = m
	u.mu.Unlock()
}

// fresh returns the measurements taken since now-usageMaxAge, by node
// name, dropping older ones.
func (u *usages) fresh(now time.Time) []*api.NodeUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*api.NodeUsage
	for name, m := range u.byNode {
		if now.Sub(m.GetTimestamp().AsTime()) > usageMaxAge {
			delete(u.byNode, name)
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *api.NodeUsage) int { return strings.Compare(a.GetNode(), b.GetNode()) })
	return out
}

// Top answers with the latest usage the agents measured, from the leader.
func (c *controlService) Top(ctx context.Context, req *api.TopRequest) (*api.TopResponse, error) {
	kind := req.GetKind()
	if kind != "pods" && kind != "nodes" {
		return nil, status.Errorf(codes.InvalidArgument, "top: unknown kind %q: use pods or nodes", kind)
	}
	sel, err := parseSelector(req.GetLabelSelector())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return toLeader(ctx, c.s, func() (*api.TopResponse, error) {
		st := c.s.fsm.State()
		resp := &api.TopResponse{}
		for _, m := range c.s.usage.fresh(c.s.clock.Now()) {
			m = proto.Clone(m).(*api.NodeUsage)
			if n := st.Node(m.GetNode()); n != nil {
				alloc := n.GetStatus().GetAllocatable()
				m.CpuAllocatableMillicores, _ = api.ParseCPUMillis(alloc["cpu"])
				m.MemoryAllocatableBytes, _ = api.ParseBytes(alloc["memory"])
				if kind == "nodes" && !sel.matches(n.GetMetadata().GetLabels()) {
					continue
				}
			}
			if kind == "nodes" {
				if req.GetName() != "" && m.GetNode() != req.GetName() {
					continue
				}
				m.Pods = nil
				resp.Nodes = append(resp.Nodes, m)
				continue
			}
			ns := api.NamespaceOr(req.GetNamespace())
			m.Pods = slices.DeleteFunc(m.Pods, func(p *api.PodUsage) bool {
				if !req.GetAllNamespaces() && api.NamespaceOr(p.GetNamespace()) != ns {
					return true
				}
				if req.GetName() != "" && p.GetName() != req.GetName() {
					return true
				}
				pod := st.Pod(p.GetName())
				return pod == nil || !sel.matches(pod.GetMetadata().GetLabels())
			})
			resp.Nodes = append(resp.Nodes, m)
		}
		return resp, nil
	}, func(cl api.ControlClient, ctx context.Context) (*api.TopResponse, error) {
		return cl.Top(ctx, req)
	})
}
