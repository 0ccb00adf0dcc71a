package fsm

import (
	"fmt"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// MaxLedgerEntries is how many decisions the cron ledger keeps per
// CronJob, the newest.
const MaxLedgerEntries = 1000

// Ledger actions, in the words `cronjob history` shows.
const (
	LedgerCreated   = "Created"
	LedgerSkipped   = "Skipped"
	LedgerReplaced  = "Replaced"
	LedgerMissed    = "Missed"
	LedgerSuspended = "Suspended"
	LedgerCaughtUp  = "CaughtUp"
	LedgerWithdrawn = "Withdrawn"
)

// ledgerKey orders a CronJob's entries by scheduled time: the CronJob's
// key, then the time in zero-padded nanoseconds.
func ledgerKey(namespace, cron string, unixNanos int64) string {
	return fmt.Sprintf("%s/%020d", api.Key(namespace, cron), unixNanos)
}

func ledgerEntryKey(obj any) string {
	e := obj.(*api.CronLedgerEntry)
	return ledgerKey(e.GetNamespace(), e.GetCronJob(), e.GetScheduledTime().AsTime().UnixNano())
}

// recordDecision adds one decision to the ledger and drops the oldest
// entries of the CronJob beyond MaxLedgerEntries.
func (w *writer) recordDecision(d *api.CronDecision, created bool) {
	action := LedgerCreated
	switch d.GetAction() {
	case "JobAlreadyActive":
		action = LedgerSkipped
	case "MissSchedule":
		action = LedgerMissed
	case "Suspended":
		action = LedgerSuspended
	default:
		switch {
		case created && len(d.GetReplaceJobs()) > 0:
			action = LedgerReplaced
		case created && d.GetCaughtUp():
			action = LedgerCaughtUp
		}
	}
	e := &api.CronLedgerEntry{
		Namespace:     api.NamespaceOr(d.GetNamespace()),
		CronJob:       d.GetCronJob(),
		ScheduledTime: d.GetScheduledTime(),
		Action:        action,
		ReplacedJobs:  d.GetReplaceJobs(),
		DecidedAt:     d.GetDecidedAt(),
		JitterMillis:  d.GetJitterMillis(),
		ActiveJobs:    d.GetActiveJobs(),
	}
	if created {
		e.Job = d.GetJob().GetMetadata().GetName()
	}
	if err := w.txn.Insert(tableCronLedger, e); err != nil {
		panic(err)
	}
	prefix := api.Key(e.GetNamespace(), e.GetCronJob()) + "/"
	it, err := w.txn.Get(tableCronLedger, "id_prefix", prefix)
	if err != nil {
		panic(err)
	}
	var all []any
	for o := it.Next(); o != nil; o = it.Next() {
		all = append(all, o)
	}
	for _, old := range all[:max(len(all)-MaxLedgerEntries, 0)] {
		w.remove(tableCronLedger, old)
	}
}

// removeLedger forgets a deleted CronJob's decisions.
func (w *writer) removeLedger(namespace, cron string) {
	if _, err := w.txn.DeleteAll(tableCronLedger, "id_prefix", api.Key(namespace, cron)+"/"); err != nil {
		panic(err)
	}
}

// CronLedger lists a CronJob's decisions, newest first.
func (s *State) CronLedger(namespace, cron string) []*api.CronLedgerEntry {
	out := all[*api.CronLedgerEntry](s.txn, tableCronLedger, "id_prefix", api.Key(namespace, cron)+"/")
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// LastCronDecision is the newest scheduled time a CronJob's ledger holds
// a decision for, zero if none.
func (s *State) LastCronDecision(namespace, cron string) time.Time {
	prefix := api.Key(namespace, cron) + "/"
	it, err := s.txn.ReverseLowerBound(tableCronLedger, "id", prefix+"~")
	if err != nil {
		panic(err)
	}
	o := it.Next()
	if o == nil {
		return time.Time{}
	}
	e := o.(*api.CronLedgerEntry)
	if api.Key(e.GetNamespace(), e.GetCronJob())+"/" != prefix {
		return time.Time{}
	}
	return e.GetScheduledTime().AsTime()
}

// ledgerEntry is the ledger's decision for the CronJob at the scheduled
// time, nil if it holds none.
func (w *writer) ledgerEntry(namespace, cron string, scheduled time.Time) *api.CronLedgerEntry {
	return first[*api.CronLedgerEntry](w.txn, tableCronLedger, "id", ledgerKey(api.NamespaceOr(namespace), cron, scheduled.UnixNano()))
}
