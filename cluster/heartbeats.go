package cluster

import "time"

// leaderHeartbeatTimeout is the heartbeat timeout a server sets in its own
// Raft while it leads, as a multiple of Timing.RaftHeartbeat (3/2).
//
// hashicorp/raft sends a leader's heartbeats every tenth to fifth of the
// leader's own HeartbeatTimeout, while each follower stands for election
// after its own HeartbeatTimeout without contact. An idle leader spends
// most of its CPU on those heartbeats, so it paces them by a
// longer timeout than its followers wait for: every 75–150 ms instead of
// 50–100 ms at the default 500 ms. Failure detection is unchanged, since
// the followers still stand after 500 ms without the leader, and so is
// the leader's lease (Raft's LeaderLeaseTimeout, half of RaftHeartbeat,
// which makes a leader cut off from its followers step down before they
// may elect another): a heartbeat's answer still comes at least 100 ms
// before it runs out.
func leaderHeartbeatTimeout(base time.Duration) time.Duration { return base * 3 / 2 }

// heartbeatTimeout decides the heartbeat timeout of this server's Raft
// when it learns who leads: the longer pace while it leads itself, the
// configured timeout once another server leads. While no leader is known
// it keeps the current one: a server that just stopped leading last heard
// from a leader before it was elected itself, and shortening its timeout
// then would make it stand for election at once (Raft checks a shorter
// timeout immediately), before the others had the chance to elect a
// successor.
func heartbeatTimeout(base, current time.Duration, self, leader string) time.Duration {
	switch leader {
	case "":
		return current
	case self:
		return leaderHeartbeatTimeout(base)
	default:
		return base
	}
}

// paceHeartbeats sets this server's Raft heartbeat timeout for the leader
// Raft knows now (see heartbeatTimeout). Only recordLeaders calls it, so
// the read and the reload of Raft's configuration do not race.
func (s *Server) paceHeartbeats() {
	_, leader := s.raft.LeaderWithID()
	rc := s.raft.ReloadableConfig()
	hb := heartbeatTimeout(s.timing.RaftHeartbeat, rc.HeartbeatTimeout, s.cfg.Name, string(leader))
	if hb == rc.HeartbeatTimeout {
		return
	}
	rc.HeartbeatTimeout, rc.ElectionTimeout = hb, hb
	if err := s.raft.ReloadConfig(rc); err != nil {
		s.logger.Warn("set raft heartbeat timeout", "timeout", hb, "err", err)
		return
	}
	s.logger.Debug("raft heartbeat timeout set", "timeout", hb, "leader", leader)
}
