package cluster

import (
	"maps"
	"sync"
	"time"
)

// leases tracks when each agent last renewed its lease with this leader.
// It lives in the leader's memory on purpose: a new leader starts every
// lease afresh (reset), which only ever delays declaring a node lost, never
// hastens it, so an agent and its replacement cannot overlap.
type leases struct {
	mu   sync.Mutex
	base time.Time
	last map[string]time.Time
}

func newLeases() *leases { return &leases{last: map[string]time.Time{}} }

func (l *leases) reset(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base = now
	clear(l.last)
}

func (l *leases) renew(node string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last[node] = now
}

// snapshot returns when this server started counting leases and a copy of
// every renewal since.
func (l *leases) snapshot() (start time.Time, renewals map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base, maps.Clone(l.last)
}
