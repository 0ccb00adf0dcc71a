package test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

type ledgerEntry struct {
	ScheduledTime time.Time `json:"scheduledTime"`
	Action        string    `json:"action"`
	Job           string    `json:"job"`
	JobOutcome    string    `json:"jobOutcome"`
	ActiveJobs    []string  `json:"activeJobs"`
}

func ledgerAt(c *testcluster.Cluster, addr, cron string) ([]ledgerEntry, error) {
	r := c.CLIAt(addr, "", "cronjob", "history", cron, "-o", "json")
	if r.Err != nil {
		return nil, fmt.Errorf("%v: %s", r.Err, r.Stderr)
	}
	var list struct {
		Items []ledgerEntry `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// A Forbid CronJob whose Job outlasts the schedule: the ledger records
// Created, then Skipped for each blocked second, naming the Job that
// blocked it, with the Job's outcome; across a leader kill every server
// holds exactly one decision per scheduled second, the same on each; once
// suspended, each second is decided Suspended.
func TestCronLedgerRecordsEveryScheduledTimeOnce(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1})
	manifest := strings.Replace(cronJob{name: "slow", schedule: "* * * * * *", policy: "Forbid", successful: 3, failed: 3, script: "sleep 2"}.yaml(),
		"  concurrencyPolicy: Forbid\n", "  concurrencyPolicy: Forbid\n  startingDeadlineSeconds: 60\n", 1)
	c.Submit(manifest)

	count := func(entries []ledgerEntry, action string) int {
		n := 0
		for _, e := range entries {
			if e.Action == action {
				n++
			}
		}
		return n
	}
	wait.Within(t, 30*time.Second, "Created and Skipped decisions", func() (bool, string) {
		l, err := ledgerAt(c, c.Addrs(), "slow")
		if err != nil {
			return false, err.Error()
		}
		return count(l, "Created") >= 1 && count(l, "Skipped") >= 2, fmt.Sprint(l)
	})
	before, _ := ledgerAt(c, c.Addrs(), "slow")
	c.Kill(c.Leader())
	c.WaitForLeader()
	wait.Within(t, 30*time.Second, "decisions after the leader kill", func() (bool, string) {
		l, err := ledgerAt(c, c.Addrs(), "slow")
		if err != nil {
			return false, err.Error()
		}
		return len(l) >= len(before)+4, fmt.Sprintf("%d decisions, %d before the kill", len(l), len(before))
	})
	c.MustCLI("suspend", "cronjob", "slow")
	wait.Within(t, 30*time.Second, "times passed while suspended to be decided Suspended", func() (bool, string) {
		l, err := ledgerAt(c, c.Addrs(), "slow")
		if err != nil {
			return false, err.Error()
		}
		return count(l, "Suspended") >= 2, fmt.Sprint(l)
	})

	// Decisions go on (Suspended, each second): compare what every server
	// holds up to a time all of them have applied.
	var first []ledgerEntry
	var cutoff time.Time
	upTo := func(l []ledgerEntry) []ledgerEntry {
		var out []ledgerEntry
		for _, e := range l {
			if !e.ScheduledTime.After(cutoff) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, s := range c.Servers {
		if !s.Running() {
			continue
		}
		var l []ledgerEntry
		wait.For(t, s.Name+"'s ledger to match the others", func() (bool, string) {
			var err error
			if l, err = ledgerAt(c, s.RPCAddr, "slow"); err != nil {
				return false, err.Error()
			}
			if first == nil && len(l) > 3 {
				cutoff = l[3].ScheduledTime
			}
			return first == nil || fmt.Sprint(upTo(l)) == fmt.Sprint(first), fmt.Sprintf("%v\nvs %v", upTo(l), first)
		})
		if first == nil {
			first = upTo(l)
		}
	}
	seen := map[time.Time]bool{}
	for i, e := range first {
		if seen[e.ScheduledTime] {
			t.Errorf("scheduled time %v decided twice", e.ScheduledTime)
		}
		seen[e.ScheduledTime] = true
		if i > 0 && first[i-1].ScheduledTime.Sub(e.ScheduledTime) != time.Second {
			t.Errorf("no decision between %v and %v", e.ScheduledTime, first[i-1].ScheduledTime)
		}
		switch e.Action {
		case "Created", "CaughtUp":
			if !strings.HasPrefix(e.Job, "slow-") || e.JobOutcome == "" {
				t.Errorf("%s entry %+v lacks its Job or outcome", e.Action, e)
			}
		case "Skipped":
			if e.Job != "" || len(e.ActiveJobs) != 1 || !strings.HasPrefix(e.ActiveJobs[0], "slow-") {
				t.Errorf("Skipped entry %+v names a Job of its own, or not the one that blocked it", e)
			}
		case "Suspended":
			if e.Job != "" {
				t.Errorf("Suspended entry %+v names a Job", e)
			}
		default:
			t.Errorf("unexpected decision %+v", e)
		}
	}
	if out := c.MustCLI("cronjob", "history", "slow"); !strings.Contains(out, "Skipped: Forbid, slow-") || !strings.Contains(out, " still active") || !strings.Contains(out, "Suspended") {
		t.Errorf("cronjob history lacks the reasons:\n%s", out)
	}
	if out := c.MustCLI("describe", "cronjob", "slow"); !strings.Contains(out, "Last Decisions:") || !strings.Contains(out, "Skipped") {
		t.Errorf("describe cronjob lacks the last decisions:\n%s", out)
	}
}
