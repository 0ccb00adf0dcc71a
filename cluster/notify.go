package cluster

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/notify"
)

// Delivery bounds: attempts in flight at once, per pass, and the time one
// attempt may take. A slow or failing receiver costs only this loop.
const (
	notifyParallel   = 8
	notifyPerPass    = 64
	notifyAttemptMax = 5 * time.Second
)

// notifyLoop delivers the outbox to the configured webhooks, on the
// leader, recording every attempt through Raft so a new leader carries on
// where this one stopped.
func (s *Server) notifyLoop(ctx context.Context) {
	if len(s.cfg.Notify) == 0 {
		return
	}
	sender := notify.Sender{Client: &http.Client{Timeout: notifyAttemptMax}}
	s.passLoop(ctx, 10*time.Second, func(ctx context.Context, now time.Time) time.Time {
		return s.deliverNotifications(ctx, sender, now)
	})
}

type attempt struct {
	n      *api.Notification
	target notify.Target
}

// deliverNotifications makes one round of attempts and returns when the
// next is due.
func (s *Server) deliverNotifications(ctx context.Context, sender notify.Sender, now time.Time) time.Time {
	var due []attempt
	var next time.Time
	for _, n := range s.fsm.State().Notifications() {
		for _, t := range notify.Due(n, s.cfg.Notify, now) {
			if len(due) < notifyPerPass {
				due = append(due, attempt{n, t})
			}
		}
		for _, d := range n.GetDeliveries() {
			if at := d.GetNextAttempt(); at != nil && !d.GetDelivered() && !d.GetGaveUp() && at.AsTime().After(now) &&
				(next.IsZero() || at.AsTime().Before(next)) {
				next = at.AsTime()
			}
		}
	}
	if len(due) == 0 {
		return next
	}
	results := make([]*api.DeliveryResult, len(due))
	sem := make(chan struct{}, notifyParallel)
	var wg sync.WaitGroup
	for i, a := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			actx, cancel := context.WithTimeout(ctx, notifyAttemptMax)
			err := sender.Send(actx, a.target, a.n)
			cancel()
			if err != nil {
				s.logger.Debug("notification not delivered", "id", a.n.GetId(), "target", a.target.URL, "err", err)
			}
			results[i] = notify.Result(a.n, a.target.URL, err, s.clock.Now())
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return time.Time{}
	}
	if _, err := s.proposer.Propose(ctx, (&api.RecordDeliveries{Results: results}).Command()); err != nil {
		s.logger.Warn("record notification deliveries", "err", err)
		return now.Add(time.Second)
	}
	return time.Time{} // the change wakes the next round
}

// Notifications lists the outbox, newest first, with each target's
// delivery state. Any server answers from its state.
func (c *controlService) Notifications(ctx context.Context, req *api.NotificationsRequest) (*api.NotificationsResponse, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	limit := int(req.GetLimit())
	if limit <= 0 {
		limit = 100
	}
	resp := &api.NotificationsResponse{}
	for _, n := range c.s.fsm.State().Notifications() {
		if len(resp.Items) >= limit {
			break
		}
		if req.GetUndeliveredOnly() && delivered(n) {
			continue
		}
		resp.Items = append(resp.Items, n)
	}
	return resp, nil
}

func delivered(n *api.Notification) bool {
	if len(n.GetDeliveries()) == 0 {
		return false
	}
	for _, d := range n.GetDeliveries() {
		if !d.GetDelivered() {
			return false
		}
	}
	return true
}

// pendingCheckEvery is how often the leader looks for Jobs stuck Pending.
const pendingCheckEvery = 5 * time.Second

// pendingLoop announces, on the leader, each Job whose pods have waited
// for a node longer than Config.NotifyPendingAfter (JobPending), once per
// waiting episode: the notification goes through Raft, so a new leader
// sees it was made.
func (s *Server) pendingLoop(ctx context.Context) {
	after := s.cfg.NotifyPendingAfter
	if after <= 0 {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(pendingCheckEvery):
		}
		st := s.fsm.State()
		known := map[string]bool{}
		for _, n := range st.Notifications() {
			known[n.GetId()] = true
		}
		var fresh []*api.Notification
		for _, n := range notify.StuckPending(st.LiveJobs(), func(j *api.Job) []*api.Pod {
			return st.PodsOfJob(j.GetMetadata().GetNamespace(), j.GetMetadata().GetName())
		}, s.clock.Now(), after) {
			if !known[n.GetId()] {
				fresh = append(fresh, n)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		if _, err := s.proposer.Propose(ctx, (&api.AddNotifications{Notifications: fresh}).Command()); err != nil {
			s.logger.Debug("announce pending jobs", "err", err)
		}
	}
}
