package cluster

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/scheduler"
)

// idleRecheck bounds how long the job controller sleeps with nothing due.
const idleRecheck = 5 * time.Second

// jobControllerLoop runs a pass over every live Job whenever the state
// changes or a time the last pass asked for (back-off, deadline, TTL)
// arrives. Each pass proposes its decisions in one batch and waits for
// them to be applied, so the next pass sees them.
func (s *Server) jobControllerLoop(ctx context.Context) {
	s.passLoop(ctx, idleRecheck, func(ctx context.Context, now time.Time) time.Time {
		start := time.Now()
		defer func() { s.metrics.JobSynced(time.Since(start)) }()
		return s.reconcileJobs(ctx, now)
	})
}

// jobPass collects the commands of one controller pass.
type jobPass struct {
	now    time.Time
	m      *metrics.Server
	placer *scheduler.Placer
	create []*api.Pod
	binds  []*api.PodBinding
	stops  map[string]*api.StopPods
	cmds   []*api.Command
	events []*api.Event
	next   time.Time

	// similar combines the pass's similar events.
	similar *similarEvents
}

// newJobPass starts a pass at now, placing on the nodes of st.
func (s *Server) newJobPass(st *fsm.State, now time.Time) *jobPass {
	p := &jobPass{now: now, m: s.metrics, similar: &s.similar, stops: map[string]*api.StopPods{}}
	nodes := st.Nodes()
	var bound []*api.Pod
	for _, n := range nodes {
		pods, _ := st.LivePodsOnNode(n.GetMetadata().GetName())
		bound = append(bound, pods...)
	}
	p.placer = scheduler.NewPlacer(nodes, bound)
	return p
}

// firstPods is what the job controller's first pass over Jobs about to be
// created would propose: their first pods, placed, their status and
// events, for the submit to propose with the Jobs in one Raft entry. The
// caller holds s.placing until that entry is applied.
func (s *Server) firstPods(st *fsm.State, jobs []*api.Job, now time.Time) []*api.Command {
	p := s.newJobPass(st, now)
	for _, job := range jobs {
		s.reconcileJob(st, p, job)
	}
	for _, pod := range p.create {
		p.place(pod)
	}
	return p.commands()
}

func (s *Server) reconcileJobs(ctx context.Context, now time.Time) time.Time {
	s.placing.Lock()
	defer s.placing.Unlock()
	st := s.fsm.State()
	p := s.newJobPass(st, now)
	for _, job := range st.LiveJobs() {
		s.reconcileJob(st, p, job)
	}
	s.placeUnbound(st, p)

	cmds := p.commands()
	if len(cmds) == 0 {
		return p.next
	}
	errs, err := s.proposer.Propose(ctx, cmds...)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("propose job controller decisions", "err", err)
		}
		// Try again soon; the state tells what went through.
		return now.Add(100 * time.Millisecond)
	}
	for _, e := range errs {
		if e != nil {
			s.logger.Debug("job controller command refused", "err", e)
		}
	}
	return p.next
}

func (s *Server) reconcileJob(st *fsm.State, p *jobPass, job *api.Job) {
	ns, name := job.GetMetadata().GetNamespace(), job.GetMetadata().GetName()
	pods, succeeded := st.JobPods(ns, name)
	plan := scheduler.ReconcileJob(scheduler.JobInput{Job: job, Pods: pods, Succeeded: succeeded, Now: p.now})
	if !plan.NextCheck.IsZero() && (p.next.IsZero() || plan.NextCheck.Before(p.next)) {
		p.next = plan.NextCheck
	}
	uid := job.GetMetadata().GetUid()
	for _, pod := range plan.Create {
		pod.Metadata.Name = pod.GetMetadata().GetGenerateName() + nameSuffix()
		pod.Metadata.Uid = newUID()
		pod.Metadata.CreationTimestamp = timestamppb.New(p.now)
		if pod.Status == nil {
			pod.Status = &api.PodStatus{Phase: api.PodPending}
		}
		p.create = append(p.create, pod)
		p.events = append(p.events, event(p.now, api.JobResource.Kind, ns, name, uid, api.EventTypeNormal, api.ReasonSuccessfulCreate,
			"Created pod: "+pod.GetMetadata().GetName()))
	}
	for _, stop := range plan.Stop {
		key := stop.Reason + "\x00" + stop.Message
		sp, ok := p.stops[key]
		if !ok {
			sp = &api.StopPods{Reason: stop.Reason, Message: stop.Message, Time: timestamppb.New(p.now)}
			p.stops[key] = sp
		}
		sp.Names = append(sp.Names, stop.Name)
	}
	if plan.Status != nil {
		p.cmds = append(p.cmds, (&api.UpdateJobStatus{
			Namespace: ns, Name: name, Uid: uid, Status: plan.Status,
		}).Command())
		if c, done := api.JobFinished(&api.Job{Status: plan.Status}); done {
			if _, wasDone := api.JobFinished(job); !wasDone {
				s.logger.Info("job finished", "namespace", ns, "job", name, "condition", c,
					"succeeded", plan.Status.GetSucceeded(), "failed", plan.Status.GetFailed())
			}
		}
	}
	for _, e := range plan.Events {
		p.events = append(p.events, event(p.now, api.JobResource.Kind, ns, name, uid, e.Type, e.Reason, e.Message))
	}
	if plan.DeleteJob {
		p.cmds = append(p.cmds, (&api.DeleteJob{Namespace: ns, Name: name, Uid: uid}).Command())
	}
}

// place binds a new pod to a node, or marks it unschedulable with the
// scheduler's reason.
func (p *jobPass) place(pod *api.Pod) {
	node, reason := p.placer.Place(pod)
	p.m.Placed(node != "", 0)
	if pod.Status == nil {
		pod.Status = &api.PodStatus{Phase: api.PodPending}
	}
	ts := timestamppb.New(p.now)
	if node != "" {
		pod.Spec.NodeName = node
		pod.Status.Conditions = []*api.PodCondition{{Type: api.PodScheduled, Status: api.ConditionTrue, LastTransitionTime: ts}}
		return
	}
	pod.Status.Conditions = []*api.PodCondition{{
		Type: api.PodScheduled, Status: api.ConditionFalse, Reason: api.ReasonUnschedulable, Message: reason, LastTransitionTime: ts,
	}}
	p.events = append(p.events, event(p.now, api.PodResource.Kind, pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName(), pod.GetMetadata().GetUid(),
		api.EventTypeWarning, "FailedScheduling", reason))
}

// placeUnbound offers free capacity to the pods this pass created and to
// those that found no node before, a bounded number per pass, taking turns
// between Jobs (scheduler.FairOrder).
func (s *Server) placeUnbound(st *fsm.State, p *jobPass) {
	created := make(map[*api.Pod]bool, len(p.create))
	waiting := make([]*api.Pod, 0, len(p.create))
	for _, pod := range p.create {
		created[pod] = true
		waiting = append(waiting, pod)
	}
	for _, pod := range st.UnboundPods() {
		if pod.GetMetadata().GetDeletionTimestamp() == nil {
			waiting = append(waiting, pod)
		}
	}
	var updates []*api.PodStatusUpdate
	for _, pod := range scheduler.FairOrder(waiting, scheduler.MaxPlacementsPerPass) {
		if created[pod] {
			p.place(pod)
			continue
		}
		node, reason := p.placer.Place(pod)
		p.m.Placed(node != "", p.now.Sub(pod.GetMetadata().GetCreationTimestamp().AsTime()))
		name := pod.GetMetadata().GetName()
		if node != "" {
			p.binds = append(p.binds, &api.PodBinding{Pod: name, Node: node})
			p.events = append(p.events, event(p.now, api.PodResource.Kind, pod.GetMetadata().GetNamespace(), name, pod.GetMetadata().GetUid(), api.EventTypeNormal, "Scheduled",
				fmt.Sprintf("Successfully assigned %s/%s to %s", api.NamespaceOf(pod.GetMetadata()), name, node)))
			continue
		}
		var old string
		for _, c := range pod.GetStatus().GetConditions() {
			if c.GetType() == api.PodScheduled {
				old = c.GetMessage()
			}
		}
		if old == reason {
			continue
		}
		updates = append(updates, &api.PodStatusUpdate{Name: name, Uid: pod.GetMetadata().GetUid(), Status: &api.PodStatus{
			Phase: api.PodPending,
			Conditions: []*api.PodCondition{{
				Type: api.PodScheduled, Status: api.ConditionFalse, Reason: api.ReasonUnschedulable, Message: reason,
				LastTransitionTime: timestamppb.New(p.now),
			}},
		}})
		p.events = append(p.events, event(p.now, api.PodResource.Kind, pod.GetMetadata().GetNamespace(), name, pod.GetMetadata().GetUid(), api.EventTypeWarning, "FailedScheduling", reason))
	}
	if len(updates) > 0 {
		p.cmds = append(p.cmds, (&api.UpdatePodStatus{Updates: updates}).Command())
	}
}

// commands orders a pass's decisions: new pods first, so the status that
// counts them lands with them, then bindings, stops, the rest and events.
func (p *jobPass) commands() []*api.Command {
	var out []*api.Command
	if len(p.create) > 0 {
		out = append(out, (&api.CreatePods{Pods: p.create}).Command())
	}
	if len(p.binds) > 0 {
		out = append(out, (&api.BindPods{Bindings: p.binds, Time: timestamppb.New(p.now)}).Command())
	}
	keys := make([]string, 0, len(p.stops))
	for k := range p.stops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, p.stops[k].Command())
	}
	out = append(out, p.cmds...)
	if len(p.events) > 0 {
		out = append(out, p.similar.eventCommand(p.events...))
	}
	return out
}
