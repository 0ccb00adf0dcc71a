package test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestFrozenAgentIsFencedByItsGuard freezes (SIGSTOP) an agent running a
// pod that writes the time every 100 ms. The frozen agent renews nothing
// and can fence nothing, so its guard process stops the pod when the
// lease it last heard of runs out: the pod's last line comes before its
// replacement's first. Thawed (SIGCONT), the same agent process renews its
// lease and runs pods again.
func TestFrozenAgentIsFencedByItsGuard(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1})
	frozen := c.AddAgent("f1")
	c.WaitNodeReady("f1")
	runs := testcluster.NewRunLog(t)
	c.Submit(jobDoc("frozen", "backoffLimit: 0", "Never", runs.Script(runs.Ticking(6*time.Second))))
	original := waitRuns(t, runs, "the pod to start", func(rs []testcluster.Run) bool { return len(rs) == 1 })[0]
	// The agent that takes the replacement joins only now, so the pod
	// could only go to f1.
	c.AddAgent("a1")
	c.WaitNodeReady("a1")

	pid := frozen.PID()
	frozeAt := time.Now()
	c.Freeze(frozen)
	job := c.WaitJob("frozen", 30*time.Second)
	if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != 1 {
		t.Errorf("job ended %s with succeeded=%d, want Complete with 1", got, job.Status.Succeeded)
	}
	pods, err := c.Pods("frozen")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Failed NodeLost", "Succeeded "}, podStates(pods)); diff != "" {
		t.Errorf("pod phases and reasons (-want +got):\n%s", diff)
	}
	all := readRuns(t, runs)
	if len(all) != 2 || all[0].Pod != original.Pod || all[0].Node != "f1" || all[1].Node != "a1" {
		t.Fatalf("runs %+v: want %s on f1, then its replacement on a1", all, original.Pod)
	}
	stopped, replacement := all[0], all[1]
	if stopped.Ended {
		t.Fatalf("%s ran to its end on the frozen agent: nothing was fenced", stopped.Pod)
	}
	if !stopped.LastSeen.Before(replacement.Start) {
		t.Errorf("%s still ran on the frozen agent at %s, after its replacement started at %s",
			stopped.Pod, stopped.LastSeen.Format(time.StampMilli), replacement.Start.Format(time.StampMilli))
	}
	// The default lease is 3 s: the guard stopped the pod then, not when
	// the pod would have ended on its own.
	if after := stopped.LastSeen.Sub(frozeAt); after > 4*time.Second {
		t.Errorf("the frozen agent's pod ran %v after the freeze, longer than a lease", after)
	}
	t.Logf("frozen agent's pod last seen %.2fs after the freeze; replacement started %.2fs after that",
		stopped.LastSeen.Sub(frozeAt).Seconds(), replacement.Start.Sub(stopped.LastSeen).Seconds())

	c.Thaw(frozen)
	c.WaitNodeReady("f1")
	if got := frozen.PID(); got != pid {
		t.Errorf("the agent's process is %d after the thaw, was %d: it should go on, not restart", got, pid)
	}
	c.Submit(pinned(jobDoc("after-thaw", "", "Never", runs.Script("true")), "f1"))
	if job := c.WaitJob("after-thaw", 20*time.Second); job.Status.Succeeded != 1 {
		t.Errorf("job after-thaw pinned to f1: succeeded=%d, want 1", job.Status.Succeeded)
	}
	assertEachPodStartedOnce(t, readRuns(t, runs))
}
