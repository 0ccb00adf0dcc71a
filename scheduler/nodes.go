package scheduler

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Reasons, messages and addresses of a Node's readiness, as Kubernetes
// spells them; only the node controller uses them.
const (
	reasonAgentReady        = "AgentReady"
	messageAgentReady       = "agent is posting ready status"
	reasonNodeStatusUnknown = "NodeStatusUnknown"
	reasonNodeReady         = "NodeReady"
	reasonNodeNotReady      = "NodeNotReady"
	labelHostname           = "kubernetes.io/hostname"
	addressInternalIP       = "InternalIP"
	addressHostname         = "Hostname"
	// exitCodeKilled is what a container killed by SIGKILL exits with.
	exitCodeKilled = 137
)

// MemberStatus is how gossip sees a member, in the words `jobcluster
// members` prints.
type MemberStatus string

// Member statuses.
const (
	MemberAlive   MemberStatus = "alive"
	MemberSuspect MemberStatus = "suspect"
	MemberFailed  MemberStatus = "failed"
	MemberLeft    MemberStatus = "left"
)

// NodeMember is an agent as gossip sees it.
type NodeMember struct {
	Name   string
	Status MemberStatus
	// Labels and Capacity are what the agent advertises.
	Labels   map[string]string
	Capacity map[string]string
	// RPCAddr is the agent's host:port; its host becomes the InternalIP.
	RPCAddr string
	// Runtimes lists the agent's runtimes, its default first; empty means
	// processes only (an agent older than runtimes).
	Runtimes []string
	// RuntimeVersions holds versions such as "docker://20.10.24", one per
	// runtime that has one.
	RuntimeVersions []string
}

// NodeInput is everything one node controller pass needs.
type NodeInput struct {
	// Members lists the agents gossip knows, in any status.
	Members []NodeMember
	// Nodes is every stored Node.
	Nodes []*api.Node
	// LeaseStart is when this leader started counting leases: no lease is
	// older than that, so a new leader never declares a node lost sooner
	// than one lease after it took over.
	LeaseStart time.Time
	// Renewals holds when each node last renewed its lease; a node
	// missing from it has not renewed since LeaseStart.
	Renewals map[string]time.Time
	// LivePods holds the unfinished pods bound to each node.
	LivePods map[string][]*api.Pod
	// LeaseTTL is how long an agent runs pods without renewing its lease.
	LeaseTTL time.Duration
	// LeaseMargin is added to LeaseTTL before a node's pods are declared
	// lost, covering the time a renewal spends in flight.
	LeaseMargin time.Duration
	// Stopped holds the nodes whose agent died after its last renewal and
	// whose guard then killed every one of its pods, with when it said so:
	// their pods are lost now, without waiting for the lease.
	Stopped map[string]time.Time
	// Now is the time of the pass.
	Now time.Time
}

// ObjectEvent is an event about one object; the caller names and stamps it.
type ObjectEvent struct {
	Kind string
	Name string
	UID  string
	Event
}

// NodePlan is what one node controller pass decided.
type NodePlan struct {
	// Create holds Nodes seen for the first time, without a uid: the
	// caller stamps one.
	Create []*api.Node
	// Update holds stored Nodes whose readiness, labels, capacity or
	// addresses changed.
	Update []*api.Node
	// LostPods fails, with reason NodeLost, the unfinished pods of nodes
	// whose lease certainly expired or whose dead agent's guard stopped
	// them.
	LostPods []*api.PodStatusUpdate
	// LostNodes names the nodes whose pods LostPods fails.
	LostNodes []string
	// Events to record about Nodes (readiness changes), lost pods and
	// their Jobs.
	Events []ObjectEvent
	// NextCheck is the earliest future time at which a pass would decide
	// something new without any other change (a lease lapses or certainly
	// expires); zero if there is none.
	NextCheck time.Time
}

// ReconcileNodes decides, at in.Now, which Nodes to record and which pods
// are lost. A node is Ready while gossip sees its agent alive (or suspect)
// and its lease holds; its unfinished pods fail with reason NodeLost once
// its lease expired by more than the margin, or at once when its dead
// agent's guard stopped them. A node no longer in gossip stays, not
// Ready, until it returns or is deleted.
func ReconcileNodes(in NodeInput) NodePlan {
	members := make(map[string]*NodeMember, len(in.Members))
	for i := range in.Members {
		members[in.Members[i].Name] = &in.Members[i]
	}
	stored := make(map[string]*api.Node, len(in.Nodes))
	for _, n := range in.Nodes {
		stored[n.GetMetadata().GetName()] = n
	}
	names := slices.Sorted(maps.Keys(members))
	for name := range stored {
		if members[name] == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	var plan NodePlan
	for _, name := range names {
		reconcileNode(&plan, in, name, members[name], stored[name])
	}
	return plan
}

// reconcileNode adds to plan what must change for one node.
func reconcileNode(plan *NodePlan, in NodeInput, name string, m *NodeMember, old *api.Node) {
	renewed := in.LeaseStart
	if t, ok := in.Renewals[name]; ok && t.After(renewed) {
		renewed = t
	}
	sinceRenewal := in.Now.Sub(renewed)
	_, stopped := in.Stopped[name]
	leaseHeld := sinceRenewal <= in.LeaseTTL && !stopped
	alive := m != nil && (m.Status == MemberAlive || m.Status == MemberSuspect)

	node, oldCond := nextNode(name, old, m, in.Now)
	cond := readiness(m, alive, leaseHeld, stopped, sinceRenewal)
	if oldCond != nil && oldCond.GetStatus() == cond.GetStatus() {
		cond = oldCond
	} else {
		cond.LastTransitionTime = timestamppb.New(in.Now)
		cond.LastHeartbeatTime = timestamppb.New(in.Now)
	}
	node.Status.Conditions = []*api.NodeCondition{cond}
	switch {
	case old == nil:
		plan.Create = append(plan.Create, node)
	case !proto.Equal(old, node):
		plan.Update = append(plan.Update, node)
	}
	if oldCond != nil && oldCond.GetStatus() != cond.GetStatus() {
		reason, typ := reasonNodeReady, api.EventTypeNormal
		if cond.GetStatus() != api.ConditionTrue {
			reason, typ = reasonNodeNotReady, api.EventTypeWarning
		}
		plan.Events = append(plan.Events, ObjectEvent{Kind: "Node", Name: name, Event: Event{
			Type: typ, Reason: reason,
			Message: fmt.Sprintf("Node %s status is now: %s (%s)", name, reason, cond.GetMessage()),
		}})
	}

	lapse := renewed.Add(in.LeaseTTL)
	lost := lapse.Add(in.LeaseMargin)
	switch {
	case stopped:
		failLostPods(plan, name, in.LivePods[name], fmt.Sprintf("node %s was lost: its agent died and its guard killed its pods", name), in.Now)
	case sinceRenewal > in.LeaseTTL+in.LeaseMargin:
		failLostPods(plan, name, in.LivePods[name], fmt.Sprintf("node %s was lost: no lease renewal for %s", name, sinceRenewal.Round(time.Millisecond)), in.Now)
	case leaseHeld && alive:
		plan.nextCheck(lapse.Add(time.Nanosecond))
	default:
		plan.nextCheck(lost.Add(time.Nanosecond))
	}
}

// nextNode is the node as it should be stored, before its Ready
// condition: a copy of the stored one (or a new one), with the labels,
// capacity and addresses the agent advertises when gossip knows it. It
// also returns the stored Ready condition, nil when there is none.
func nextNode(name string, old *api.Node, m *NodeMember, now time.Time) (*api.Node, *api.NodeCondition) {
	node := &api.Node{ApiVersion: "v1", Kind: "Node", Metadata: &api.ObjectMeta{
		Name: name, CreationTimestamp: timestamppb.New(now),
	}}
	if old != nil {
		node = proto.Clone(old).(*api.Node)
	}
	if node.Status == nil {
		node.Status = &api.NodeStatus{}
	}
	if m != nil {
		labels := maps.Clone(m.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[labelHostname] = name
		node.Metadata.Labels = labels
		node.Status.Capacity = maps.Clone(m.Capacity)
		node.Status.Allocatable = maps.Clone(m.Capacity)
		setRuntimes(node, m)
		host, _, _ := net.SplitHostPort(m.RPCAddr)
		node.Status.Addresses = []*api.NodeAddress{
			{Type: addressInternalIP, Address: host},
			{Type: addressHostname, Address: name},
		}
	}
	var oldCond *api.NodeCondition
	for _, c := range old.GetStatus().GetConditions() {
		if c.GetType() == api.NodeReady {
			oldCond = c
		}
	}
	return node, oldCond
}

// setRuntimes records the agent's runtimes in the RuntimesAnnotation and
// its container runtime's version in status.nodeInfo, as kubelet reports
// it: the first version that is not the process runtime's, else the first.
func setRuntimes(node *api.Node, m *NodeMember) {
	if len(m.Runtimes) > 0 {
		if node.Metadata.Annotations == nil {
			node.Metadata.Annotations = map[string]string{}
		}
		node.Metadata.Annotations[RuntimesAnnotation] = strings.Join(m.Runtimes, ",")
	} else {
		delete(node.Metadata.Annotations, RuntimesAnnotation)
		if len(node.Metadata.Annotations) == 0 {
			node.Metadata.Annotations = nil
		}
	}
	version := ""
	for _, v := range m.RuntimeVersions {
		if version == "" || (strings.HasPrefix(version, api.RuntimeProcess+"://") && !strings.HasPrefix(v, api.RuntimeProcess+"://")) {
			version = v
		}
	}
	if version == "" && node.Status.NodeInfo == nil {
		return
	}
	if node.Status.NodeInfo == nil {
		node.Status.NodeInfo = &api.NodeSystemInfo{}
	}
	node.Status.NodeInfo.ContainerRuntimeVersion = version
}

// readiness is the Ready condition a node has now, without times.
func readiness(m *NodeMember, alive, leaseHeld, stopped bool, sinceRenewal time.Duration) *api.NodeCondition {
	if alive && leaseHeld {
		return &api.NodeCondition{Type: api.NodeReady, Status: api.ConditionTrue, Reason: reasonAgentReady, Message: messageAgentReady}
	}
	cond := &api.NodeCondition{Type: api.NodeReady, Status: api.ConditionFalse, Reason: reasonNodeStatusUnknown}
	switch {
	case stopped:
		cond.Message = "agent died; its guard stopped its pods"
	case !leaseHeld:
		cond.Message = fmt.Sprintf("agent stopped renewing its lease %s ago", sinceRenewal.Round(time.Millisecond))
	case m != nil && m.Status == MemberLeft:
		cond.Message = "agent left the cluster"
	default:
		cond.Message = "agent stopped answering gossip probes"
	}
	return cond
}

// failLostPods fails every unfinished pod of a node whose lease expired
// (the agent fenced itself when the lease ran out on its side) or whose
// dead agent's guard killed them: either way the pods no longer run and
// replacements may start. msg says which.
func failLostPods(plan *NodePlan, node string, pods []*api.Pod, msg string, now time.Time) {
	if len(pods) == 0 {
		return
	}
	for _, p := range pods {
		st := &api.PodStatus{}
		if p.GetStatus() != nil {
			st = proto.Clone(p.GetStatus()).(*api.PodStatus)
		}
		st.Phase = api.PodFailed
		st.Reason = api.ReasonNodeLost
		st.Message = msg
		for _, cs := range st.ContainerStatuses {
			cs.Ready = false
			if cs.GetState().GetTerminated() == nil {
				started := cs.GetState().GetRunning().GetStartedAt()
				cs.State = &api.ContainerState{Terminated: &api.ContainerStateTerminated{
					ExitCode: exitCodeKilled, Reason: api.ReasonNodeLost, StartedAt: started, FinishedAt: timestamppb.New(now),
				}}
			}
		}
		name, uid := p.GetMetadata().GetName(), p.GetMetadata().GetUid()
		plan.LostPods = append(plan.LostPods, &api.PodStatusUpdate{Name: name, Uid: uid, Status: st})
		plan.Events = append(plan.Events, ObjectEvent{Kind: api.PodResource.Kind, Name: name, UID: uid,
			Event: Event{Type: api.EventTypeWarning, Reason: api.ReasonNodeLost, Message: msg}})
		if job := p.GetMetadata().GetLabels()[api.LabelJobName]; job != "" {
			plan.Events = append(plan.Events, ObjectEvent{Kind: api.JobResource.Kind, Name: job, Event: Event{
				Type: api.EventTypeWarning, Reason: api.ReasonNodeLost,
				Message: fmt.Sprintf("Pod %s lost with node %s", name, node),
			}})
		}
	}
	plan.LostNodes = append(plan.LostNodes, node)
}

// nextCheck keeps the earliest of the times a pass asks to be run again.
func (p *NodePlan) nextCheck(t time.Time) {
	if p.NextCheck.IsZero() || t.Before(p.NextCheck) {
		p.NextCheck = t
	}
}
