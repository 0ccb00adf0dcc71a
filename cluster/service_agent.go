package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/scheduler"
)

// WatchPods streams to an agent the pods bound to it that it still has to
// run or stop, every time that set changes. Any server answers from its
// own replicated state.
func (c *controlService) WatchPods(req *api.WatchPodsRequest, stream api.Control_WatchPodsServer) error {
	ctx := stream.Context()
	var sent uint64
	first := true
	var sentHeld, sentTimed []string
	var enc podSetEncoder
	for {
		released := c.s.released.changed.wait()
		st := c.s.fsm.State()
		pods, changed := st.LivePodsOnNode(req.GetNode())
		held, timed := c.s.heldPods(st, pods, c.s.IsLeader(), req.GetHoldsPods() && req.GetBeginsAtNotBefore())
		sendHeld := held
		if !req.GetHoldsPods() && len(held) > 0 {
			// An agent that would start them at once gets them once
			// they are released.
			pods, sendHeld = withoutPods(pods, held), nil
		}
		wctx, cancel := context.WithCancel(ctx)
		cms, secrets, configChanged := st.ConfigOfPods(wctx, pods)
		if first || st.Index() > sent || !slices.Equal(held, sentHeld) || !slices.Equal(timed, sentTimed) {
			set, err := enc.encode(&api.PodSet{Index: st.Index(), Pods: pods, ConfigMaps: cms, Secrets: secrets, Held: sendHeld, Timed: timed})
			if err == nil {
				err = stream.SendMsg(set)
			}
			if err != nil {
				cancel()
				return err
			}
			sent, sentHeld, sentTimed = st.Index(), held, timed
			first = false
		}
		select {
		case <-released:
		case <-ctx.Done():
			cancel()
			return nil
		case <-c.s.ctx.Done():
			cancel()
			return status.Error(codes.Unavailable, "server shutting down")
		case <-changed:
		case <-configChanged:
		case <-st.Restored():
		}
		cancel()
	}
}

// ReportPodStatus records what an agent observed; a report also renews the
// agent's lease. With TLS on, the leader refuses a report that names no
// node or touches a pod bound to another node, as a whole: the service
// edge already made sure an agent names only its own node.
func (c *controlService) ReportPodStatus(ctx context.Context, req *api.ReportPodStatusRequest) (*api.ReportPodStatusResponse, error) {
	return toLeader(ctx, c.s,
		func() (*api.ReportPodStatusResponse, error) {
			if c.s.cfg.Transport.TLS != nil {
				if req.GetNode() == "" {
					return nil, status.Error(codes.PermissionDenied, "permission denied: a pod status report must name its node")
				}
				if foreign := foreignPods(req.GetNode(), req.GetUpdates(), c.s.fsm.State().Pod); len(foreign) > 0 {
					return nil, status.Errorf(codes.PermissionDenied, "permission denied: node %q reported on pods bound to other nodes: %s", req.GetNode(), strings.Join(foreign, ", "))
				}
			}
			c.s.leases.renew(req.GetNode(), req.GetIncarnation(), c.s.clock.Now())
			c.s.metrics.LeaseRenewed()
			updates := req.GetUpdates()
			var events []*api.Event
			for _, u := range updates {
				u.Node = req.GetNode()
				events = append(events, c.s.podEvents(u)...)
				u.Events = nil
			}
			_, err := c.s.proposer.Propose(ctx, (&api.UpdatePodStatus{Updates: updates}).Command())
			if err != nil {
				return nil, err
			}
			if len(events) > 0 {
				// The status is what matters; an event lost with a
				// leader is only a line less in describe.
				if _, err := c.s.proposer.Propose(ctx, c.s.similar.eventCommand(events...)); err != nil {
					c.s.logger.Debug("record agent events", "node", req.GetNode(), "err", err)
				}
			}
			return &api.ReportPodStatusResponse{}, nil
		},
		func(cl api.ControlClient, ctx context.Context) (*api.ReportPodStatusResponse, error) {
			return cl.ReportPodStatus(ctx, req)
		})
}

// Heartbeat renews an agent's lease on the leader.
func (c *controlService) Heartbeat(ctx context.Context, req *api.HeartbeatRequest) (*api.HeartbeatResponse, error) {
	return toLeader(ctx, c.s,
		func() (*api.HeartbeatResponse, error) {
			if req.GetStopped() {
				if c.s.leases.stop(req.GetNode(), req.GetIncarnation(), c.s.clock.Now()) {
					c.s.logger.Info("agent died and its guard stopped its pods", "node", req.GetNode())
				}
				return &api.HeartbeatResponse{LeaderRpcAddr: c.s.cfg.RPCAddr}, nil
			}
			c.s.leases.renew(req.GetNode(), req.GetIncarnation(), c.s.clock.Now())
			c.s.usage.record(req.GetNode(), req.GetUsage())
			c.s.metrics.LeaseRenewed()
			return &api.HeartbeatResponse{LeaseMillis: c.s.timing.LeaseTTL.Milliseconds(), LeaderRpcAddr: c.s.cfg.RPCAddr}, nil
		},
		func(cl api.ControlClient, ctx context.Context) (*api.HeartbeatResponse, error) {
			return cl.Heartbeat(ctx, req)
		})
}

// Logs proxies a pod's log from the agent that runs (or ran) it.
func (c *controlService) Logs(req *api.LogsRequest, stream api.Control_LogsServer) error {
	st := c.s.fsm.State()
	pod := st.Pod(req.GetPod())
	if pod == nil || api.NamespaceOf(pod.GetMetadata()) != api.NamespaceOr(req.GetNamespace()) {
		return notFound(api.PodResource, req.GetPod())
	}
	node := pod.GetSpec().GetNodeName()
	if node == "" {
		return status.Errorf(codes.FailedPrecondition, "pod %q has no node yet (it is Pending): no logs to show", req.GetPod())
	}
	addr := agentAddr(c.s.gossip.Members(), node, st.Node(node))
	if addr == "" {
		return c.keptLogs(st, pod, req, stream, fmt.Sprintf("agent %s is gone", node))
	}
	cl, err := c.s.peers.agent(addr)
	if err != nil {
		return c.keptLogs(st, pod, req, stream, fmt.Sprintf("agent %s at %s is unreachable", node, addr))
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	src, err := cl.Logs(ctx, req)
	if err != nil {
		return c.agentLogFailed(st, pod, req, stream, node, addr, err)
	}
	sent := false
	for {
		chunk, err := src.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if !sent {
				return c.agentLogFailed(st, pod, req, stream, node, addr, err)
			}
			return err
		}
		sent = true
		if err := stream.Send(chunk); err != nil {
			return err
		}
	}
}

// agentAddr is the RPC address of the agent of the node name (stored as
// node, nil if not), "" when it cannot be asked: gossip here sees it
// alive or suspect, or, since this server's view of a member that
// returned can lag the leader's, the replicated Node says it is Ready
// (its lease is renewed and the leader's gossip sees it).
func agentAddr(members []gossip.Member, name string, node *api.Node) string {
	for _, m := range members {
		if m.Name != name || m.Meta.GetRpcAddr() == "" {
			continue
		}
		if m.Status == gossip.StatusAlive || m.Status == gossip.StatusSuspect || scheduler.NodeReady(node) {
			return m.Meta.GetRpcAddr()
		}
	}
	return ""
}

// agentLogFailed answers from the servers' tail when the agent could not
// be asked (down, or it no longer holds the pod's log), else passes its
// refusal on.
func (c *controlService) agentLogFailed(st *fsm.State, pod *api.Pod, req *api.LogsRequest, stream api.Control_LogsServer, node, addr string, err error) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return c.keptLogs(st, pod, req, stream, fmt.Sprintf("agent %s at %s is unreachable", node, addr))
	case codes.NotFound:
		container := req.GetContainer()
		if container == "" && len(pod.GetSpec().GetContainers()) > 0 {
			container = pod.GetSpec().GetContainers()[0].GetName()
		}
		if st.LogTail(pod.GetMetadata().GetName(), container, req.GetPrevious()) != nil {
			return c.keptLogs(st, pod, req, stream, fmt.Sprintf("agent %s no longer holds the log", node))
		}
	}
	return err
}

// keptLogs sends the end of the pod's log that its agent shipped to the
// servers, saying on the notice line why and how much it is.
func (c *controlService) keptLogs(st *fsm.State, pod *api.Pod, req *api.LogsRequest, stream api.Control_LogsServer, why string) error {
	name := pod.GetMetadata().GetName()
	container := req.GetContainer()
	if container == "" && len(pod.GetSpec().GetContainers()) > 0 {
		container = pod.GetSpec().GetContainers()[0].GetName()
	}
	t := st.LogTail(name, container, req.GetPrevious())
	if t == nil {
		return status.Errorf(codes.FailedPrecondition, "%s, and the servers keep no log of pod %q", why, name)
	}
	data := t.GetTail().GetData()
	if n := req.TailLines; n != nil {
		data = lastLines(data, int(*n))
	}
	lines := bytes.Count(data, []byte("\n"))
	notice := fmt.Sprintf("(%s; showing the last %d lines kept by the servers)", why, lines)
	if err := stream.Send(&api.LogChunk{Notice: notice}); err != nil {
		return err
	}
	return stream.Send(&api.LogChunk{Data: data})
}

// lastLines keeps the last n lines of b.
func lastLines(b []byte, n int) []byte {
	if n <= 0 {
		return nil
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// maxPodsExistQuery bounds how many pods one PodsExist request may name,
// which keeps each answer a bounded piece of work for the leader.
const maxPodsExistQuery = 2000

// PodsExist tells an agent which of the pods it names the servers still
// hold, so that it can remove the logs of the others, and the index of the
// last removal of a pod: while it stays, the agent need not ask again
// about a pod it was told is held. The leader answers:
// a follower that lags behind could call a pod gone that it has yet to
// learn about. An agent certificate learns only about its own node's
// pods: one this server knows on another node is answered as not held.
func (c *controlService) PodsExist(ctx context.Context, req *api.PodsExistRequest) (*api.PodsExistResponse, error) {
	if n := len(req.GetPods()); n > maxPodsExistQuery {
		return nil, status.Errorf(codes.InvalidArgument, "asked about %d pods, at most %d at a time", n, maxPodsExistQuery)
	}
	resp, err := c.podsExist(ctx, req)
	if caller, ok := callerOf(ctx); ok && err == nil && caller.Role == pki.RoleAgent {
		st := c.s.fsm.State()
		for i, ref := range req.GetPods() {
			// A pod's node never changes once bound, so this server's
			// state may lag behind the leader's without misleading; a pod
			// it still sees unbound is left to the leader's answer.
			_, node, _ := st.PodIdentity(ref.GetName())
			if node != "" && node != caller.Name && i < len(resp.GetExists()) {
				resp.Exists[i] = false
			}
		}
	}
	return resp, err
}

func (c *controlService) podsExist(ctx context.Context, req *api.PodsExistRequest) (*api.PodsExistResponse, error) {
	return toLeader(ctx, c.s,
		func() (*api.PodsExistResponse, error) {
			if err := c.s.readyForReads(ctx); err != nil {
				return nil, err
			}
			st := c.s.fsm.State()
			exists := make([]bool, len(req.GetPods()))
			for i, ref := range req.GetPods() {
				uid, _, ok := st.PodIdentity(ref.GetName())
				exists[i] = ok && (ref.GetUid() == "" || uid == ref.GetUid())
			}
			return &api.PodsExistResponse{Exists: exists, PodsRemovedIndex: st.PodsRemovedIndex()}, nil
		},
		func(cl api.ControlClient, ctx context.Context) (*api.PodsExistResponse, error) {
			return cl.PodsExist(ctx, req)
		})
}

// maxAgentEvents bounds the events one pod status update may record.
const maxAgentEvents = 20

// podEvents turns the events an agent reported with u into events about
// the pod, as kubelet records them; events of a pod the servers no longer
// hold are dropped.
func (s *Server) podEvents(u *api.PodStatusUpdate) []*api.Event {
	reported := u.GetEvents()
	if len(reported) == 0 {
		return nil
	}
	pod := s.fsm.State().Pod(u.GetName())
	if pod == nil || pod.GetMetadata().GetUid() != u.GetUid() {
		return nil
	}
	if len(reported) > maxAgentEvents {
		reported = reported[len(reported)-maxAgentEvents:]
	}
	meta := pod.GetMetadata()
	out := make([]*api.Event, 0, len(reported))
	for _, e := range reported {
		at := s.clock.Now()
		if ts := e.GetLastTimestamp(); ts != nil {
			at = ts.AsTime()
		}
		typ := e.GetType()
		if typ != api.EventTypeWarning {
			typ = api.EventTypeNormal
		}
		out = append(out, event(at, api.PodResource.Kind, meta.GetNamespace(), meta.GetName(), meta.GetUid(),
			typ, truncate(e.GetReason(), 128), truncate(e.GetMessage(), 1024)))
	}
	return out
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
