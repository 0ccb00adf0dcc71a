package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// fakeStart is where fake clocks start: any fixed time will do.
var fakeStart = time.Date(2025, 3, 1, 2, 59, 30, 0, time.UTC)

// readyOf is the status and message of a node's Ready condition.
func readyOf(s *Server, node string) (string, string) {
	for _, c := range s.fsm.State().Node(node).GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus(), c.GetMessage()
		}
	}
	return "", "no Ready condition"
}

func waitReady(t *testing.T, s *Server, node, want, message string) {
	t.Helper()
	wait.For(t, fmt.Sprintf("node %s Ready=%s (%s)", node, want, message), func() (bool, string) {
		got, msg := readyOf(s, node)
		return got == want && strings.Contains(msg, message), got + ": " + msg
	})
}

// hasEvent reports whether an object has an event with reason.
func hasEvent(s *Server, kind, name, reason string) bool {
	for _, e := range s.fsm.State().Events(kind, "", name) {
		if e.GetReason() == reason {
			return true
		}
	}
	return false
}

func heartbeat(t *testing.T, s *Server, node string) {
	t.Helper()
	resp, err := client(t, s).Heartbeat(testCtx(t), &api.HeartbeatRequest{Node: node})
	if err != nil {
		t.Fatalf("heartbeat of %s: %v", node, err)
	}
	if resp.GetLeaseMillis() != DefaultTiming.LeaseTTL.Milliseconds() {
		t.Errorf("lease = %dms, want %dms", resp.GetLeaseMillis(), DefaultTiming.LeaseTTL.Milliseconds())
	}
}

func TestNodeControllerFollowsGossipAndLeases(t *testing.T) {
	fc := newFakeClock(fakeStart)
	c := newTestCluster(t, harnessOptions{clock: fc})
	s := c.leader()

	// A new agent becomes a Ready node with what it advertises.
	c.gossip.addAgent("a1", "10.1.2.3:7500", map[string]string{"zone": "a"})
	waitReady(t, s, "a1", "True", "agent is posting ready status")
	node := s.fsm.State().Node("a1")
	if node.GetMetadata().GetUid() == "" || node.GetMetadata().GetLabels()["kubernetes.io/hostname"] != "a1" ||
		node.GetMetadata().GetLabels()["zone"] != "a" || node.GetStatus().GetCapacity()["cpu"] != "4" ||
		node.GetStatus().GetAddresses()[0].GetAddress() != "10.1.2.3" {
		t.Errorf("node a1 = %v", node)
	}
	submit(t, s, testJob("work"))
	var pod string
	wait.For(t, "the job's pod bound to a1", func() (bool, string) {
		pods := s.fsm.State().PodsOfJob("", "work")
		if len(pods) != 1 {
			return false, fmt.Sprintf("%d pods", len(pods))
		}
		pod = pods[0].GetMetadata().GetName()
		return pods[0].GetSpec().GetNodeName() == "a1", "node " + pods[0].GetSpec().GetNodeName()
	})

	// Heartbeats keep the lease: 4s after the leader started counting,
	// but 2s after the last renewal, the node is still Ready.
	fc.Advance(2 * time.Second)
	heartbeat(t, s, "a1")
	fc.Advance(2 * time.Second)
	if got, msg := readyOf(s, "a1"); got != "True" {
		t.Fatalf("node a1 with a held lease is %s: %s", got, msg)
	}

	// The lease lapses: not Ready at once, its pod kept within the margin.
	fc.Advance(1001 * time.Millisecond)
	waitReady(t, s, "a1", "False", "agent stopped renewing its lease 3.001s ago")
	wait.For(t, "a NodeNotReady event", func() (bool, string) {
		return hasEvent(s, "Node", "a1", "NodeNotReady"), "no event"
	})
	if p := s.fsm.State().Pod(pod); api.IsPodTerminal(p) {
		t.Fatalf("pod %s ended within the lease margin: %v", pod, p.GetStatus())
	}

	// Past the margin the pod is lost, not counted as a failure, and the
	// job controller replaces it.
	fc.Advance(250 * time.Millisecond)
	wait.For(t, "the pod failed with NodeLost", func() (bool, string) {
		st := s.fsm.State().Pod(pod).GetStatus()
		return st.GetPhase() == api.PodFailed && st.GetReason() == api.ReasonNodeLost, st.GetPhase() + " " + st.GetReason()
	})
	if msg := s.fsm.State().Pod(pod).GetStatus().GetMessage(); msg != "node a1 was lost: no lease renewal for 3.251s" {
		t.Errorf("lost pod message = %q", msg)
	}
	var replacement string
	wait.For(t, "a replacement pod", func() (bool, string) {
		for _, p := range s.fsm.State().PodsOfJob("", "work") {
			if !api.IsPodTerminal(p) {
				replacement = p.GetMetadata().GetName()
				return true, ""
			}
		}
		return false, "no live pod"
	})
	if !hasEvent(s, "Pod", pod, api.ReasonNodeLost) || !hasEvent(s, "Job", "work", api.ReasonNodeLost) {
		t.Error("no NodeLost events for the pod and its job")
	}
	if f := s.fsm.State().Job("", "work").GetStatus().GetFailed(); f != 0 {
		t.Errorf("job failed count = %d after a lost pod, want 0", f)
	}

	// The agent renews again: Ready at once (the renewal after a gap wakes
	// the node controller, no clock passes), and the replacement goes to
	// it.
	heartbeat(t, s, "a1")
	waitReady(t, s, "a1", "True", "agent is posting ready status")
	wait.For(t, "a NodeReady event", func() (bool, string) {
		return hasEvent(s, "Node", "a1", "NodeReady"), "no event"
	})
	wait.For(t, "the replacement bound to a1", func() (bool, string) {
		n := s.fsm.State().Pod(replacement).GetSpec().GetNodeName()
		return n == "a1", "node " + n
	})

	// Gossip declares the agent failed; later it leaves for good.
	c.gossip.setStatus("a1", gossip.StatusFailed)
	waitReady(t, s, "a1", "False", "agent stopped answering gossip probes")
	c.gossip.setStatus("a1", gossip.StatusAlive)
	waitReady(t, s, "a1", "True", "agent is posting ready status")
	c.gossip.setStatus("a1", gossip.StatusLeft)
	waitReady(t, s, "a1", "False", "agent left the cluster")
}

func TestNewLeaderStartsEveryLeaseAfresh(t *testing.T) {
	fc := newFakeClock(fakeStart)
	c := newTestCluster(t, harnessOptions{servers: 3, clock: fc})
	first := c.leader()
	c.gossip.addAgent("a1", "10.1.2.3:7500", nil)
	waitReady(t, first, "a1", "True", "posting ready status")

	// Two seconds into the lease the first leader goes; its successor
	// counts the lease from when it took over, so two seconds later,
	// beyond the lease the old leader counted, a1 is still Ready.
	fc.Advance(2 * time.Second)
	for i, n := range c.nodes {
		if n.server == first {
			c.stop(i)
		}
	}
	next := c.leader()
	fc.Advance(2 * time.Second)
	if got, msg := readyOf(next, "a1"); got != "True" {
		t.Errorf("node a1 after the leader change is %s: %s", got, msg)
	}
	// The lease it counts lapses 3.5s after it took over: had it kept the
	// old leader's count, a1 would have lapsed 2s earlier.
	fc.Advance(1500 * time.Millisecond)
	waitReady(t, next, "a1", "False", "agent stopped renewing its lease 3.5s ago")
}

func TestJobRunsToCompletionOnReportsFromItsAgent(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	leader := c.leader()
	follower := c.follower()
	c.gossip.addAgent("a1", "10.1.2.3:7500", nil)
	waitReady(t, leader, "a1", "True", "posting ready status")
	job := testJob("two")
	job.GetJob().Spec.Completions = proto.Int32(2)
	job.GetJob().Spec.Parallelism = proto.Int32(2)
	submit(t, follower, job)

	// The agent learns its pods from any server.
	watch, err := client(t, follower).WatchPods(testCtx(t), &api.WatchPodsRequest{Node: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	var pods []*api.Pod
	for len(pods) < 2 {
		set, err := watch.Recv()
		if err != nil {
			t.Fatalf("watch pods: %v", err)
		}
		pods = set.GetPods()
	}
	// It reports them done through a follower, which forwards to the
	// leader; the reports also renew its lease.
	now := timestamppb.Now()
	var updates []*api.PodStatusUpdate
	for _, p := range pods {
		updates = append(updates, &api.PodStatusUpdate{Name: p.GetMetadata().GetName(), Uid: p.GetMetadata().GetUid(), Status: &api.PodStatus{
			Phase: api.PodSucceeded, StartTime: now,
			ContainerStatuses: []*api.ContainerStatus{{Name: "main", State: &api.ContainerState{
				Terminated: &api.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now},
			}}},
		}})
	}
	if _, err := client(t, follower).ReportPodStatus(testCtx(t), &api.ReportPodStatusRequest{Node: "a1", Updates: updates}); err != nil {
		t.Fatalf("report pod status: %v", err)
	}
	wait.For(t, "job two complete on every server", func() (bool, string) {
		for _, s := range c.running() {
			j := s.fsm.State().Job("", "two")
			if c, done := api.JobFinished(j); !done || c != api.JobComplete || j.GetStatus().GetSucceeded() != 2 {
				return false, fmt.Sprintf("%s: %v", s.Name(), j.GetStatus())
			}
		}
		return true, ""
	})
	// The agent asks, through a follower, which of its finished pods the
	// servers still hold: the leader answers from its stored pods.
	done := pods[0].GetMetadata()
	asked := []*api.PodRef{
		{Name: done.GetName(), Uid: done.GetUid()},
		{Name: done.GetName()},
		{Name: done.GetName(), Uid: "an-earlier-pod-of-that-name"},
		{Name: "two-absent", Uid: done.GetUid()},
	}
	exists, err := client(t, follower).PodsExist(testCtx(t), &api.PodsExistRequest{Pods: asked})
	if err != nil {
		t.Fatalf("pods exist: %v", err)
	}
	if want := []bool{true, true, false, false}; !slices.Equal(exists.GetExists(), want) {
		t.Errorf("pods exist %v = %v, want %v", asked, exists.GetExists(), want)
	}
	// The answer says since when no pod was removed, so that the agent
	// need not ask again about the pods held until that moves.
	if got, want := exists.GetPodsRemovedIndex(), leader.fsm.State().PodsRemovedIndex(); got == 0 || got != want {
		t.Errorf("pods removed index %d, want the leader's, %d", got, want)
	}
	// A report from a node the pod is not bound to changes nothing.
	stray := &api.PodStatusUpdate{Name: pods[0].GetMetadata().GetName(), Status: &api.PodStatus{Phase: api.PodFailed}}
	if _, err := client(t, leader).ReportPodStatus(testCtx(t), &api.ReportPodStatusRequest{Node: "a2", Updates: []*api.PodStatusUpdate{stray}}); err != nil {
		t.Fatal(err)
	}
	if got := leader.fsm.State().Pod(pods[0].GetMetadata().GetName()).GetStatus().GetPhase(); got != api.PodSucceeded {
		t.Errorf("pod phase after a stray report = %s, want Succeeded", got)
	}
}

func TestCronControllerFiresOnTheClockAndReplaces(t *testing.T) {
	fc := newFakeClock(fakeStart)
	c := newTestCluster(t, harnessOptions{clock: fc})
	s := c.leader()
	submit(t, s, testCronJob("every", "* * * * *", "Replace"))

	first := fmt.Sprintf("every-%d", fakeStart.Add(30*time.Second).Unix()/60)
	if s.fsm.State().Job("", first) != nil {
		t.Fatalf("job %s exists before its time", first)
	}
	fc.Advance(30 * time.Second)
	wait.For(t, "job "+first, func() (bool, string) {
		return s.fsm.State().Job("", first) != nil, "no job"
	})
	j := s.fsm.State().Job("", first)
	if got := j.GetMetadata().GetAnnotations()[api.AnnotationCronJobScheduledTimestamp]; got != "2025-03-01T03:00:00Z" {
		t.Errorf("scheduled timestamp = %q", got)
	}
	if len(j.GetMetadata().GetOwnerReferences()) != 1 || j.GetMetadata().GetUid() == "" {
		t.Errorf("job metadata = %v", j.GetMetadata())
	}

	// With no node the first Job still runs at the next time: Replace
	// suspends it, then deletes it with the next Job's creation.
	second := fmt.Sprintf("every-%d", fakeStart.Add(90*time.Second).Unix()/60)
	fc.Advance(time.Minute)
	wait.For(t, "job "+second+" replacing "+first, func() (bool, string) {
		st := s.fsm.State()
		return st.Job("", second) != nil && st.Job("", first) == nil, fmt.Sprintf("second %v, first %v", st.Job("", second) != nil, st.Job("", first) != nil)
	})
	if !hasEvent(s, "CronJob", "every", "SuccessfulDelete") {
		t.Error("no SuccessfulDelete event for the replaced job")
	}
	cj := s.fsm.State().CronJob("", "every")
	if got := cj.GetStatus().GetLastScheduleTime().AsTime(); !got.Equal(time.Date(2025, 3, 1, 3, 1, 0, 0, time.UTC)) {
		t.Errorf("last schedule time = %v", got)
	}
}
