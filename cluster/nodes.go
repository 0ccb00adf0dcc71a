package cluster

import (
	"context"
	"fmt"
	"maps"
	"net"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/gossip"
)

// leaseMargin is added to the lease before the servers act on its expiry,
// covering the time a heartbeat spends in flight.
const leaseMargin = 250 * time.Millisecond

// nodeControllerLoop records agents as Node objects (Ready while gossip
// sees them alive and their lease holds) and fails the pods of nodes whose
// lease certainly expired with reason NodeLost.
func (s *Server) nodeControllerLoop(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s.reconcileNodes(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-s.gossip.Changed():
		case <-tick.C:
		}
	}
}

func (s *Server) reconcileNodes(ctx context.Context, now time.Time) {
	st := s.fsm.State()
	var cmds []*api.Command
	seen := map[string]bool{}
	for _, m := range s.gossip.Members() {
		if m.Meta.GetRole() != gossip.RoleAgent {
			continue
		}
		seen[m.Name] = true
		alive := m.Status == gossip.StatusAlive || m.Status == gossip.StatusSuspect
		cmds = append(cmds, s.nodeCommands(st, m.Name, &m, alive, now)...)
	}
	for _, n := range st.Nodes() {
		if !seen[n.GetMetadata().GetName()] {
			cmds = append(cmds, s.nodeCommands(st, n.GetMetadata().GetName(), nil, false, now)...)
		}
	}
	if len(cmds) == 0 {
		return
	}
	if _, err := s.proposer.Propose(ctx, cmds...); err != nil && ctx.Err() == nil {
		s.logger.Warn("propose node changes", "err", err)
	}
}

// nodeCommands returns what must change for one node: its object when its
// readiness, labels or capacity changed, and NodeLost for its pods once its
// lease has certainly expired.
func (s *Server) nodeCommands(st *fsm.State, name string, m *gossip.Member, alive bool, now time.Time) []*api.Command {
	old := st.Node(name)
	sinceRenewal := now.Sub(s.leases.lastRenewal(name))
	leaseHeld := sinceRenewal <= s.timing.LeaseTTL
	ready := alive && leaseHeld
	var cmds []*api.Command

	node := &api.Node{ApiVersion: "v1", Kind: "Node", Metadata: &api.ObjectMeta{Name: name}, Status: &api.NodeStatus{}}
	if old != nil {
		node = proto.Clone(old).(*api.Node)
	} else {
		node.Metadata.Uid = newUID()
		node.Metadata.CreationTimestamp = timestamppb.New(now)
	}
	if m != nil {
		labels := maps.Clone(m.Meta.GetLabels())
		if labels == nil {
			labels = map[string]string{}
		}
		labels["kubernetes.io/hostname"] = name
		node.Metadata.Labels = labels
		node.Status.Capacity = maps.Clone(m.Meta.GetCapacity())
		node.Status.Allocatable = maps.Clone(m.Meta.GetCapacity())
		host, _, _ := net.SplitHostPort(m.Meta.GetRpcAddr())
		node.Status.Addresses = []*api.NodeAddress{{Type: "InternalIP", Address: host}, {Type: "Hostname", Address: name}}
	}
	cond := &api.NodeCondition{Type: "Ready", Status: "True", Reason: "AgentReady", Message: "agent is posting ready status"}
	if !ready {
		cond = &api.NodeCondition{Type: "Ready", Status: "False", Reason: "NodeStatusUnknown"}
		switch {
		case !leaseHeld:
			cond.Message = fmt.Sprintf("agent stopped renewing its lease %s ago", sinceRenewal.Round(time.Millisecond))
		case m != nil && m.Status == gossip.StatusLeft:
			cond.Message = "agent left the cluster"
		default:
			cond.Message = "agent stopped answering gossip probes"
		}
	}
	var oldCond *api.NodeCondition
	for _, c := range old.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			oldCond = c
		}
	}
	if oldCond != nil && oldCond.GetStatus() == cond.GetStatus() {
		cond = oldCond
	} else {
		cond.LastTransitionTime = timestamppb.New(now)
		cond.LastHeartbeatTime = timestamppb.New(now)
	}
	node.Status.Conditions = []*api.NodeCondition{cond}
	if old == nil || !proto.Equal(old, node) {
		cmds = append(cmds, (&api.UpsertNode{Node: node}).Command())
		if oldCond != nil && oldCond.GetStatus() != cond.GetStatus() {
			reason := "NodeReady"
			typ := "Normal"
			if cond.GetStatus() != "True" {
				reason, typ = "NodeNotReady", "Warning"
			}
			s.logger.Info("node readiness changed", "node", name, "ready", cond.GetStatus(), "reason", cond.GetMessage())
			cmds = append(cmds, eventCommand(event(now, "Node", name, "", typ, reason,
				fmt.Sprintf("Node %s status is now: %s (%s)", name, reason, cond.GetMessage()))))
		}
	}
	if sinceRenewal > s.timing.LeaseTTL+leaseMargin {
		cmds = append(cmds, s.nodeLostCommands(st, name, sinceRenewal, now)...)
	}
	return cmds
}

// nodeLostCommands fails every unfinished pod of a node whose lease
// expired. The agent fenced itself when the lease ran out on its side, so
// the pods no longer run and replacements may start.
func (s *Server) nodeLostCommands(st *fsm.State, node string, since time.Duration, now time.Time) []*api.Command {
	pods, _ := st.LivePodsOnNode(node)
	if len(pods) == 0 {
		return nil
	}
	msg := fmt.Sprintf("node %s was lost: no lease renewal for %s", node, since.Round(time.Millisecond))
	var updates []*api.PodStatusUpdate
	var events []*api.Event
	for _, p := range pods {
		stt := proto.Clone(p.GetStatus()).(*api.PodStatus)
		if stt == nil {
			stt = &api.PodStatus{}
		}
		stt.Phase = api.PodFailed
		stt.Reason = api.ReasonNodeLost
		stt.Message = msg
		for _, cs := range stt.ContainerStatuses {
			if cs.GetState().GetTerminated() == nil {
				started := cs.GetState().GetRunning().GetStartedAt()
				cs.State = &api.ContainerState{Terminated: &api.ContainerStateTerminated{
					ExitCode: 137, Reason: api.ReasonNodeLost, StartedAt: started, FinishedAt: timestamppb.New(now),
				}}
			}
		}
		name := p.GetMetadata().GetName()
		updates = append(updates, &api.PodStatusUpdate{Name: name, Uid: p.GetMetadata().GetUid(), Status: stt})
		events = append(events, event(now, "Pod", name, p.GetMetadata().GetUid(), "Warning", api.ReasonNodeLost, msg))
		if job := p.GetMetadata().GetLabels()[api.LabelJobName]; job != "" {
			events = append(events, event(now, "Job", job, "", "Warning", api.ReasonNodeLost,
				fmt.Sprintf("Pod %s lost with node %s", name, node)))
		}
	}
	s.logger.Info("node lost, failing its pods", "node", node, "pods", len(pods))
	return []*api.Command{
		{
			Type:    api.CommandType_COMMAND_TYPE_UPDATE_POD_STATUS,
			Payload: &api.Command_UpdatePodStatus{UpdatePodStatus: &api.UpdatePodStatus{Updates: updates}},
		},
		eventCommand(events...),
	}
}

// event builds an event about one object; the random name keeps repeats
// apart, as Kubernetes' event names do.
func event(now time.Time, kind, name, uid, typ, reason, msg string) *api.Event {
	ts := timestamppb.New(now)
	return &api.Event{
		ApiVersion:     "v1",
		Kind:           "Event",
		Metadata:       &api.ObjectMeta{Name: name + "." + nameSuffix() + nameSuffix(), CreationTimestamp: ts},
		InvolvedObject: &api.ObjectReference{Kind: kind, Name: name, Uid: uid},
		Type:           typ,
		Reason:         reason,
		Message:        msg,
		FirstTimestamp: ts,
		LastTimestamp:  ts,
		Count:          1,
	}
}

func eventCommand(events ...*api.Event) *api.Command {
	return (&api.RecordEvents{Events: events}).Command()
}
