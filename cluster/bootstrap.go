package cluster

import (
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// bootstrapLoop bootstraps Raft once, when exactly BootstrapExpect servers
// that expect the same number see each other. A server with Raft state
// never bootstraps again, so restarts cannot create a second cluster; a
// server started without --bootstrap-expect waits to be added by a leader.
func (s *Server) bootstrapLoop() {
	if s.cfg.BootstrapExpect <= 0 {
		return
	}
	has, err := raft.HasExistingState(s.store, s.store, s.snaps)
	if err != nil {
		s.logger.Error("read raft state", "err", err)
		return
	}
	if has {
		s.logger.Debug("raft state exists, not bootstrapping")
		return
	}
	for {
		changed := s.membersChanged.wait()
		if s.raft.Leader() != "" {
			return // another server added us to its cluster
		}
		if cfg, ok := s.bootstrapConfig(); ok {
			err := s.raft.BootstrapCluster(cfg).Error()
			if err != nil && err != raft.ErrCantBootstrap {
				s.logger.Error("bootstrap raft", "err", err)
			} else if err == nil {
				s.logger.Info("bootstrapped cluster", "servers", len(cfg.Servers))
			}
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-changed:
		case <-s.clock.After(200 * time.Millisecond):
		}
	}
}

func (s *Server) bootstrapConfig() (raft.Configuration, bool) {
	var servers []raft.Server
	self := false
	for _, m := range s.gossip.AliveServers() {
		if int(m.Meta.GetBootstrapExpect()) != s.cfg.BootstrapExpect {
			continue
		}
		if m.Name == s.cfg.Name {
			self = true
		} else if err := s.verifyServer(s.ctx, m); err != nil {
			continue
		}
		servers = append(servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(m.Name),
			Address:  raft.ServerAddress(m.Meta.GetRaftAddr()),
		})
	}
	if s.cfg.BootstrapExpect == 1 {
		return raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(s.cfg.Name), Address: raft.ServerAddress(s.cfg.RaftAddr),
		}}}, true
	}
	if !self || len(servers) != s.cfg.BootstrapExpect {
		return raft.Configuration{}, false
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	return raft.Configuration{Servers: servers}, true
}
