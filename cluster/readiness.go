package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// readWait bounds how long a read waits for this server's state machine
// to apply what it knows is committed before answering that it is
// catching up.
const readWait = 500 * time.Millisecond

// maxReadLag is how many entries a server that has caught up once may
// trail what it knows is committed and still answer reads at once.
const maxReadLag = 1024

// readWaitNearly is how long a read waits for a server that trails by no
// more than maxReadLag, so a client usually reads its own writes.
const readWaitNearly = 100 * time.Millisecond

// readyForReads holds a read until this server's state is as recent as the
// log it knows of, so that it never answers from older state than it could:
// after a restart it must first replay the log it had on disk (or learn
// from a leader that part of it was never committed), and at any time it
// must have applied every entry it knows to be committed. It waits up to
// readWait, then refuses with Unavailable naming its progress; clients move
// on to another server.
func (s *Server) readyForReads(ctx context.Context) error {
	start := time.Now()
	deadline := start.Add(readWait)
	first := s.fsm.AppliedIndex()
	for {
		changed := s.fsm.Changed()
		applied, target := s.replayProgress()
		if applied >= target {
			return nil
		}
		wait := time.Until(deadline)
		nearly := s.caughtUp.Load() && target-applied <= maxReadLag && time.Since(start) >= readWaitNearly
		if nearly || wait <= 0 && s.caughtUp.Load() && applied > first {
			// A server that caught up once and keeps applying (a busy
			// cluster writes faster than it can be read to the end) answers
			// from the state it has, milliseconds behind, as the contract
			// says reads may be.
			return nil
		}
		if wait <= 0 {
			return status.Errorf(codes.Unavailable, "server %s is catching up (applied %d of %d); retry in a moment or ask another server",
				s.cfg.Name, applied, target)
		}
		timer := time.NewTimer(min(wait, 50*time.Millisecond))
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		timer.Stop()
	}
}

// replayProgress is how far this server's state machine has applied the
// log and how far it must have before it answers reads: the last command
// at or below the commit index this server knows. Until a leader has told
// it the commit index after a start, the last command of the log it started
// with counts too (it answered from that state before it stopped). Raft's
// own applied index is not used: it moves as soon as entries are queued for
// the state machine, which may still be working through thousands of them.
func (s *Server) replayProgress() (applied, target uint64) {
	applied = s.fsm.AppliedIndex()
	commit := s.raft.CommitIndex()
	committed := commit
	if applied < commit {
		// Only then can it matter which command is the last committed
		// one (the entries after it carry no state); the usual read
		// reads no log.
		committed = lastCommandIndex(s.store, commit)
	}
	target = readTarget(replayState{
		committedCommand: committed,
		startIndex:       s.startIndex.Load(),
		leaderKnown:      commit > 0 && s.raft.Leader() != "",
		caughtUp:         s.caughtUp.Load(),
	})
	if applied >= target {
		s.caughtUp.Store(true)
	}
	return applied, target
}

// replayState is what decides how far a server must have applied the log
// before it answers reads.
type replayState struct {
	// committedCommand is the last command at or below the commit index
	// this server knows.
	committedCommand uint64
	// startIndex is the last command of the log the server started with.
	startIndex uint64
	// leaderKnown is set once a leader has told this server the commit
	// index.
	leaderKnown bool
	// caughtUp is set once the server has caught up after its start.
	caughtUp bool
}

// readTarget is the index the state machine must have applied: what is
// known to be committed, and until a leader has said what is (or the
// server caught up once), also the log it had on disk at start.
func readTarget(r replayState) uint64 {
	if r.caughtUp || r.leaderKnown {
		return r.committedCommand
	}
	return max(r.committedCommand, r.startIndex)
}

// lastCommandIndex is the index of the last command in the log store at or
// below upTo, looking back at most a few thousand entries (after a command
// come only configuration, barrier and no-op entries, a handful after an
// election), or 0 when there is none, in which case the snapshot the state
// machine restored holds the state.
func lastCommandIndex(store raft.LogStore, upTo uint64) uint64 {
	last, err := store.LastIndex()
	if err != nil {
		return 0
	}
	first, _ := store.FirstIndex()
	last = min(last, upTo)
	for i := last; i >= max(first, 1) && last-i < 4096; i-- {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			continue
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return 0
}

// commitIndex is the last Raft index this server knows to be committed.
func (s *Server) commitIndex() uint64 { return s.raft.CommitIndex() }

// reportReplay logs, every few seconds until this server has caught up
// after a start, how far it has replayed its log.
func (s *Server) reportReplay() {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		applied, target := s.replayProgress()
		if s.caughtUp.Load() {
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		if target > 0 {
			s.logger.Info("replaying log", "progress", fmt.Sprintf("%d%%", applied*100/target), "applied", applied, "of", target)
		}
	}
}
