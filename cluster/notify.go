package cluster

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
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
		if req.GetUndeliveredOnly() && delivered(n, c.s.cfg.Notify) {
			continue
		}
		resp.Items = append(resp.Items, n)
	}
	return resp, nil
}

// delivered reports a notification taken by every webhook of targets
// that asks for its event; with no targets (this server has none
// configured), by every webhook it was tried at, and at least one.
func delivered(n *api.Notification, targets []notify.Target) bool {
	if len(targets) == 0 {
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
	for _, t := range targets {
		if t.Wants(n.GetEvent()) && !slices.ContainsFunc(n.GetDeliveries(), func(d *api.NotificationDelivery) bool {
			return d.GetTarget() == t.URL && d.GetDelivered()
		}) {
			return false
		}
	}
	return true
}

// How often the leader looks for Jobs stuck Pending: at least every
// pendingCheckEvery, and when a waiting pod reaches the threshold, but
// never twice within pendingCheckMin.
const (
	pendingCheckEvery = 5 * time.Second
	pendingCheckMin   = time.Second
)

// pendingLoop announces, on the leader, each Job whose pods have waited
// for a node longer than Config.NotifyPendingAfter (JobPending), once per
// wait: the notification goes through Raft, so a new leader sees it was
// made.
func (s *Server) pendingLoop(ctx context.Context) {
	after := s.cfg.NotifyPendingAfter
	if after <= 0 {
		return
	}
	for {
		now := s.clock.Now()
		wait := pendingCheckEvery
		if next := s.announceStuckJobs(ctx, now, after); !next.IsZero() {
			wait = min(max(next.Sub(now), pendingCheckMin), pendingCheckEvery)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(wait):
		}
	}
}

// announceStuckJobs proposes the JobPending notifications due at now and
// returns when one may next be. It reads only the pods waiting for a node
// and their Jobs.
func (s *Server) announceStuckJobs(ctx context.Context, now time.Time, after time.Duration) time.Time {
	st := s.fsm.State()
	var jobs []notify.PendingJob
	byJob := map[string]int{} // namespace/name to its index in jobs, -1 for none
	for _, p := range st.UnboundPods() {
		meta := p.GetMetadata()
		name := meta.GetLabels()[api.LabelJobName]
		if name == "" {
			continue
		}
		key := api.Key(meta.GetNamespace(), name)
		i, seen := byJob[key]
		if !seen {
			i = -1
			if job := st.Job(meta.GetNamespace(), name); job != nil {
				i = len(jobs)
				jobs = append(jobs, notify.PendingJob{Job: job, CronJob: ownerCronJob(st, job),
					Announced: st.NotificationsWithPrefix(notify.PendingPrefix(job.GetMetadata().GetUid()))})
			}
			byJob[key] = i
		}
		if i >= 0 {
			jobs[i].Pods = append(jobs[i].Pods, p)
		}
	}
	stuck, next := notify.StuckPending(jobs, now, after)
	if len(stuck) == 0 {
		return next
	}
	if _, err := s.proposer.Propose(ctx, (&api.AddNotifications{Notifications: stuck}).Command()); err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("announce jobs stuck pending", "jobs", len(stuck), "err", err)
		}
		return now.Add(pendingCheckMin)
	}
	for _, n := range stuck {
		s.logger.Info("job stuck pending", "namespace", n.GetNamespace(), "job", n.GetName(), "message", n.GetMessage())
	}
	return next
}

// ownerCronJob is the CronJob that made job, or nil.
func ownerCronJob(st *fsm.State, job *api.Job) *api.CronJob {
	for _, ref := range job.GetMetadata().GetOwnerReferences() {
		if ref.GetKind() == "CronJob" {
			return st.CronJob(job.GetMetadata().GetNamespace(), ref.GetName())
		}
	}
	return nil
}
