package cluster

import (
	"context"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/scheduler"
)

// leaseMargin is added to the lease before the servers act on its expiry,
// covering the time a heartbeat spends in flight.
const leaseMargin = 250 * time.Millisecond

// nodeRecheck bounds how long the node controller sleeps. It wakes sooner
// when membership changes, when a lease is renewed after a gap (its node
// may be Ready again) and when a pass said a lease lapses.
const nodeRecheck = 5 * time.Second

// nodeControllerLoop records agents as Node objects (Ready while gossip
// sees them alive and their lease holds) and fails the pods of nodes whose
// lease certainly expired with reason NodeLost.
func (s *Server) nodeControllerLoop(ctx context.Context) {
	for {
		changed, renewed := s.membersChanged.wait(), s.leases.renewedAfterGap.wait()
		next := s.reconcileNodes(ctx, s.clock.Now())
		wait := nodeRecheck
		if !next.IsZero() {
			wait = min(max(next.Sub(s.clock.Now()), 0), nodeRecheck)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-renewed:
		case <-s.clock.After(wait):
		}
	}
}

// reconcileNodes runs one node controller pass at now and proposes what it
// decided. It returns when the next pass is due at the latest.
func (s *Server) reconcileNodes(ctx context.Context, now time.Time) time.Time {
	start := time.Now()
	defer func() { s.metrics.NodesSynced(time.Since(start)) }()
	plan := scheduler.ReconcileNodes(s.nodeInput(now))
	for _, e := range plan.Events {
		if e.Kind == "Node" {
			s.logger.Info("node readiness changed", "node", e.Name, "reason", e.Reason, "message", e.Message)
		}
	}
	for _, n := range plan.LostNodes {
		s.logger.Info("node lost, failing its pods", "node", n)
	}
	cmds := nodeCommands(plan, now, &s.similar)
	if len(cmds) == 0 {
		return plan.NextCheck
	}
	if _, err := s.proposer.Propose(ctx, cmds...); err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("propose node changes", "err", err)
		}
	} else {
		s.metrics.NodesLost(len(plan.LostNodes))
	}
	return plan.NextCheck
}

// nodeInput gathers what the node controller decides from: the agents
// gossip knows, the stored Nodes, their leases and their live pods.
func (s *Server) nodeInput(now time.Time) scheduler.NodeInput {
	st := s.fsm.State()
	in := scheduler.NodeInput{
		Nodes:       st.Nodes(),
		LivePods:    map[string][]*api.Pod{},
		LeaseTTL:    s.timing.LeaseTTL,
		LeaseMargin: leaseMargin,
		Now:         now,
	}
	in.LeaseStart, in.Renewals = s.leases.snapshot()
	in.Stopped = s.leases.stoppedNodes()
	for _, m := range s.gossip.Members() {
		if m.Meta.GetRole() != gossip.RoleAgent {
			continue
		}
		in.Members = append(in.Members, scheduler.NodeMember{
			Name:            m.Name,
			Status:          scheduler.MemberStatus(m.Status), // gossip's words are the scheduler's
			Labels:          m.Meta.GetLabels(),
			Capacity:        m.Meta.GetCapacity(),
			RPCAddr:         m.Meta.GetRpcAddr(),
			Runtimes:        m.Meta.GetRuntimes(),
			RuntimeVersions: m.Meta.GetRuntimeVersions(),
		})
		in.LivePods[m.Name], _ = st.LivePodsOnNode(m.Name)
	}
	for _, n := range in.Nodes {
		name := n.GetMetadata().GetName()
		if _, ok := in.LivePods[name]; !ok {
			in.LivePods[name], _ = st.LivePodsOnNode(name)
		}
	}
	return in
}

// nodeCommands turns a node plan into commands, stamping the uids of new
// Nodes and naming the events.
func nodeCommands(plan scheduler.NodePlan, now time.Time, similar *similarEvents) []*api.Command {
	var cmds []*api.Command
	for _, n := range plan.Create {
		n.Metadata.Uid = newUID()
		cmds = append(cmds, (&api.UpsertNode{Node: n}).Command())
	}
	for _, n := range plan.Update {
		cmds = append(cmds, (&api.UpsertNode{Node: n}).Command())
	}
	if len(plan.LostPods) > 0 {
		cmds = append(cmds, (&api.UpdatePodStatus{Updates: plan.LostPods}).Command())
	}
	var events []*api.Event
	for _, e := range plan.Events {
		events = append(events, event(now, e.Kind, "", e.Name, e.UID, e.Type, e.Reason, e.Message))
	}
	if len(events) > 0 {
		cmds = append(cmds, similar.eventCommand(events...))
	}
	return cmds
}
