package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
)

// Leave makes the server that receives it leave the cluster for good, then
// tells its owner to stop it (Server.Left). A server stopped any other way
// stays a voter and comes back from its data dir.
func (c *controlService) Leave(ctx context.Context, _ *api.LeaveRequest) (*api.LeaveResponse, error) {
	c.s.Leave()
	c.s.leftOnce.Do(func() { close(c.s.left) })
	return &api.LeaveResponse{}, nil
}

// Left is closed once the server has left the cluster on request
// (`jobcluster leave`); its process should then stop.
func (s *Server) Left() <-chan struct{} { return s.left }

// RemoveMember removes a server that is gone for good from the Raft
// configuration, on the leader. A server that is still alive is refused:
// it would be added back at once; it should run `jobcluster leave`.
func (c *controlService) RemoveMember(ctx context.Context, req *api.RemoveMemberRequest) (*api.RemoveMemberResponse, error) {
	name := req.GetName()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "name: Required value: the server to remove")
	}
	return toLeaderReadable(ctx, c.s,
		func() (*api.RemoveMemberResponse, error) { return c.s.removeMember(name, req.GetLeaving()) },
		func(cl api.ControlClient, ctx context.Context) (*api.RemoveMemberResponse, error) {
			return cl.RemoveMember(ctx, req)
		})
}

func (s *Server) removeMember(name string, leaving bool) (*api.RemoveMemberResponse, error) {
	future := s.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return nil, fmt.Errorf("read raft configuration: %w", err)
	}
	known := false
	for _, srv := range future.Configuration().Servers {
		known = known || srv.ID == raft.ServerID(name)
	}
	if !known {
		return nil, status.Errorf(codes.NotFound, "server %q is not a member of the Raft configuration", name)
	}
	if name == s.cfg.Name {
		return nil, status.Errorf(codes.FailedPrecondition, "server %s is the leader and alive: run `jobcluster leave` against it instead", name)
	}
	for _, m := range s.gossip.Members() {
		if leaving {
			break
		}
		if m.Name == name && m.Meta.GetRole() == gossip.RoleServer && m.Status == gossip.StatusAlive {
			return nil, status.Errorf(codes.FailedPrecondition, "server %s is alive: run `jobcluster leave --addr <its rpc address>`, or stop it first", name)
		}
	}
	s.logger.Info("removing server from raft on request", "node", name)
	if err := s.raft.RemoveServer(raft.ServerID(name), 0, 5*time.Second).Error(); err != nil {
		return nil, fmt.Errorf("remove server %s: %w", name, err)
	}
	return &api.RemoveMemberResponse{}, nil
}
