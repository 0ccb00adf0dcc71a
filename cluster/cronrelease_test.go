package cluster

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// podSets receives an agent's pod sets in the background.
func podSets(t *testing.T, s *Server, holds bool) <-chan *api.PodSet {
	t.Helper()
	return watchPods(t, s, &api.WatchPodsRequest{Node: "a1", HoldsPods: holds})
}

// watchPods receives the pod sets of a watch in the background.
func watchPods(t *testing.T, s *Server, req *api.WatchPodsRequest) <-chan *api.PodSet {
	t.Helper()
	stream, err := client(t, s).WatchPods(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	sets := make(chan *api.PodSet, 100)
	go func() {
		defer close(sets)
		for {
			set, err := stream.Recv()
			if err != nil {
				return
			}
			sets <- set
		}
	}()
	return sets
}

// podOf is the uid of the pod of job in set, "" if it holds none.
func podOf(set *api.PodSet, job string) string {
	for _, p := range set.GetPods() {
		if p.GetMetadata().GetLabels()[api.LabelJobName] == job {
			return p.GetMetadata().GetUid()
		}
	}
	return ""
}

// nextSet waits for the next pod set that satisfies ok.
func nextSet(t *testing.T, sets <-chan *api.PodSet, what string, ok func(*api.PodSet) bool) *api.PodSet {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case set, open := <-sets:
			if !open {
				t.Fatalf("watch ended waiting for %s", what)
			}
			if ok(set) {
				return set
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// cronRunComing runs, on a fake clock, a leader with agent a1 and a
// CronJob firing every 10 s, up to 400 ms before its next time (at) with
// the agent renewing its lease: the run (Job job) is decided ahead by then.
func cronRunComing(t *testing.T) (s *Server, fc *fakeClock, at time.Time, job string) {
	t.Helper()
	fc = newFakeClock(fakeStart)
	c := newTestCluster(t, harnessOptions{clock: fc})
	s = c.leader()
	c.gossip.addAgent("a1", "10.1.2.3:7500", nil)
	waitReady(t, s, "a1", "True", "posting ready status")
	submit(t, s, testCronJob("tick", "*/10 * * * * *", "Allow"))

	at = fakeStart.Truncate(10 * time.Second).Add(10 * time.Second)
	job = "tick-" + strconv.FormatInt(at.Unix(), 10)
	// Up to 400 ms before the time, the agent renewing its lease.
	for fc.Now().Before(at.Add(-400 * time.Millisecond)) {
		if _, err := client(t, s).Heartbeat(testCtx(t), &api.HeartbeatRequest{Node: "a1"}); err != nil {
			t.Fatal(err)
		}
		fc.Advance(min(time.Second, at.Add(-400*time.Millisecond).Sub(fc.Now())))
	}
	return s, fc, at, job
}

// TestACronRunDecidedAheadIsHeldUntilItsTime runs the cron controller on a
// fake clock: a run is decided and its pod bound 500 ms before its time,
// held on an agent that holds pods and kept from one that does not (an
// older agent would start it at once), and released to both at its time.
func TestACronRunDecidedAheadIsHeldUntilItsTime(t *testing.T) {
	s, fc, at, job := cronRunComing(t)
	wait.For(t, "job "+job+" decided ahead", func() (bool, string) {
		j := s.fsm.State().Job("", job)
		return j != nil, "no job"
	})
	if got := s.fsm.State().Job("", job).GetSpec().GetTemplate().GetMetadata().GetAnnotations()[api.AnnotationNotBefore]; got != api.FormatNotBefore(at) {
		t.Errorf("pod template %s = %q, want %q", api.AnnotationNotBefore, got, api.FormatNotBefore(at))
	}

	holding := podSets(t, s, true)
	set := nextSet(t, holding, "the run's pod, held", func(set *api.PodSet) bool { return podOf(set, job) != "" })
	uid := podOf(set, job)
	if !slices.Contains(set.GetHeld(), uid) {
		t.Fatalf("pod %s of %s sent before its time without being held: held %v", uid, job, set.GetHeld())
	}
	older := podSets(t, s, false)
	first := nextSet(t, older, "the first pod set", func(*api.PodSet) bool { return true })
	if podOf(first, job) != "" {
		t.Fatalf("an agent that does not hold pods was sent %s's pod before its time", job)
	}

	fc.Advance(400 * time.Millisecond)
	nextSet(t, holding, "the run's pod released", func(set *api.PodSet) bool {
		return podOf(set, job) == uid && !slices.Contains(set.GetHeld(), uid)
	})
	nextSet(t, older, "the run's pod, at its time", func(set *api.PodSet) bool { return podOf(set, job) == uid && len(set.GetHeld()) == 0 })
	if got := fc.Now(); got.Before(at) {
		t.Fatalf("released at %v, before %v", got, at)
	}
}

// TestACronRunIsReleasedAheadToAgentsThatStartItOnTime: 10 ms before its
// time, the leader releases a run decided ahead to an agent that starts
// pods at their time itself (PodSet.timed), and keeps holding it for one
// that does not until the time; then releases it to that one, and tells
// the first nothing more.
func TestACronRunIsReleasedAheadToAgentsThatStartItOnTime(t *testing.T) {
	s, fc, at, job := cronRunComing(t)
	timing := watchPods(t, s, &api.WatchPodsRequest{Node: "a1", HoldsPods: true, BeginsAtNotBefore: true})
	set := nextSet(t, timing, "the run's pod, held", func(set *api.PodSet) bool { return podOf(set, job) != "" })
	uid := podOf(set, job)
	if !slices.Contains(set.GetHeld(), uid) || len(set.GetTimed()) > 0 {
		t.Fatalf("400 ms before its time, pod %s: held %v, timed %v; want held only", uid, set.GetHeld(), set.GetTimed())
	}

	fc.Advance(400*time.Millisecond - cronReleaseLead)
	set = nextSet(t, timing, "the run's pod released ahead", func(set *api.PodSet) bool { return slices.Contains(set.GetTimed(), uid) })
	if slices.Contains(set.GetHeld(), uid) {
		t.Fatalf("pod %s both held and timed", uid)
	}
	if got, want := fc.Now(), at.Add(-cronReleaseLead); got.Before(want) {
		t.Fatalf("released ahead at %v, before %v", got, want)
	}
	// An agent that cannot start it at its time still has it held.
	holdingSets := podSets(t, s, true)
	holding := nextSet(t, holdingSets, "a holding agent's first pod set", func(*api.PodSet) bool { return true })
	if !slices.Contains(holding.GetHeld(), uid) || len(holding.GetTimed()) > 0 {
		t.Fatalf("%v before its time, an agent that holds pods but does not start them on time got pod %s with held %v, timed %v; want held",
			at.Sub(fc.Now()), uid, holding.GetHeld(), holding.GetTimed())
	}

	fc.Advance(at.Sub(fc.Now()))
	nextSet(t, holdingSets, "the run's pod released at its time to an agent that holds pods", func(set *api.PodSet) bool {
		return podOf(set, job) == uid && len(set.GetHeld()) == 0
	})
	// An agent that starts it on time itself is told nothing more: a
	// watch that begins now has it timed still, which starts it at once.
	set = nextSet(t, watchPods(t, s, &api.WatchPodsRequest{Node: "a1", HoldsPods: true, BeginsAtNotBefore: true}), "a timing agent's pod set at the time", func(*api.PodSet) bool { return true })
	if podOf(set, job) != uid || len(set.GetHeld()) > 0 || !slices.Contains(set.GetTimed(), uid) {
		t.Fatalf("at its time, an agent that starts pods on time got %s's pod %q with held %v, timed %v; want it timed", job, podOf(set, job), set.GetHeld(), set.GetTimed())
	}
}
