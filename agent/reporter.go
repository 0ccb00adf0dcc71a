package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

const (
	minRetryDelay  = 100 * time.Millisecond
	maxRetryDelay  = time.Second
	maxReportBatch = 1000
	// maxReportBytes keeps a batch well under what a server reads in one
	// request (api.MaxRequestBytes): log tails make updates large.
	maxReportBytes = 4 << 20
	// maxPendingEvents is how many of a pod's events wait for a report;
	// older ones are dropped.
	maxPendingEvents = 20
)

// reporter sends pod status changes to the servers in batches. While a
// call is in flight new changes pile up and the latest status per pod
// wins; a failed call is retried (the send function picks another server)
// until it succeeds. A final status is never replaced by a later
// non-final one.
type reporter struct {
	send   func(ctx context.Context, updates []*api.PodStatusUpdate) error
	acked  func(uid string) // called for each final status the servers took
	logger *slog.Logger

	mu      sync.Mutex
	pending map[string]*api.PodStatusUpdate // by UID
	order   []string                        // UIDs of pending, oldest first
	wake    chan struct{}                   // capacity 1
}

func newReporter(send func(context.Context, []*api.PodStatusUpdate) error, acked func(uid string), logger *slog.Logger) *reporter {
	return &reporter{
		send:    send,
		acked:   acked,
		logger:  logger,
		pending: map[string]*api.PodStatusUpdate{},
		wake:    make(chan struct{}, 1),
	}
}

// Report queues an update. It never blocks.
func (r *reporter) Report(u *api.PodStatusUpdate) {
	r.mu.Lock()
	r.put(u)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// put queues u unless a final status of the pod is queued. r.mu must be
// held.
func (r *reporter) put(u *api.PodStatusUpdate) {
	old, ok := r.pending[u.GetUid()]
	switch {
	case !ok:
		r.order = append(r.order, u.GetUid())
	case isFinal(old.GetStatus()) && !isFinal(u.GetStatus()):
		return
	case len(old.GetLogTails()) > 0:
		// The newer update keeps the tails the older one had and it has
		// not: they are not sent again.
		u = proto.Clone(u).(*api.PodStatusUpdate)
		have := map[string]bool{}
		for _, t := range u.GetLogTails() {
			have[t.GetContainer()+fmt.Sprint(t.GetPrevious())] = true
		}
		for _, t := range old.GetLogTails() {
			if !have[t.GetContainer()+fmt.Sprint(t.GetPrevious())] {
				u.LogTails = append(u.LogTails, t)
			}
		}
	}
	if len(old.GetEvents()) > 0 {
		// Events are not sent again either: the older ones go first.
		u = proto.Clone(u).(*api.PodStatusUpdate)
		u.Events = append(append([]*api.Event{}, old.GetEvents()...), u.GetEvents()...)
		if n := len(u.Events); n > maxPendingEvents {
			u.Events = u.Events[n-maxPendingEvents:]
		}
	}
	r.pending[u.GetUid()] = u
}

// take removes and returns up to maxReportBatch queued updates.
func (r *reporter) take() []*api.PodStatusUpdate {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.order), maxReportBatch)
	batch := make([]*api.PodStatusUpdate, 0, n)
	size := 0
	taken := 0
	for _, uid := range r.order[:n] {
		u := r.pending[uid]
		if size += proto.Size(u); size > maxReportBytes && taken > 0 {
			break
		}
		batch = append(batch, u)
		delete(r.pending, uid)
		taken++
	}
	r.order = r.order[taken:]
	return batch
}

// requeue puts back a batch that was not delivered, ahead of the rest,
// except for pods with a newer status queued meanwhile.
func (r *reporter) requeue(batch []*api.PodStatusUpdate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	front := make([]string, 0, len(batch))
	for _, u := range batch {
		if _, newer := r.pending[u.GetUid()]; !newer {
			r.pending[u.GetUid()] = u
			front = append(front, u.GetUid())
		}
	}
	r.order = append(front, r.order...)
}

func (r *reporter) queued() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// run sends queued updates until ctx ends.
func (r *reporter) run(ctx context.Context) {
	delay := minRetryDelay
	for {
		if ctx.Err() != nil {
			return
		}
		batch := r.take()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
			}
			continue
		}
		if err := r.deliver(ctx, batch); err != nil {
			r.logger.Debug("report pod status", "pods", len(batch), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, maxRetryDelay)
			continue
		}
		delay = minRetryDelay
	}
}

// flush sends everything queued, retrying until ctx ends.
func (r *reporter) flush(ctx context.Context) error {
	for r.queued() > 0 {
		if err := r.deliver(ctx, r.take()); err != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(minRetryDelay):
			}
		}
	}
	return nil
}

// deliver sends one batch; on failure the batch goes back in the queue.
func (r *reporter) deliver(ctx context.Context, batch []*api.PodStatusUpdate) error {
	if err := r.send(ctx, batch); err != nil {
		r.requeue(batch)
		return err
	}
	for _, u := range batch {
		if isFinal(u.GetStatus()) {
			r.acked(u.GetUid())
		}
	}
	return nil
}
