package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jobcluster/jobcluster/metrics"
)

// lease keeps the node's lease with the servers alive and fences the node
// when it runs out.
//
// # How it renews
//
// A healthy node renews every sixth of the lease, so one lost renewal costs
// little of it. A renewal is one attempt: a heartbeat to the server that
// answered last, and to the next known server as well whenever the ones
// asked so far failed or have been silent for a twentieth of the lease
// (hedging), until one succeeds. A failed attempt is followed by another
// after a short pause that shrinks as the lease runs out (a tenth of what
// is left, between a hundredth and a twelfth of the lease) instead of
// waiting for the next period. Attempts do not wait for one another: one
// stuck on a server that went silent (its calls end after a third of the
// lease) does not hold back the next. So an agent that can reach any
// server of a working majority renews within a hedge delay or a short
// retry of the moment a leader serves again: an election that ends within
// the lease minus one period (2.5 s of a 3 s lease) and a retry does not
// fence it.
//
// # Why this is safe
//
// A heartbeat succeeds only once the leader recorded the renewal:
// the Heartbeat RPC renews in the memory of the server that leads when
// it answers, and a follower forwards the request once to the leader it
// knows and returns the leader's answer, failing when there is none or it
// does not answer (cluster/service_agent.go, toLeader). So a follower's
// success means the leader renewed, and that renewal happened after the
// agent sent the request. The agent counts its lease from that send time,
// never from the answer, so its deadline (sent + TTL) comes no later than
// the leader's (renewal + TTL + leaseMargin, where the servers fail the
// node's pods NodeLost), whichever server answered, and however long the
// answer took. Several attempts in flight change nothing: each success
// carries its own send time, and the lease counts from the latest.
//
// A leader change can only move the servers' deadline later: a new leader
// starts every lease afresh from when it took office (after its barrier),
// which is later than any renewal recorded by a leader before it (Raft's
// leader lease makes an old leader step down before a new one can be
// elected, and leaseMargin covers what slips through). That is what lets
// the agent ride out an election: the servers do not count the time
// without a leader against it, and the agent, which cannot tell when the
// new leader took office, keeps counting from its last successful send and
// only has to renew with the new leader before that runs out.
//
// The agent's and the servers' clocks are only ever used to measure
// intervals of a few seconds, each on its own monotonic clock; the margin
// also covers the time the agent takes to kill its pods (SIGKILL, at once).
type lease struct {
	// servers lists the RPC addresses of the servers known now.
	servers func() []string
	// heartbeat asks one server to renew the lease and returns the lease
	// duration the leader granted (zero keeps the current one). It must
	// return once ctx is done.
	heartbeat func(ctx context.Context, server string) (time.Duration, error)
	// leader, when set, names the leader as the last heartbeat's answer
	// told it (empty when unknown): renewals go there first, sparing the
	// hop a follower makes to forward them.
	leader func() string
	ttl    time.Duration
	// lost is called when the lease ran out, renewed when it is held
	// again after that.
	lost    func()
	renewed func()
	// extended, when set, is told how long the lease has left each time
	// a renewal extends it (and the whole lease at the start).
	extended func(left time.Duration)
	logger   *slog.Logger
	// metrics counts renewals and expiries; nil counts nothing.
	metrics *metrics.Agent
	// held is true while the lease holds; registered once a server
	// renewed it.
	held, registered atomic.Bool
}

// maxAttempts bounds the renewal attempts in flight at once.
const maxAttempts = 3

// Fractions of the lease that set the pace of renewals.

// renewEvery is the time between renewals of a held lease.
func renewEvery(ttl time.Duration) time.Duration { return ttl / 6 }

// hedgeAfter is how long a heartbeat may go unanswered before the next
// server is asked as well.
func hedgeAfter(ttl time.Duration) time.Duration { return ttl / 20 }

// attemptTimeout bounds one attempt, all of its heartbeats included.
func attemptTimeout(ttl time.Duration) time.Duration { return ttl / 3 }

// retryAfter is the pause after a failed attempt, with left of the lease
// remaining: the less is left, the sooner the next try.
func retryAfter(ttl, left time.Duration) time.Duration {
	if left <= 0 {
		// Already fenced: nothing to save, no need to press the servers.
		return ttl / 12
	}
	return min(max(left/10, ttl/100), ttl/12)
}

// renewal is the outcome of one attempt.
type renewal struct {
	// sent is when the heartbeat that succeeded was sent.
	sent time.Time
	// server answered it.
	server string
	// ttl is the lease duration granted, zero for unchanged.
	ttl time.Duration
	err error
}

// run keeps the lease until ctx ends. The lease starts out held.
func (l *lease) run(ctx context.Context) {
	ttl := l.ttl
	lastSent := time.Now()
	expiry := time.NewTimer(ttl)
	defer expiry.Stop()
	next := time.NewTimer(0)
	defer next.Stop()
	nextAt := time.Now()
	schedule := func(d time.Duration) {
		nextAt = time.Now().Add(d)
		next.Reset(d)
	}
	results := make(chan renewal, maxAttempts)
	inflight := 0
	held := true
	l.held.Store(true)
	if l.extended != nil {
		l.extended(ttl)
	}
	preferred := ""
	// failingSince is when the first heartbeat failed since the last
	// success, zero while they succeed.
	var failingSince time.Time
	for {
		select {
		case <-ctx.Done():
			for range inflight {
				<-results
			}
			return
		case <-next.C:
			if inflight >= maxAttempts {
				schedule(retryAfter(ttl, time.Until(lastSent.Add(ttl))))
				continue
			}
			inflight++
			order := serverOrder(l.servers(), preferred)
			go func() { results <- l.attempt(ctx, order, ttl) }()
			schedule(renewEvery(ttl))
		case r := <-results:
			inflight--
			l.metrics.LeaseRenewal(r.err == nil)
			if r.err != nil {
				l.logger.Debug("heartbeat", "err", r.err)
				if failingSince.IsZero() {
					failingSince = time.Now()
				}
				if d := retryAfter(ttl, time.Until(lastSent.Add(ttl))); time.Now().Add(d).Before(nextAt) {
					schedule(d)
				}
				continue
			}
			preferred = r.server
			if l.leader != nil {
				if leader := l.leader(); leader != "" {
					preferred = leader
				}
			}
			l.registered.Store(true)
			if !failingSince.IsZero() {
				l.logger.Info("heartbeat succeeded again", "server", r.server, "failingFor", time.Since(failingSince),
					"leaseLeft", time.Until(lastSent.Add(ttl)))
				failingSince = time.Time{}
			}
			if r.ttl > 0 && r.ttl != ttl {
				ttl = r.ttl
				schedule(min(time.Until(nextAt), renewEvery(ttl)))
			}
			if r.sent.After(lastSent) {
				lastSent = r.sent
			}
			// The lease may also shrink here, when the servers now grant a
			// shorter one.
			left := time.Until(lastSent.Add(ttl))
			if left <= 0 {
				continue
			}
			expiry.Reset(left)
			if l.extended != nil {
				l.extended(left)
			}
			if !held {
				held = true
				l.held.Store(true)
				l.logger.Info("lease renewed")
				l.renewed()
			}
		case <-expiry.C:
			if held {
				held = false
				l.held.Store(false)
				l.metrics.LeaseExpired()
				l.logger.Warn("lease expired: stopping every pod", "lease", ttl, "sinceRenewalSent", time.Since(lastSent))
				l.lost()
			}
		}
	}
}

// attempt renews the lease with the first of the servers that answers:
// it asks them in order, moving on to the next one when every one asked
// so far failed or none answered within the hedge delay, and returns the
// first success (the others are cancelled) or every failure.
func (l *lease) attempt(ctx context.Context, order []string, ttl time.Duration) renewal {
	if len(order) == 0 {
		return renewal{err: errNoServers}
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout(ttl))
	defer cancel()
	answers := make(chan renewal, len(order))
	asked := 0
	ask := func() {
		server := order[asked]
		asked++
		go func() {
			sent := time.Now()
			d, err := l.heartbeat(ctx, server)
			answers <- renewal{sent: sent, server: server, ttl: d, err: err}
		}()
	}
	hedge := time.NewTimer(hedgeAfter(ttl))
	defer hedge.Stop()
	ask()
	var errs []error
	for answered := 0; answered < asked; {
		select {
		case a := <-answers:
			answered++
			if a.err == nil {
				return a
			}
			errs = append(errs, fmt.Errorf("heartbeat to %s: %w", a.server, a.err))
			if asked < len(order) && answered == asked && ctx.Err() == nil {
				ask()
				hedge.Reset(hedgeAfter(ttl))
			}
		case <-hedge.C:
			if asked < len(order) {
				ask()
				hedge.Reset(hedgeAfter(ttl))
			}
		}
	}
	return renewal{err: errors.Join(errs...)}
}

// serverOrder lists the servers to ask, the preferred one (the last to
// answer) first and the others after it in address order.
func serverOrder(servers []string, preferred string) []string {
	order := slices.Sorted(slices.Values(servers))
	if i := slices.Index(order, preferred); i > 0 {
		order = slices.Concat(order[i:], order[:i])
	}
	return order
}
