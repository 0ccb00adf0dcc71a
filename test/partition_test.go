package test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestPartitionedAgentStopsBeforeReplacement cuts the network link of an
// agent in its own network namespace while its pod runs. The agent fences
// itself when its lease runs out, before the servers start a replacement
// on another agent, so the two never run at once; after the link heals the
// agent is Ready again, takes new work, and never restarts the replaced
// pod.
func TestPartitionedAgentStopsBeforeReplacement(t *testing.T) {
	ns := testcluster.NewNetns(t)
	c := testcluster.New(t, testcluster.Options{Servers: 1, HostIP: ns.HostIP})
	c.AddAgentIn(ns, "p1")
	c.WaitNodeReady("p1")
	runs := testcluster.NewRunLog(t)
	c.Submit(jobDoc("cut-off", "backoffLimit: 0", "Never", runs.Script(runs.Ticking(6*time.Second))))
	original := waitRuns(t, runs, "the pod to start", func(rs []testcluster.Run) bool { return len(rs) == 1 })[0]
	// The agent that takes the replacement joins only now, so the pod
	// could only go to p1.
	c.AddAgent("a1")
	c.WaitNodeReady("a1")

	cutAt := time.Now()
	ns.Cut()
	job := c.WaitJob("cut-off", 30*time.Second)
	if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != 1 || job.Status.Failed != 0 {
		t.Errorf("job ended %s with succeeded=%d failed=%d, want Complete with 1 and 0", got, job.Status.Succeeded, job.Status.Failed)
	}
	pods, err := c.Pods("cut-off")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Failed NodeLost", "Succeeded "}, podStates(pods)); diff != "" {
		t.Errorf("pod phases and reasons (-want +got):\n%s", diff)
	}
	all := readRuns(t, runs)
	if len(all) != 2 || all[0].Pod != original.Pod || all[0].Node != "p1" || all[1].Node != "a1" {
		t.Fatalf("runs %+v: want %s on p1, then its replacement on a1", all, original.Pod)
	}
	cut, replacement := all[0], all[1]
	if cut.Ended {
		t.Errorf("%s ran to its end on p1: the link was cut too late to test anything", cut.Pod)
	}
	if !cut.LastSeen.Before(replacement.Start) {
		t.Errorf("%s still ran on the cut-off agent at %s, after its replacement started at %s",
			cut.Pod, cut.LastSeen.Format(time.StampMilli), replacement.Start.Format(time.StampMilli))
	}
	t.Logf("cut-off pod last seen %.2fs after the cut; replacement started %.2fs after that",
		cut.LastSeen.Sub(cutAt).Seconds(), replacement.Start.Sub(cut.LastSeen).Seconds())

	ns.Heal()
	c.WaitNodeReady("p1")
	c.Submit(pinned(jobDoc("after-heal", "", "Never", runs.Script("true")), "p1"))
	if job := c.WaitJob("after-heal", 20*time.Second); job.Status.Succeeded != 1 {
		t.Errorf("job after-heal pinned to p1: succeeded=%d, want 1", job.Status.Succeeded)
	}
	after := readRuns(t, runs)
	assertEachPodStartedOnce(t, after)
	if len(after) != 3 || after[2].Node != "p1" {
		t.Errorf("runs after healing %+v: want one more, on p1", after)
	}
}
