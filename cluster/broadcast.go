package cluster

import "sync"

// broadcast wakes every waiter at once. Gossip's Changed channel wakes
// one reader per change, and several loops wait for membership changes,
// so the server relays each change to all of them through a broadcast.
// Safe for concurrent use.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

// wait returns a channel closed at the next notify. Take it before
// reading what may change, so a change in between is not missed.
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}

// relayMemberChanges tells every loop waiting on membersChanged about each
// change gossip reports, until the server stops.
func (s *Server) relayMemberChanges() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.gossip.Changed():
			s.membersChanged.notify()
		}
	}
}
