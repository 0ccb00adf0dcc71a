package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	testLeaseTTL    = 3 * time.Second
	testLeaseMargin = 250 * time.Millisecond
)

// ms is t0 moved by n milliseconds: the fake clock of the node tests.
func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// agent is an agent member as gossip reports it.
func agent(name string, status MemberStatus, mods ...func(*NodeMember)) NodeMember {
	m := NodeMember{
		Name: name, Status: status,
		Labels:   map[string]string{"zone": "a"},
		Capacity: map[string]string{"cpu": "4", "pods": "10"},
		RPCAddr:  "10.0.0.1:7500",
	}
	for _, mod := range mods {
		mod(&m)
	}
	return m
}

// storedNode is a node as the controller records agent(name, ...), with a
// Ready condition of the given status set at transition.
func storedNode(name string, ready bool, message string, transition time.Time, mods ...func(*api.Node)) *api.Node {
	cond := &api.NodeCondition{Type: "Ready", Status: "True", Reason: "AgentReady", Message: "agent is posting ready status"}
	if !ready {
		cond = &api.NodeCondition{Type: "Ready", Status: "False", Reason: "NodeStatusUnknown", Message: message}
	}
	cond.LastTransitionTime, cond.LastHeartbeatTime = ts(transition), ts(transition)
	n := &api.Node{
		ApiVersion: "v1", Kind: "Node",
		Metadata: &api.ObjectMeta{
			Name: name, Uid: "uid-" + name, CreationTimestamp: ts(at(-100)),
			Labels: map[string]string{"zone": "a", "kubernetes.io/hostname": name},
		},
		Status: &api.NodeStatus{
			Capacity:    map[string]string{"cpu": "4", "pods": "10"},
			Allocatable: map[string]string{"cpu": "4", "pods": "10"},
			Addresses:   []*api.NodeAddress{{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "Hostname", Address: name}},
			Conditions:  []*api.NodeCondition{cond},
		},
	}
	for _, mod := range mods {
		mod(n)
	}
	return n
}

// livePod is a running pod of Job "job" bound to node.
func livePod(name, node string) *api.Pod {
	return &api.Pod{
		Metadata: &api.ObjectMeta{Name: name, Uid: "uid-" + name, Labels: map[string]string{api.LabelJobName: "job"}},
		Spec:     &api.PodSpec{NodeName: node},
		Status: &api.PodStatus{Phase: api.PodRunning, ContainerStatuses: []*api.ContainerStatus{{
			Name:  "main",
			State: &api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: ts(at(-10))}},
		}}},
	}
}

// nodeResult is a NodePlan in words, for table tests.
type nodeResult struct {
	Create    []string
	Update    []string
	LostPods  []string
	LostNodes []string
	Events    []string
	NextCheck time.Time
}

func readyWords(n *api.Node) string {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return fmt.Sprintf("%s Ready=%s %s: %s", n.GetMetadata().GetName(), c.GetStatus(), c.GetReason(), c.GetMessage())
		}
	}
	return n.GetMetadata().GetName() + " without Ready"
}

func summarizeNodes(p NodePlan) nodeResult {
	var r nodeResult
	for _, n := range p.Create {
		r.Create = append(r.Create, readyWords(n))
	}
	for _, n := range p.Update {
		r.Update = append(r.Update, readyWords(n))
	}
	for _, u := range p.LostPods {
		r.LostPods = append(r.LostPods, fmt.Sprintf("%s %s %s: %s", u.GetName(), u.GetStatus().GetPhase(), u.GetStatus().GetReason(), u.GetStatus().GetMessage()))
	}
	r.LostNodes = p.LostNodes
	for _, e := range p.Events {
		r.Events = append(r.Events, fmt.Sprintf("%s/%s %s %s: %s", e.Kind, e.Name, e.Type, e.Reason, e.Message))
	}
	r.NextCheck = p.NextCheck
	return r
}

// after is the first instant past t, when a pass that waited for t acts.
func after(t time.Time) time.Time { return t.Add(time.Nanosecond) }

func TestReconcileNodes(t *testing.T) {
	const (
		lapsedMsg = "agent stopped renewing its lease 3.1s ago"
		probesMsg = "agent stopped answering gossip probes"
		leftMsg   = "agent left the cluster"
	)
	cases := []struct {
		name string
		// setup
		members  []NodeMember
		nodes    []*api.Node
		renewals map[string]time.Time
		stopped  map[string]time.Time
		pods     map[string][]*api.Pod
		now      time.Time
		// want
		want nodeResult
	}{
		{
			name:    "new agent appears",
			members: []NodeMember{agent("n1", MemberAlive)},
			now:     ms(500),
			want: nodeResult{
				Create:    []string{"n1 Ready=True AgentReady: agent is posting ready status"},
				NextCheck: after(ms(3000)),
			},
		},
		{
			name:    "new agent already failed is recorded not ready",
			members: []NodeMember{agent("n1", MemberFailed)},
			now:     ms(500),
			want: nodeResult{
				Create:    []string{"n1 Ready=False NodeStatusUnknown: " + probesMsg},
				NextCheck: after(ms(3250)),
			},
		},
		{
			name:     "agent alive with lease held: no change",
			members:  []NodeMember{agent("n1", MemberAlive)},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			pods:     map[string][]*api.Pod{"n1": {livePod("p1", "n1")}},
			now:      ms(2000),
			want:     nodeResult{NextCheck: after(ms(4000))},
		},
		{
			name:     "suspect agent with lease held stays ready",
			members:  []NodeMember{agent("n1", MemberSuspect)},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			now:      ms(2000),
			want:     nodeResult{NextCheck: after(ms(4000))},
		},
		{
			name:     "lease lapsed but within margin: not ready, pods kept",
			members:  []NodeMember{agent("n1", MemberAlive)},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			pods:     map[string][]*api.Pod{"n1": {livePod("p1", "n1")}},
			now:      ms(4100),
			want: nodeResult{
				Update:    []string{"n1 Ready=False NodeStatusUnknown: " + lapsedMsg},
				Events:    []string{"Node/n1 Warning NodeNotReady: Node n1 status is now: NodeNotReady (" + lapsedMsg + ")"},
				NextCheck: after(ms(4250)),
			},
		},
		{
			name:     "lease exactly at its end still holds",
			members:  []NodeMember{agent("n1", MemberAlive)},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			now:      ms(4000),
			want:     nodeResult{NextCheck: after(ms(4000))},
		},
		{
			name:     "lease exactly at the margin: pods kept",
			members:  []NodeMember{agent("n1", MemberAlive)},
			nodes:    []*api.Node{storedNode("n1", false, "agent stopped renewing its lease 3.001s ago", ms(4001))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			pods:     map[string][]*api.Pod{"n1": {livePod("p1", "n1")}},
			now:      ms(4250),
			want:     nodeResult{NextCheck: after(ms(4250))},
		},
		{
			name:     "lease expired beyond margin with live pods: NodeLost",
			members:  []NodeMember{agent("n1", MemberAlive)},
			nodes:    []*api.Node{storedNode("n1", false, "agent stopped renewing its lease 3.001s ago", ms(4001))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			pods:     map[string][]*api.Pod{"n1": {livePod("p1", "n1"), livePod("p2", "n1")}},
			now:      ms(4300),
			want: nodeResult{
				LostPods: []string{
					"p1 Failed NodeLost: node n1 was lost: no lease renewal for 3.3s",
					"p2 Failed NodeLost: node n1 was lost: no lease renewal for 3.3s",
				},
				LostNodes: []string{"n1"},
				Events: []string{
					"Pod/p1 Warning NodeLost: node n1 was lost: no lease renewal for 3.3s",
					"Job/job Warning NodeLost: Pod p1 lost with node n1",
					"Pod/p2 Warning NodeLost: node n1 was lost: no lease renewal for 3.3s",
					"Job/job Warning NodeLost: Pod p2 lost with node n1",
				},
			},
		},
		{
			name:     "dead agent's guard stopped its pods: lost at once, though the lease holds",
			members:  []NodeMember{agent("n1", MemberAlive)},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			stopped:  map[string]time.Time{"n1": ms(1100)},
			pods:     map[string][]*api.Pod{"n1": {livePod("p1", "n1")}},
			now:      ms(1200),
			want: nodeResult{
				Update:    []string{"n1 Ready=False NodeStatusUnknown: agent died; its guard stopped its pods"},
				LostPods:  []string{"p1 Failed NodeLost: node n1 was lost: its agent died and its guard killed its pods"},
				LostNodes: []string{"n1"},
				Events: []string{
					"Node/n1 Warning NodeNotReady: Node n1 status is now: NodeNotReady (agent died; its guard stopped its pods)",
					"Pod/p1 Warning NodeLost: node n1 was lost: its agent died and its guard killed its pods",
					"Job/job Warning NodeLost: Pod p1 lost with node n1",
				},
			},
		},
		{
			name:     "lease expired in one pass: not ready and pods lost together",
			members:  []NodeMember{agent("n1", MemberFailed)},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			pods:     map[string][]*api.Pod{"n1": {livePod("p1", "n1")}},
			now:      ms(5000),
			want: nodeResult{
				Update:    []string{"n1 Ready=False NodeStatusUnknown: agent stopped renewing its lease 4s ago"},
				LostPods:  []string{"p1 Failed NodeLost: node n1 was lost: no lease renewal for 4s"},
				LostNodes: []string{"n1"},
				Events: []string{
					"Node/n1 Warning NodeNotReady: Node n1 status is now: NodeNotReady (agent stopped renewing its lease 4s ago)",
					"Pod/p1 Warning NodeLost: node n1 was lost: no lease renewal for 4s",
					"Job/job Warning NodeLost: Pod p1 lost with node n1",
				},
			},
		},
		{
			name:     "lease expired beyond margin without pods: nothing to do",
			members:  []NodeMember{agent("n1", MemberFailed)},
			nodes:    []*api.Node{storedNode("n1", false, probesMsg, ms(2000))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			now:      ms(9000),
			want:     nodeResult{},
		},
		{
			name:     "gossip says failed while the lease holds",
			members:  []NodeMember{agent("n1", MemberFailed)},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			pods:     map[string][]*api.Pod{"n1": {livePod("p1", "n1")}},
			now:      ms(2000),
			want: nodeResult{
				Update:    []string{"n1 Ready=False NodeStatusUnknown: " + probesMsg},
				Events:    []string{"Node/n1 Warning NodeNotReady: Node n1 status is now: NodeNotReady (" + probesMsg + ")"},
				NextCheck: after(ms(4250)),
			},
		},
		{
			name:     "member left",
			members:  []NodeMember{agent("n1", MemberLeft)},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			now:      ms(2000),
			want: nodeResult{
				Update:    []string{"n1 Ready=False NodeStatusUnknown: " + leftMsg},
				Events:    []string{"Node/n1 Warning NodeNotReady: Node n1 status is now: NodeNotReady (" + leftMsg + ")"},
				NextCheck: after(ms(4250)),
			},
		},
		{
			name:     "node back after being not ready",
			members:  []NodeMember{agent("n1", MemberAlive)},
			nodes:    []*api.Node{storedNode("n1", false, probesMsg, ms(500))},
			renewals: map[string]time.Time{"n1": ms(1900)},
			now:      ms(2000),
			want: nodeResult{
				Update:    []string{"n1 Ready=True AgentReady: agent is posting ready status"},
				Events:    []string{"Node/n1 Normal NodeReady: Node n1 status is now: NodeReady (agent is posting ready status)"},
				NextCheck: after(ms(4900)),
			},
		},
		{
			name:     "node alive again but its lease still lapsed stays not ready",
			members:  []NodeMember{agent("n1", MemberAlive)},
			nodes:    []*api.Node{storedNode("n1", false, probesMsg, ms(500))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			now:      ms(4100),
			want:     nodeResult{NextCheck: after(ms(4250))},
		},
		{
			name: "labels and capacity change",
			members: []NodeMember{agent("n1", MemberAlive, func(m *NodeMember) {
				m.Labels = map[string]string{"zone": "b", "gpu": "true"}
				m.Capacity = map[string]string{"cpu": "8"}
			})},
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			now:      ms(2000),
			want: nodeResult{
				Update:    []string{"n1 Ready=True AgentReady: agent is posting ready status"},
				NextCheck: after(ms(4000)),
			},
		},
		{
			name:     "node known in state but no longer in gossip",
			nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1000)},
			now:      ms(2000),
			want: nodeResult{
				Update:    []string{"n1 Ready=False NodeStatusUnknown: " + probesMsg},
				Events:    []string{"Node/n1 Warning NodeNotReady: Node n1 status is now: NodeNotReady (" + probesMsg + ")"},
				NextCheck: after(ms(4250)),
			},
		},
		{
			name:    "new leader counts every lease from when it took over",
			members: []NodeMember{agent("n1", MemberAlive)},
			nodes:   []*api.Node{storedNode("n1", true, "", at(-50))},
			// Renewed with the old leader long ago: that does not count.
			renewals: map[string]time.Time{"n1": at(-60)},
			pods:     map[string][]*api.Pod{"n1": {livePod("p1", "n1")}},
			now:      ms(2000),
			want:     nodeResult{NextCheck: after(ms(3000))},
		},
		{
			name: "several nodes: sorted by name, earliest next check",
			members: []NodeMember{
				agent("n3", MemberAlive),
				agent("n1", MemberAlive),
			},
			nodes:    []*api.Node{storedNode("n2", true, "", at(-50))},
			renewals: map[string]time.Time{"n1": ms(1500), "n3": ms(1200)},
			now:      ms(2000),
			want: nodeResult{
				Create: []string{
					"n1 Ready=True AgentReady: agent is posting ready status",
					"n3 Ready=True AgentReady: agent is posting ready status",
				},
				Update: []string{"n2 Ready=False NodeStatusUnknown: " + probesMsg},
				Events: []string{
					"Node/n2 Warning NodeNotReady: Node n2 status is now: NodeNotReady (" + probesMsg + ")",
				},
				NextCheck: after(ms(3250)),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := NodeInput{
				Members: tc.members, Nodes: tc.nodes, LeaseStart: t0, Renewals: tc.renewals, Stopped: tc.stopped, LivePods: tc.pods,
				LeaseTTL: testLeaseTTL, LeaseMargin: testLeaseMargin, Now: tc.now,
			}
			before := cloneNodeInput(in)
			plan := ReconcileNodes(in)
			if diff := cmp.Diff(tc.want, summarizeNodes(plan)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, in, protocmp.Transform()); diff != "" {
				t.Errorf("input modified (-before +after):\n%s", diff)
			}
			if !plan.NextCheck.IsZero() && !plan.NextCheck.After(tc.now) {
				t.Errorf("next check %v is not after now %v", plan.NextCheck, tc.now)
			}
			// Once the plan is applied, a pass at the same time has
			// nothing more to do.
			again := ReconcileNodes(applyNodePlan(in, plan))
			if len(again.Create)+len(again.Update)+len(again.LostPods)+len(again.Events) != 0 {
				t.Errorf("second pass after applying the plan = %+v, want nothing to do", summarizeNodes(again))
			}
		})
	}
}

// applyNodePlan is the input of the next pass once plan is applied: its
// Nodes stored, its lost pods no longer live.
func applyNodePlan(in NodeInput, plan NodePlan) NodeInput {
	byName := map[string]*api.Node{}
	for _, n := range append(append(slices.Clone(in.Nodes), plan.Create...), plan.Update...) {
		byName[n.GetMetadata().GetName()] = n
	}
	in.Nodes = slices.Collect(maps.Values(byName))
	lost := map[string]bool{}
	for _, u := range plan.LostPods {
		lost[u.GetName()] = true
	}
	live := map[string][]*api.Pod{}
	for node, pods := range in.LivePods {
		for _, p := range pods {
			if !lost[p.GetMetadata().GetName()] {
				live[node] = append(live[node], p)
			}
		}
	}
	in.LivePods = live
	return in
}

func cloneNodeInput(in NodeInput) NodeInput {
	out := in
	out.Nodes = nil
	for _, n := range in.Nodes {
		out.Nodes = append(out.Nodes, proto.Clone(n).(*api.Node))
	}
	out.LivePods = map[string][]*api.Pod{}
	for node, pods := range in.LivePods {
		for _, p := range pods {
			out.LivePods[node] = append(out.LivePods[node], proto.Clone(p).(*api.Pod))
		}
	}
	if in.LivePods == nil {
		out.LivePods = nil
	}
	return out
}

func TestReconcileNodesRecordsANewAgentAsKubernetesDoes(t *testing.T) {
	plan := ReconcileNodes(NodeInput{
		Members:  []NodeMember{agent("n1", MemberAlive)},
		LeaseTTL: testLeaseTTL, LeaseMargin: testLeaseMargin, LeaseStart: t0, Now: ms(500),
	})
	want := &api.Node{
		ApiVersion: "v1", Kind: "Node",
		Metadata: &api.ObjectMeta{
			Name: "n1", CreationTimestamp: ts(ms(500)),
			Labels: map[string]string{"zone": "a", "kubernetes.io/hostname": "n1"},
		},
		Status: &api.NodeStatus{
			Capacity:    map[string]string{"cpu": "4", "pods": "10"},
			Allocatable: map[string]string{"cpu": "4", "pods": "10"},
			Addresses:   []*api.NodeAddress{{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "Hostname", Address: "n1"}},
			Conditions: []*api.NodeCondition{{
				Type: "Ready", Status: "True", Reason: "AgentReady", Message: "agent is posting ready status",
				LastTransitionTime: ts(ms(500)), LastHeartbeatTime: ts(ms(500)),
			}},
		},
	}
	if len(plan.Create) != 1 {
		t.Fatalf("created %d nodes, want 1", len(plan.Create))
	}
	if diff := cmp.Diff(want, plan.Create[0], protocmp.Transform()); diff != "" {
		t.Errorf("new node (-want +got):\n%s", diff)
	}
}

func TestReconcileNodesKeepsTransitionTimeWhileReadinessHolds(t *testing.T) {
	// The lease lapsed after gossip had declared the agent failed: the
	// node stays not ready for the first reason, with its first time.
	old := storedNode("n1", false, "agent stopped answering gossip probes", ms(1500))
	plan := ReconcileNodes(NodeInput{
		Members:  []NodeMember{agent("n1", MemberFailed)},
		Nodes:    []*api.Node{old},
		Renewals: map[string]time.Time{"n1": ms(1000)},
		LeaseTTL: testLeaseTTL, LeaseMargin: testLeaseMargin, LeaseStart: t0, Now: ms(4100),
	})
	if len(plan.Create)+len(plan.Update)+len(plan.Events) != 0 {
		t.Errorf("plan = %+v, want no node change and no event", plan)
	}
}

func TestReconcileNodesFailsLostPodsAsKilled(t *testing.T) {
	pending := &api.Pod{
		Metadata: &api.ObjectMeta{Name: "waiting", Uid: "uid-waiting"},
		Spec:     &api.PodSpec{NodeName: "n1"},
	}
	done := livePod("restarting", "n1")
	finished := &api.ContainerStateTerminated{ExitCode: 1, Reason: "Error", StartedAt: ts(at(-20)), FinishedAt: ts(at(-15))}
	done.Status.ContainerStatuses = append(done.Status.ContainerStatuses, &api.ContainerStatus{
		Name: "sidecar", State: &api.ContainerState{Terminated: finished},
	})
	plan := ReconcileNodes(NodeInput{
		Nodes:    []*api.Node{storedNode("n1", false, "agent stopped answering gossip probes", ms(1500))},
		Renewals: map[string]time.Time{"n1": ms(1000)},
		LivePods: map[string][]*api.Pod{"n1": {pending, done}},
		LeaseTTL: testLeaseTTL, LeaseMargin: testLeaseMargin, LeaseStart: t0, Now: ms(5000),
	})
	msg := "node n1 was lost: no lease renewal for 4s"
	want := []*api.PodStatusUpdate{
		{Name: "waiting", Uid: "uid-waiting", Status: &api.PodStatus{Phase: api.PodFailed, Reason: api.ReasonNodeLost, Message: msg}},
		{Name: "restarting", Uid: "uid-restarting", Status: &api.PodStatus{
			Phase: api.PodFailed, Reason: api.ReasonNodeLost, Message: msg,
			ContainerStatuses: []*api.ContainerStatus{
				{Name: "main", State: &api.ContainerState{Terminated: &api.ContainerStateTerminated{
					ExitCode: 137, Reason: api.ReasonNodeLost, StartedAt: ts(at(-10)), FinishedAt: ts(ms(5000)),
				}}},
				{Name: "sidecar", State: &api.ContainerState{Terminated: finished}},
			},
		}},
	}
	if diff := cmp.Diff(want, plan.LostPods, protocmp.Transform()); diff != "" {
		t.Errorf("lost pods (-want +got):\n%s", diff)
	}
	// A pod of no Job has no Job event.
	if got := len(plan.Events); got != 3 {
		t.Errorf("%d events, want 3 (two pods, one Job): %+v", got, plan.Events)
	}
}

func TestReconcileNodesLabelsAndCapacityFollowGossip(t *testing.T) {
	plan := ReconcileNodes(NodeInput{
		Members: []NodeMember{agent("n1", MemberAlive, func(m *NodeMember) {
			m.Labels = nil
			m.Capacity = map[string]string{"cpu": "8"}
			m.RPCAddr = "10.0.0.9:7500"
		})},
		Nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
		LeaseTTL: testLeaseTTL, LeaseMargin: testLeaseMargin, LeaseStart: t0, Now: ms(500),
	})
	want := storedNode("n1", true, "", at(-50), func(n *api.Node) {
		n.Metadata.Labels = map[string]string{"kubernetes.io/hostname": "n1"}
		n.Status.Capacity = map[string]string{"cpu": "8"}
		n.Status.Allocatable = map[string]string{"cpu": "8"}
		n.Status.Addresses[0].Address = "10.0.0.9"
	})
	if len(plan.Update) != 1 {
		t.Fatalf("updated %d nodes, want 1", len(plan.Update))
	}
	if diff := cmp.Diff(want, plan.Update[0], protocmp.Transform()); diff != "" {
		t.Errorf("updated node (-want +got):\n%s", diff)
	}
}

func TestReconcileNodesRuntimesFollowGossip(t *testing.T) {
	for _, tc := range []struct {
		name            string
		runtimes        []string
		versions        []string
		wantAnnotations map[string]string
		wantInfo        *api.NodeSystemInfo
	}{
		{name: "an agent that advertises no runtimes runs processes",
			wantAnnotations: nil, wantInfo: nil},
		{name: "process and docker, docker's version shown",
			runtimes: []string{"process", "docker"}, versions: []string{"process://v1", "docker://20.10.24"},
			wantAnnotations: map[string]string{RuntimesAnnotation: "process,docker"},
			wantInfo:        &api.NodeSystemInfo{ContainerRuntimeVersion: "docker://20.10.24"}},
		{name: "processes only show the process runtime's version",
			runtimes: []string{"process"}, versions: []string{"process://v1"},
			wantAnnotations: map[string]string{RuntimesAnnotation: "process"},
			wantInfo:        &api.NodeSystemInfo{ContainerRuntimeVersion: "process://v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := ReconcileNodes(NodeInput{
				Members: []NodeMember{agent("n1", MemberAlive, func(m *NodeMember) {
					m.Runtimes, m.RuntimeVersions = tc.runtimes, tc.versions
				})},
				Nodes:    []*api.Node{storedNode("n1", true, "", at(-50))},
				LeaseTTL: testLeaseTTL, LeaseMargin: testLeaseMargin, LeaseStart: t0, Now: ms(500),
			})
			got := storedNode("n1", true, "", at(-50))
			if len(plan.Update) == 1 {
				got = plan.Update[0]
			}
			if diff := cmp.Diff(tc.wantAnnotations, got.GetMetadata().GetAnnotations()); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantInfo, got.GetStatus().GetNodeInfo(), protocmp.Transform()); diff != "" {
				t.Errorf("nodeInfo (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLostPodsContainersAreNotReady(t *testing.T) {
	pod := &api.Pod{Metadata: &api.ObjectMeta{Name: "p1", Uid: "u1"}, Status: &api.PodStatus{Phase: api.PodRunning,
		ContainerStatuses: []*api.ContainerStatus{{Name: "main", Ready: true,
			State: &api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: timestamppb.New(ms(1000))}}}}}}
	plan := &NodePlan{}
	failLostPods(plan, "n1", []*api.Pod{pod}, "node n1 was lost", ms(4000))
	cs := plan.LostPods[0].GetStatus().GetContainerStatuses()[0]
	if cs.GetReady() || cs.GetState().GetTerminated().GetReason() != api.ReasonNodeLost {
		t.Errorf("lost pod's container: ready %v, state %v; want not ready, terminated NodeLost", cs.GetReady(), cs.GetState())
	}
	if !pod.GetStatus().GetContainerStatuses()[0].GetReady() {
		t.Error("the stored pod was changed in place")
	}
}
