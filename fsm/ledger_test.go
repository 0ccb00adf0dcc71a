package fsm

import (
	"strings"
	"testing"
	"time"
)

func TestCronLedgerKeepsEveryDecisionNewestFirst(t *testing.T) {
	h := newHarness(t)
	h.must(upsertCronJob(newCronJob("tick"), true))
	h.must(cronDecision("tick", 1, "Created", cronJobAt("tick", 1)))
	h.must(cronDecision("tick", 1, "Created", cronJobAt("tick", 1))) // applied twice: one entry
	h.must(cronDecision("tick", 2, "JobAlreadyActive", nil))
	h.must(cronDecision("tick", 3, "MissSchedule", nil))
	h.must(cronDecision("tick", 4, "Created", cronJobAt("tick", 4), cronJobAt("tick", 1).GetMetadata().GetName()))
	var got []string
	for _, e := range h.state().CronLedger("", "tick") {
		got = append(got, e.GetAction()+" "+e.GetJob())
	}
	want := []string{"Replaced " + cronJobAt("tick", 4).GetMetadata().GetName(), "Missed ", "Skipped ", "Created " + cronJobAt("tick", 1).GetMetadata().GetName()}
	if len(got) != len(want) {
		t.Fatalf("ledger = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ledger[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	if n := len(restored(t, h.f).State().CronLedger("", "tick")); n != 4 {
		t.Errorf("%d entries after a snapshot restore, want 4", n)
	}
	h.must(deleteCronJob("tick"))
	if n := len(h.state().CronLedger("", "tick")); n != 0 {
		t.Errorf("%d entries of a deleted CronJob, want none", n)
	}
}

func TestCronLedgerKeepsTheNewestThousand(t *testing.T) {
	h := newHarness(t)
	h.must(upsertCronJob(newCronJob("tick"), true))
	for m := 1; m <= MaxLedgerEntries+5; m++ {
		h.must(cronDecision("tick", m, "JobAlreadyActive", nil))
	}
	l := h.state().CronLedger("", "tick")
	if len(l) != MaxLedgerEntries {
		t.Fatalf("%d entries, want %d", len(l), MaxLedgerEntries)
	}
	if first, last := l[len(l)-1].GetScheduledTime().AsTime(), l[0].GetScheduledTime().AsTime(); last.Sub(first).Minutes() != MaxLedgerEntries-1 {
		t.Errorf("entries span %v to %v, want the newest %d minutes", first, last, MaxLedgerEntries)
	}
}

// A time decided while suspended is in the ledger alone (lastScheduleTime
// stays, as in Kubernetes) and is decided once; a Forbid skip names the
// Jobs that blocked it, and a time caught up after a leader change says so.
func TestCronLedgerRecordsSuspendedSkippedAndCaughtUpTimes(t *testing.T) {
	h := newHarness(t)
	h.must(upsertCronJob(newCronJob("tick"), true))
	h.must(cronDecision("tick", 1, "Created", cronJobAt("tick", 1)))
	suspended := cronDecision("tick", 2, "Suspended", nil)
	h.must(suspended)
	h.must(cronDecision("tick", 2, "Created", cronJobAt("tick", 2))) // a second decision of the same time
	if h.state().Job("", cronJobAt("tick", 2).GetMetadata().GetName()) != nil {
		t.Errorf("a time decided Suspended created a Job when decided again")
	}
	if last := h.state().CronJob("", "tick").GetStatus().GetLastScheduleTime().AsTime(); !last.Equal(t0.Add(time.Minute)) {
		t.Errorf("lastScheduleTime %v after a Suspended decision, want the last created time %v", last, t0.Add(time.Minute))
	}
	if last := h.state().LastCronDecision("", "tick"); !last.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("LastCronDecision = %v, want the suspended time", last)
	}
	skip := cronDecision("tick", 3, "JobAlreadyActive", nil)
	skip.GetCronDecision().ActiveJobs = []string{"tick-1"}
	h.must(skip)
	late := cronDecision("tick", 4, "Created", cronJobAt("tick", 4))
	late.GetCronDecision().CaughtUp = true
	h.must(late)
	var got []string
	for _, e := range h.state().CronLedger("", "tick") {
		got = append(got, strings.TrimSpace(e.GetAction()+" "+e.GetJob()+" "+strings.Join(e.GetActiveJobs(), ",")))
	}
	want := []string{"CaughtUp " + cronJobAt("tick", 4).GetMetadata().GetName(), "Skipped  tick-1", "Suspended", "Created " + cronJobAt("tick", 1).GetMetadata().GetName()}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ledger = %q, want %q", got, want)
	}
}
