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
// Created, then Skipped for each blocked second, with the Job's outcome;
// across a leader kill every server holds exactly one decision per
// scheduled second, the same on each.
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

	var first []ledgerEntry
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
			return first == nil || fmt.Sprint(l) == fmt.Sprint(first), fmt.Sprintf("%v\nvs %v", l, first)
		})
		if first == nil {
			first = l
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
		case "Created":
			if !strings.HasPrefix(e.Job, "slow-") || e.JobOutcome == "" {
				t.Errorf("Created entry %+v lacks its Job or outcome", e)
			}
		case "Skipped":
			if e.Job != "" {
				t.Errorf("Skipped entry %+v names a Job", e)
			}
		default:
			t.Errorf("unexpected decision %+v", e)
		}
	}
	if out := c.MustCLI("describe", "cronjob", "slow"); !strings.Contains(out, "Last Decisions:") || !strings.Contains(out, "Skipped") {
		t.Errorf("describe cronjob lacks the last decisions:\n%s", out)
	}
}
