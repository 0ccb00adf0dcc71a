package agent

import (
	"context"
	"log/slog"
	"time"
)

// lease keeps the node's lease with the servers alive and fences the node
// when it runs out. A heartbeat goes out every third of the lease; the
// lease counts from when the last successful heartbeat was sent, so the
// agent gives up no later than the servers do.
type lease struct {
	// heartbeat renews the lease and returns its new duration (zero keeps
	// the current one).
	heartbeat func(ctx context.Context) (time.Duration, error)
	ttl       time.Duration
	// lost is called when the lease ran out, renewed when it is held
	// again after that.
	lost    func()
	renewed func()
	logger  *slog.Logger
}

type beat struct {
	sent time.Time
	ttl  time.Duration
	err  error
}

// run keeps the lease until ctx ends. The lease starts out held.
func (l *lease) run(ctx context.Context) {
	ttl := l.ttl
	expiry := time.NewTimer(ttl)
	defer expiry.Stop()
	ticker := time.NewTicker(ttl / 3)
	defer ticker.Stop()
	results := make(chan beat, 1)
	inflight := false
	held := true
	send := func() {
		inflight = true
		interval := ttl / 3
		go func() {
			sent := time.Now()
			callCtx, cancel := context.WithTimeout(ctx, interval)
			defer cancel()
			got, err := l.heartbeat(callCtx)
			results <- beat{sent: sent, ttl: got, err: err}
		}()
	}
	send()
	for {
		select {
		case <-ctx.Done():
			if inflight {
				<-results
			}
			return
		case <-ticker.C:
			if !inflight {
				send()
			}
		case b := <-results:
			inflight = false
			if b.err != nil {
				l.logger.Debug("heartbeat", "err", b.err)
				continue
			}
			if b.ttl > 0 && b.ttl != ttl {
				ttl = b.ttl
				ticker.Reset(ttl / 3)
			}
			remaining := time.Until(b.sent.Add(ttl))
			if remaining <= 0 {
				continue
			}
			expiry.Reset(remaining)
			if !held {
				held = true
				l.logger.Info("lease renewed")
				l.renewed()
			}
		case <-expiry.C:
			if held {
				held = false
				l.logger.Warn("lease expired: stopping every pod", "lease", ttl)
				l.lost()
			}
		}
	}
}
