package cluster

import (
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxReplayWait bounds how long reads wait for a restarted server to
// replay its log, should entries of its log never be committed.
const maxReplayWait = 30 * time.Second

// readyForReads refuses reads on a server that restarted and has not yet
// replayed the log it had on disk: it would answer from older state than it
// answered with before it stopped. Clients move on to another server.
func (s *Server) readyForReads() error {
	if s.caughtUp.Load() {
		return nil
	}
	applied := s.fsm.AppliedIndex()
	ready := applied >= s.startIndex || s.clock.Now().Sub(s.started) > maxReplayWait
	if !ready && s.raft.Leader() != "" {
		commit, _ := strconv.ParseUint(s.raft.Stats()["commit_index"], 10, 64)
		ready = commit > 0 && applied >= commit
	}
	if ready {
		s.caughtUp.Store(true)
		return nil
	}
	return status.Errorf(codes.Unavailable, "server %s is still replaying its log (applied index %d of %d); retry in a moment or ask another server",
		s.cfg.Name, applied, s.startIndex)
}
