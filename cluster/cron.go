package cluster

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/scheduler"
)

// cronControllerLoop decides each CronJob's due times. It sleeps until the
// earliest next fire time (or a change of state) rather than polling, and
// records every decision through Raft, so a new leader resumes from the
// replicated lastScheduleTime and cannot fire a time twice.
func (s *Server) cronControllerLoop(ctx context.Context) {
	since := s.clock.Now()
	s.passLoop(ctx, time.Minute, func(ctx context.Context, now time.Time) time.Time {
		start := time.Now()
		defer func() { s.metrics.CronSynced(time.Since(start)) }()
		return s.reconcileCronJobs(ctx, now, since)
	})
}

// reconcileCronJobs runs a pass over every CronJob at now, for a leader
// in office since leaderSince.
func (s *Server) reconcileCronJobs(ctx context.Context, now, leaderSince time.Time) time.Time {
	st := s.fsm.State()
	var next time.Time
	var cmds []*api.Command
	var events []*api.Event
	var newJobs []*api.Job
	held := map[string]bool{} // Jobs decided ahead
	for _, cj := range st.CronJobs() {
		ns, name := cj.GetMetadata().GetNamespace(), cj.GetMetadata().GetName()
		jobs := st.JobsOfCronJob(ns, name)
		rel := scheduler.ReleaseCronRuns(cj, jobs, func(j *api.Job) []*api.Pod {
			return st.PodsOfJob(ns, j.GetMetadata().GetName())
		}, s.released.has, now, cronReleaseLead)
		released := map[string]time.Time{}
		for _, j := range rel.Release {
			at, _ := api.NotBefore(j.GetSpec().GetTemplate().GetMetadata().GetAnnotations())
			released[j.GetMetadata().GetUid()] = at
			s.logger.Debug("cron run released", "cronjob", name, "job", j.GetMetadata().GetName(), "at", at)
		}
		// At once: the watches tell the agents whatever the rest of the
		// pass and its proposal do.
		s.released.release(now, released)
		for _, j := range rel.Withdraw {
			// Its ledger entry and lastScheduleTime say so, then the
			// Job goes.
			cmds = append(cmds, (&api.CronDecision{
				Namespace: ns, CronJob: name, ScheduledTime: timestamppb.New(scheduler.JobScheduledTime(j)),
				Action: scheduler.CronWithdrawn, DecidedAt: timestamppb.New(now),
			}).Command())
			cmds = append(cmds, (&api.DeleteJob{Namespace: ns, Name: j.GetMetadata().GetName(), Uid: j.GetMetadata().GetUid()}).Command())
		}
		for _, e := range rel.Events {
			events = append(events, event(now, api.CronJobResource.Kind, ns, name, cj.GetMetadata().GetUid(), e.Type, e.Reason, e.Message))
		}
		for _, j := range jobs {
			if _, ok := api.NotBefore(j.GetSpec().GetTemplate().GetMetadata().GetAnnotations()); ok {
				held[j.GetMetadata().GetUid()] = true
			}
		}
		if !rel.Next.IsZero() && (next.IsZero() || rel.Next.Before(next)) {
			next = rel.Next
		}
		loc, locErr := api.CronLocation(cj)
		plan := scheduler.ReconcileCronJob(scheduler.CronInput{
			CronJob: cj, Location: loc, LocationErr: locErr, Jobs: jobs, Pods: replacedPods(st, cj, jobs), Now: now,
			LastDecided: st.LastCronDecision(ns, name), LeaderSince: leaderSince, Lead: s.cronLead(),
		})
		if !plan.Next.IsZero() && (next.IsZero() || plan.Next.Before(next)) {
			next = plan.Next
		}
		if !plan.Scheduled.IsZero() {
			d := &api.CronDecision{
				Namespace:     ns,
				CronJob:       name,
				ScheduledTime: timestamppb.New(plan.Scheduled),
				Action:        plan.Action,
				ReplaceJobs:   plan.ReplaceJobs,
				DecidedAt:     timestamppb.New(now),
				JitterMillis:  plan.Jitter.Milliseconds(),
				ActiveJobs:    plan.ActiveJobs,
				CaughtUp:      plan.CaughtUp,
			}
			if plan.Job != nil {
				job := plan.Job
				job.Metadata.Uid = newUID()
				job.Metadata.CreationTimestamp = timestamppb.New(now)
				obj := &api.Object{Kind: &api.Object_Job{Job: job}}
				api.SetDefaults(obj)
				d.Job = job
				if len(plan.ReplaceJobs) == 0 {
					newJobs = append(newJobs, job)
				}
				if plan.Status != nil {
					for _, ref := range plan.Status.Active {
						if ref.GetName() == job.GetMetadata().GetName() {
							ref.Uid = job.GetMetadata().GetUid()
						}
					}
				}
				s.logger.Debug("cronjob fired", "cronjob", name, "job", job.GetMetadata().GetName(),
					"scheduled", plan.Scheduled, "late", now.Sub(plan.Scheduled), "not_before", plan.NotBefore)
			}
			cmds = append(cmds, d.Command())
		}
		for _, j := range plan.SuspendJobs {
			if cmd := suspendJob(st.Job(ns, j)); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
		for _, j := range plan.DeleteJobs {
			// The uid makes a retried delete harmless to a newer Job of
			// the same name.
			cmds = append(cmds, (&api.DeleteJob{
				Namespace: ns, Name: j, Uid: st.Job(ns, j).GetMetadata().GetUid(),
			}).Command())
		}
		if plan.Status != nil {
			cmds = append(cmds, (&api.UpdateCronJobStatus{
				Namespace: ns, Name: name, Uid: cj.GetMetadata().GetUid(), Status: plan.Status,
			}).Command())
		}
		for _, e := range plan.Events {
			events = append(events, event(now, api.CronJobResource.Kind, ns, name, cj.GetMetadata().GetUid(), e.Type, e.Reason, e.Message))
		}
	}
	s.released.keepOnly(held)
	// At a released run's time, the watches of agents that do not start
	// pods at their time themselves release it.
	if at := s.released.tick(now); !at.IsZero() && (next.IsZero() || at.Before(next)) {
		next = at
	}
	if len(events) > 0 {
		cmds = append(cmds, s.similar.eventCommand(events...))
	}
	if len(cmds) == 0 {
		return next
	}
	// The new Jobs' first pods go in the same entry as the decisions,
	// unless the job controller is placing now (it then creates them).
	if len(newJobs) > 0 && s.placing.TryLock() {
		defer s.placing.Unlock()
		cmds = append(cmds, s.firstPods(s.fsm.State(), newJobs, now)...)
	}
	if _, err := s.proposer.Propose(ctx, cmds...); err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("propose cron decisions", "err", err)
		}
		return now.Add(50 * time.Millisecond)
	}
	return next
}

// cronLead is how far ahead the cron controller decides a run.
func (s *Server) cronLead() time.Duration {
	switch lead := s.cfg.CronLead; {
	case lead < 0:
		return 0
	case lead == 0:
		return DefaultCronLead
	default:
		return lead
	}
}

// replacedPods lists the pods of a CronJob's unfinished Jobs, which
// concurrencyPolicy Replace waits for; other policies need none.
func replacedPods(st *fsm.State, cj *api.CronJob, jobs []*api.Job) []*api.Pod {
	if cj.GetSpec().GetConcurrencyPolicy() != api.ConcurrencyPolicyReplace {
		return nil
	}
	var pods []*api.Pod
	for _, j := range jobs {
		if _, done := api.JobFinished(j); !done {
			pods = append(pods, st.PodsOfJob(j.GetMetadata().GetNamespace(), j.GetMetadata().GetName())...)
		}
	}
	return pods
}

// suspendJob is the command that suspends a Job, so that the job
// controller stops its pods and starts no more.
func suspendJob(job *api.Job) *api.Command {
	if job == nil {
		return nil
	}
	job = proto.Clone(job).(*api.Job)
	if job.Spec == nil {
		job.Spec = &api.JobSpec{}
	}
	job.Spec.Suspend = proto.Bool(true)
	return (&api.UpsertJob{Job: job}).Command()
}
