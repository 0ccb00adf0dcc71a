package fsm

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

func (w *writer) cronJob(namespace, name string) *api.CronJob {
	return first[*api.CronJob](w.txn, tableCronJobs, "id", api.Key(namespace, name))
}

func (w *writer) applyUpsertCronJob(c *api.UpsertCronJob) error {
	cj := clone(c.GetCronJob())
	if unnamed(cj) {
		return fmt.Errorf("upsert cronjob: %w", errNoName)
	}
	name := cj.GetMetadata().GetName()
	if old := w.cronJob(cj.GetMetadata().GetNamespace(), name); old != nil {
		if c.GetCreateOnly() {
			return fmt.Errorf("cronjob %q: %w", name, ErrAlreadyExists)
		}
		cj.Metadata.Uid = old.GetMetadata().GetUid()
		cj.Metadata.CreationTimestamp = old.GetMetadata().GetCreationTimestamp()
		cj.Metadata.Generation = old.GetMetadata().GetGeneration()
		if !proto.Equal(cj.GetSpec(), old.GetSpec()) {
			cj.Metadata.Generation++
		}
		cj.Status = old.GetStatus()
	} else {
		cj.Metadata.Generation = 1
	}
	w.insert(tableCronJobs, cj)
	return nil
}

func (w *writer) applyDeleteCronJob(c *api.DeleteCronJob) error {
	cj := w.cronJob(c.GetNamespace(), c.GetName())
	if cj == nil {
		return fmt.Errorf("cronjob %q: %w", c.GetName(), ErrNotFound)
	}
	for _, j := range all[*api.Job](w.txn, tableJobs, "owner", api.Key(c.GetNamespace(), c.GetName())) {
		w.deleteJob(j)
	}
	w.removeEvents("CronJob", c.GetNamespace(), c.GetName())
	w.removeLedger(c.GetNamespace(), c.GetName())
	w.remove(tableCronJobs, cj)
	return nil
}

// applyCronDecision records one decision for one scheduled time. The Job's
// name derives from the time, so a decision applied twice, or made again
// by a new leader, creates the Job once.
func (w *writer) applyCronDecision(c *api.CronDecision) error {
	cj := w.cronJob(c.GetNamespace(), c.GetCronJob())
	if cj == nil {
		return fmt.Errorf("cronjob %q: %w", c.GetCronJob(), ErrNotFound)
	}
	if c.GetJob() != nil && unnamed(c.GetJob()) {
		return fmt.Errorf("cronjob %q: job: %w", c.GetCronJob(), errNoName)
	}
	if c.GetAction() == LedgerWithdrawn {
		w.withdrawCronRun(cj, c)
		return nil
	}
	last := cj.GetStatus().GetLastScheduleTime()
	if w.ledgerEntry(c.GetNamespace(), c.GetCronJob(), c.GetScheduledTime().AsTime()) != nil {
		return nil // decided before: a replay
	}
	if c.GetAction() == "Suspended" {
		// Decided while suspended: the ledger alone holds it, and
		// lastScheduleTime stays, as in Kubernetes.
		w.recordDecision(c, false)
		w.cronDecided(c, false)
		return nil
	}
	if last != nil && !c.GetScheduledTime().AsTime().After(last.AsTime()) {
		// Already decided: a replay must not create its Job again after
		// history cleanup or a Replace removed it. (So an UpdateCronJobStatus
		// carrying this time must be applied after the decision, not before.)
		return nil
	}
	next := clone(cj)
	if next.Status == nil {
		next.Status = &api.CronJobStatus{}
	}
	if last == nil || c.GetScheduledTime().AsTime().After(last.AsTime()) {
		next.Status.LastScheduleTime = c.GetScheduledTime()
	}
	if c.GetAction() == "Created" && c.GetJob() != nil {
		if w.job(c.GetNamespace(), c.GetJob().GetMetadata().GetName()) != nil {
			w.insert(tableCronJobs, next)
			w.cronDecided(c, false)
			return nil
		}
		for _, name := range c.GetReplaceJobs() {
			if j := w.job(c.GetNamespace(), name); j != nil {
				w.deleteJob(j)
			}
		}
		job := clone(c.GetJob())
		job.Metadata.Namespace = api.NamespaceOr(c.GetNamespace())
		job.Metadata.Generation = 1
		w.insert(tableJobs, job)
		w.insert(tableCronJobs, next)
		w.recordDecision(c, true)
		w.cronDecided(c, true)
		return nil
	}
	w.insert(tableCronJobs, next)
	w.recordDecision(c, false)
	w.cronSkipNotification(cj, c)
	w.cronDecided(c, false)
	return nil
}

func (w *writer) applyUpdateCronJobStatus(c *api.UpdateCronJobStatus) error {
	cj := w.cronJob(c.GetNamespace(), c.GetName())
	if cj == nil {
		return fmt.Errorf("cronjob %q: %w", c.GetName(), ErrNotFound)
	}
	if c.GetUid() != cj.GetMetadata().GetUid() {
		return fmt.Errorf("cronjob %q: %w", c.GetName(), ErrConflict)
	}
	next := clone(cj)
	st := clone(c.GetStatus())
	if st == nil {
		st = &api.CronJobStatus{}
	}
	// lastScheduleTime never moves back, nor to a run that was withdrawn
	// (a status computed before the withdrawal still names it).
	if last := cj.GetStatus().GetLastScheduleTime(); st.LastScheduleTime == nil ||
		(last != nil && st.LastScheduleTime.AsTime().Before(last.AsTime())) ||
		w.ledgerEntry(cj.GetMetadata().GetNamespace(), c.GetName(), st.LastScheduleTime.AsTime()).GetAction() == LedgerWithdrawn {
		st.LastScheduleTime = last
	}
	next.Status = st
	w.insert(tableCronJobs, next)
	return nil
}

// withdrawCronRun records that the run the CronJob's Job for d's scheduled
// time was created for was withdrawn unrun, decided ahead of its time
// and suspended before it came (the Job itself is deleted by its own
// command). Its ledger entry says Withdrawn, and lastScheduleTime goes
// back to the time decided before it, as in Kubernetes, which sets it only
// when a Job is created for the time. Applied again, it changes nothing.
func (w *writer) withdrawCronRun(cj *api.CronJob, d *api.CronDecision) {
	ns, name := api.NamespaceOr(d.GetNamespace()), d.GetCronJob()
	at := d.GetScheduledTime().AsTime()
	e := w.ledgerEntry(ns, name, at)
	if e == nil || e.GetAction() == LedgerWithdrawn {
		return
	}
	withdrawn := clone(e)
	withdrawn.Action = LedgerWithdrawn
	if err := w.txn.Insert(tableCronLedger, withdrawn); err != nil {
		panic(err)
	}
	if last := cj.GetStatus().GetLastScheduleTime(); last != nil && last.AsTime().Equal(at) {
		next := clone(cj)
		next.Status.LastScheduleTime = w.scheduledBefore(ns, name, at)
		w.insert(tableCronJobs, next)
	}
	w.cronDecided(d, false)
}

// scheduledBefore is the newest time before at that the CronJob's ledger
// holds a decision setting lastScheduleTime for (not Suspended, not
// Withdrawn), nil if none.
func (w *writer) scheduledBefore(namespace, cron string, at time.Time) *timestamppb.Timestamp {
	prefix := api.Key(namespace, cron) + "/"
	it, err := w.txn.ReverseLowerBound(tableCronLedger, "id", ledgerKey(namespace, cron, at.UnixNano()-1))
	if err != nil {
		panic(err)
	}
	for o := it.Next(); o != nil; o = it.Next() {
		e := o.(*api.CronLedgerEntry)
		if api.Key(e.GetNamespace(), e.GetCronJob())+"/" != prefix {
			return nil
		}
		if a := e.GetAction(); a != LedgerSuspended && a != LedgerWithdrawn {
			return e.GetScheduledTime()
		}
	}
	return nil
}
