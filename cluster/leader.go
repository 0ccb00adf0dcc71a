package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// monitorLeadership starts the leader's loops when this server gains
// leadership and stops them, waiting until they returned, when it loses it.
func (s *Server) monitorLeadership() {
	var stopLeader func()
	defer func() {
		if stopLeader != nil {
			stopLeader()
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return
		case isLeader := <-s.leaderCh:
			switch {
			case !isLeader && stopLeader != nil:
				stopLeader()
				stopLeader = nil
				s.logger.Info("leadership lost", "node", s.cfg.Name)
			case isLeader && stopLeader == nil:
				ctx, cancel := context.WithCancel(s.ctx)
				done := make(chan struct{})
				go func() {
					defer close(done)
					s.leaderLoop(ctx)
				}()
				stopLeader = func() {
					cancel()
					<-done
				}
			}
		}
	}
}

// leaderLoop runs while this server leads: it waits until every earlier
// entry is applied, then runs the controllers until leadership ends.
func (s *Server) leaderLoop(ctx context.Context) {
	for {
		err, ok := s.barrier(ctx)
		if !ok {
			return
		}
		if err == nil {
			break
		}
		s.logger.Warn("leader barrier", "err", err)
		if err == raft.ErrNotLeader || err == raft.ErrLeadershipLost {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(100 * time.Millisecond):
		}
	}
	s.logger.Info("leadership gained", "node", s.cfg.Name, "term", s.raft.Stats()["term"], "index", s.fsm.AppliedIndex())
	s.leases.reset(s.clock.Now())
	// The pod watches here release what this server released before.
	s.released.changed.notify()
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){
		s.reconcileMembersLoop,
		s.nodeControllerLoop,
		s.jobControllerLoop,
		s.cronControllerLoop,
		s.notifyLoop,
		s.pendingLoop,
		s.spreadCommitsLoop,
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
}

// passLoop runs a controller pass whenever the replicated state changes,
// when the time the last pass asked for arrives (a back-off, a deadline, a
// fire time), and at least every idle. It sleeps in between: no polling.
func (s *Server) passLoop(ctx context.Context, idle time.Duration, pass func(context.Context, time.Time) time.Time) {
	for {
		changed := s.fsm.Changed()
		next := pass(ctx, s.clock.Now())
		wait := idle
		if !next.IsZero() {
			wait = min(max(next.Sub(s.clock.Now()), 0), idle)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-s.clock.After(wait):
		}
	}
}

// spreadCommitsLoop lets the followers learn of each commit at once. A
// follower learns the commit index only from the next AppendEntries the
// leader sends it, and once writes stop nothing is sent but heartbeats
// (which carry no commit index) and, every CommitTimeout, an append of
// nothing. Agents watch their pods on any server, followers included, so
// after each change the leader appends a barrier: its replication carries
// the commit index of everything applied before it. That is one small
// entry per burst of writes and nothing while the cluster idles, which is
// what lets CommitTimeout be long and an idle leader cheap.
func (s *Server) spreadCommitsLoop(ctx context.Context) {
	const spreadDelay = 2 * time.Millisecond
	var spread uint64
	for {
		changed := s.fsm.Changed()
		if applied := s.fsm.AppliedIndex(); applied > spread {
			// A moment's delay lets the controllers' writes that follow
			// a change go first, rather than wait behind the barrier's
			// disk write. It is a nudge for freshness, so real time.
			select {
			case <-ctx.Done():
				return
			case <-time.After(spreadDelay):
			}
			applied = s.fsm.AppliedIndex()
			err, ok := s.barrier(ctx)
			if !ok {
				return
			}
			if err != nil {
				s.logger.Debug("spread commit index", "index", applied, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-s.clock.After(100 * time.Millisecond):
				}
				continue
			}
			spread = applied
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// barrier waits until every entry before it is applied, or until ctx ends
// (ok false). A barrier's timeout bounds only its queueing: once queued,
// a Raft shutting down may never answer it, so the wait must not outlast
// the server.
func (s *Server) barrier(ctx context.Context) (err error, ok bool) {
	f := s.raft.Barrier(5 * time.Second)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err, true
	case <-ctx.Done():
		return nil, false
	}
}
