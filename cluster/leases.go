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
//
// Only the leader renews (Heartbeat and ReportPodStatus go through
// toLeader: a follower forwards them once and answers with the leader's
// answer), so an agent whose heartbeat succeeded knows the leader renewed
// after the agent sent it. The agent counts its own lease from that send
// time and fences itself once it runs out, no later than the leader's
// lastRenewal + LeaseTTL + leaseMargin, when scheduler.ReconcileNodes fails its pods
// NodeLost. A new leader resets after its barrier, later than any renewal
// an old one recorded (Raft's leader lease, half the heartbeat timeout,
// makes an old leader step down before others may elect a new one), so a
// leader change only moves that point later.
//
// A dead agent's guard, once it has killed every pod of that agent, says
// so (stop): if the lease was last renewed by the same agent process, its
// node's pods are lost at once rather than when the lease expires. A
// renewal by any process, a later incarnation included, undoes it, so a
// notice that arrives late cannot fail the pods of an agent started since.
type leases struct {
	mu   sync.Mutex
	base time.Time
	last map[string]time.Time
	// incarnation is the agent process that made each node's last
	// renewal, empty when unknown; stopped holds when a node's guard
	// said that process is dead and its pods killed.
	incarnation map[string]string
	stopped     map[string]time.Time
	// renewedAfterGap wakes the node controller when a lease is renewed
	// after a gap longer than gap, for the first time since reset, or
	// after a stop: the node may be Ready again. Other renewals change
	// nothing it decides now, so it need not poll.
	renewedAfterGap *broadcast
	gap             time.Duration
}

func newLeases(gap time.Duration) *leases {
	return &leases{
		last: map[string]time.Time{}, incarnation: map[string]string{}, stopped: map[string]time.Time{},
		renewedAfterGap: newBroadcast(), gap: gap,
	}
}

func (l *leases) reset(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base = now
	clear(l.last)
	clear(l.incarnation)
	clear(l.stopped)
}

// renew records a renewal of node's lease by the agent process
// incarnation (empty: unknown).
func (l *leases) renew(node, incarnation string, now time.Time) {
	l.mu.Lock()
	prev, ok := l.last[node]
	l.last[node] = now
	l.incarnation[node] = incarnation
	_, wasStopped := l.stopped[node]
	delete(l.stopped, node)
	l.mu.Unlock()
	if !ok || now.Sub(prev) > l.gap || wasStopped {
		// The node may be Ready again.
		l.renewedAfterGap.notify()
	}
}

// stop records that node's agent process incarnation died and its guard
// killed every pod it ran. It tells whether that counts: only when that
// very process made the last renewal since this leader took over.
func (l *leases) stop(node, incarnation string, now time.Time) bool {
	l.mu.Lock()
	ok := incarnation != "" && l.incarnation[node] == incarnation
	if ok {
		l.stopped[node] = now
	}
	l.mu.Unlock()
	if ok {
		l.renewedAfterGap.notify()
	}
	return ok
}

// snapshot returns when this server started counting leases and a copy of
// every renewal since.
func (l *leases) snapshot() (start time.Time, renewals map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base, maps.Clone(l.last)
}

// stoppedNodes returns the nodes whose agent died with its pods killed,
// and when their guard said so.
func (l *leases) stoppedNodes() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.stopped)
}

// lastRenewal is when the node's lease was last renewed with this leader,
// or when this server started counting leases if it has not been renewed
// since: the time its lease counts from.
func (l *leases) lastRenewal(node string) time.Time {
	start, renewals := l.snapshot()
	if t, ok := renewals[node]; ok && t.After(start) {
		return t
	}
	return start
}
