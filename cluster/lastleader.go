package cluster

import (
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
)

// lastLeader remembers the last leader this server knew and its term, so
// that a "no leader" answer can say who led last. Raft itself forgets the
// leader as soon as it stops hearing from it.
type lastLeader struct {
	mu   sync.Mutex
	id   string
	term uint64
}

func (l *lastLeader) set(id string, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.id, l.term = id, term
}

func (l *lastLeader) get() (id string, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id, l.term
}

// observeLeaders registers for Raft's leader changes. Call it before the
// server can elect a leader, so that no change is missed, and run
// recordLeaders with the channel it returns.
func (s *Server) observeLeaders() chan raft.Observation {
	ch := make(chan raft.Observation, 16)
	s.raft.RegisterObserver(raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
	return ch
}

// recordLeaders keeps s.lastLeader and the pace of Raft's heartbeats
// (paceHeartbeats) up to date until the server stops.
func (s *Server) recordLeaders(changes <-chan raft.Observation) {
	for {
		select {
		case <-s.ctx.Done():
			return
		case o := <-changes:
			if id := o.Data.(raft.LeaderObservation).LeaderID; id != "" {
				s.lastLeader.set(string(id), s.raft.CurrentTerm())
			}
			s.paceHeartbeats()
		}
	}
}

// noLeader is ErrNoLeader saying which leader this server knew last, and
// in which term: "no leader elected yet (last leader s1, term 7)".
func (s *Server) noLeader() error {
	id, term := s.lastLeader.get()
	if id == "" {
		return fmt.Errorf("%w (none since %s started, term %d)", ErrNoLeader, s.cfg.Name, s.raft.CurrentTerm())
	}
	return fmt.Errorf("%w (last leader %s, term %d)", ErrNoLeader, id, term)
}
