package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// aheadRun waits for a run of the CronJob decided at least margin ahead of
// its scheduled time, by the servers' own creationTimestamp, and returns it
// while that time is still to come.
func aheadRun(t *testing.T, c *testcluster.Cluster, cron string, after time.Time, margin time.Duration) testcluster.CronRun {
	t.Helper()
	var run testcluster.CronRun
	wait.Within(t, 20*time.Second, "a run of "+cron+" decided ahead of its time", func() (bool, string) {
		runs, err := c.CronRuns(cron)
		if err != nil {
			return false, err.Error()
		}
		for _, r := range runs {
			if r.Scheduled.After(after) && r.Scheduled.Sub(r.Created) >= margin && time.Until(r.Scheduled) > margin/2 {
				run = r
				return true, ""
			}
		}
		return false, fmt.Sprintf("runs %v", runNames(runs))
	})
	return run
}

// TestCronRunsDecidedAheadStartOnTheirSecondAndASuspendWithdrawsThem runs a
// CronJob on servers that decide each run 3 s ahead. A run's Job and pod
// exist, bound to an agent, before its time, yet the pod's process starts
// only at the scheduled second. Suspending the CronJob before a run's time
// withdraws the run: its Job is deleted and its pod never runs, as a run
// decided at its time would not have been created.
func TestCronRunsDecidedAheadStartOnTheirSecondAndASuspendWithdrawsThem(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1, ServerArgs: []string{"--cron-lead", "3s"}})
	rec := testcluster.NewRecorder(t)
	c.Submit(cronJob{name: "ahead", schedule: "*/5 * * * * *", successful: 10, failed: 10, script: rec.Wrap("true")}.yaml())

	run := aheadRun(t, c, "ahead", time.Time{}, 2*time.Second)
	pods, err := c.Pods(run.Name)
	if err != nil {
		t.Fatal(err)
	}
	early := time.Now()
	if len(pods) != 1 || pods[0].Spec.NodeName == "" || pods[0].Status.Phase != "Pending" || !early.Before(run.Scheduled) {
		t.Fatalf("at %v, before its time %v: pods of %s %+v, want one pod bound and Pending", early.Format(time.StampMilli), run.Scheduled.Format(time.StampMilli), run.Name, pods)
	}
	var started time.Time
	wait.Within(t, 15*time.Second, "the pod of "+run.Name+" to run", func() (bool, string) {
		ivs, err := rec.Intervals()
		if err != nil {
			return false, err.Error()
		}
		for _, iv := range ivs {
			if jobOfPod(iv.Pod) == run.Name {
				started = time.Unix(0, iv.Start)
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d intervals", len(ivs))
	})
	if started.Before(run.Scheduled) {
		t.Fatalf("the pod of %s started at %v, before its scheduled time %v", run.Name, started.Format(time.StampMicro), run.Scheduled.Format(time.StampMicro))
	}
	t.Logf("%s: decided %v ahead, its pod started %v after its time", run.Name, run.Scheduled.Sub(run.Created), started.Sub(run.Scheduled))

	// Suspend between a run's decision and its time.
	next := aheadRun(t, c, "ahead", run.Scheduled, 2*time.Second)
	c.MustCLI("suspend", "cronjob", "ahead")
	if suspended := time.Now(); !suspended.Before(next.Scheduled) {
		t.Fatalf("the suspend returned at %v, not before the run's time %v: the machine is too slow for this test", suspended.Format(time.StampMilli), next.Scheduled.Format(time.StampMilli))
	}
	wait.Within(t, 15*time.Second, "run "+next.Name+" withdrawn", func() (bool, string) {
		runs, err := c.CronRuns("ahead")
		if err != nil {
			return false, err.Error()
		}
		for _, r := range runs {
			if r.Name == next.Name {
				return false, "job still there"
			}
		}
		return time.Now().After(next.Scheduled), "its time has not come"
	})
	ivs, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	for _, iv := range ivs {
		if jobOfPod(iv.Pod) == next.Name {
			t.Errorf("the withdrawn run's pod %s ran at %v", iv.Pod, time.Unix(0, iv.Start).Format(time.StampMicro))
		}
	}
	if out := c.MustCLI("describe", "cronjob", "ahead"); !strings.Contains(out, "Withdrawn") || !strings.Contains(out, next.Name) {
		t.Errorf("describe cronjob ahead: want a Withdrawn event naming %s:\n%s", next.Name, out)
	}
	// Kubernetes sets lastScheduleTime only when it creates a Job: the
	// withdrawn run gives it back to the newest run left.
	cj, err := c.GetCronJob("ahead")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := c.CronRuns("ahead")
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs of ahead: %v %v", runs, err)
	}
	newest := runs[len(runs)-1]
	if last, err := time.Parse(time.RFC3339, cj.Status.LastScheduleTime); err != nil || !last.Equal(newest.Scheduled) || !newest.Scheduled.Before(next.Scheduled) {
		t.Errorf("lastScheduleTime %q after the withdrawal of %s, want the newest run left, %s at %v", cj.Status.LastScheduleTime, next.Name, newest.Name, newest.Scheduled)
	}
	if out := c.MustCLI("cronjob", "history", "ahead"); !strings.Contains(out, "Withdrawn: suspended before its time") {
		t.Errorf("cronjob history ahead: want %s's time decided Withdrawn:\n%s", next.Name, out)
	}
}
