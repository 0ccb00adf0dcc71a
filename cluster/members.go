package cluster

import (
	"context"
	"time"

	"github.com/hashicorp/raft"

	"github.com/jobcluster/jobcluster/gossip"
)

// leaderRPCAddr is the gRPC address of the current leader, or "".
func (s *Server) leaderRPCAddr() string {
	_, id := s.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	if string(id) == s.cfg.Name {
		return s.cfg.RPCAddr
	}
	for _, m := range s.gossip.Members() {
		if m.Name == string(id) {
			return m.Meta.GetRpcAddr()
		}
	}
	return ""
}

// reconcileMembersLoop keeps the Raft configuration in step with gossip:
// a server that joined is added as a voter, one that left gracefully is
// removed. A failed server stays, so it can come back from its data.
func (s *Server) reconcileMembersLoop(ctx context.Context) {
	for {
		changed := s.membersChanged.wait()
		s.reconcileMembers()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-s.clock.After(time.Second):
		}
	}
}

func (s *Server) reconcileMembers() {
	future := s.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		s.logger.Warn("read raft configuration", "err", err)
		return
	}
	inConfig := map[raft.ServerID]raft.ServerAddress{}
	for _, srv := range future.Configuration().Servers {
		inConfig[srv.ID] = srv.Address
	}
	for _, m := range s.gossip.Members() {
		if m.Meta.GetRole() != gossip.RoleServer || m.Name == s.cfg.Name {
			continue
		}
		id := raft.ServerID(m.Name)
		addr, known := inConfig[id]
		switch {
		case m.Status == gossip.StatusAlive && (!known || addr != raft.ServerAddress(m.Meta.GetRaftAddr())):
			if err := s.verifyServer(s.ctx, m); err != nil {
				continue
			}
			s.logger.Info("adding server to raft", "node", m.Name, "raft", m.Meta.GetRaftAddr())
			if err := s.raft.AddVoter(id, raft.ServerAddress(m.Meta.GetRaftAddr()), 0, 5*time.Second).Error(); err != nil {
				s.logger.Warn("add voter", "node", m.Name, "err", err)
			}
		case m.Status == gossip.StatusLeft && known:
			s.logger.Info("removing departed server from raft", "node", m.Name)
			if err := s.raft.RemoveServer(id, 0, 5*time.Second).Error(); err != nil {
				s.logger.Warn("remove server", "node", m.Name, "err", err)
			}
		}
	}
}
