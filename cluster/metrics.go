package cluster

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/scheduler"
)

// withMetrics makes the server's gRPC calls measured by the registry's
// gRPC metrics, ahead of any interceptors the config already names.
func withMetrics(cfg Config, reg *metrics.Registry) Config {
	g := reg.GRPC()
	cfg.Transport.UnaryInterceptors = append([]grpc.UnaryServerInterceptor{g.UnaryInterceptor}, cfg.Transport.UnaryInterceptors...)
	cfg.Transport.StreamInterceptors = append([]grpc.StreamServerInterceptor{g.StreamInterceptor}, cfg.Transport.StreamInterceptors...)
	return cfg
}

// applyObserver counts what the state machine applies: every server counts
// each outcome once, as it applies the entry recording it. Entries up to
// the last one the server had in its log when it started were counted by
// the process before (or belong to history), and are not counted again
// when replayed.
type applyObserver struct {
	m     *metrics.Server
	after uint64
}

func (o *applyObserver) JobFinished(index uint64, job *api.Job) {
	if index <= o.after {
		return
	}
	typ, _ := api.JobFinished(job)
	result := metrics.ResultSucceeded
	if typ == api.JobFailed {
		result = metrics.ResultFailed
	}
	mode := job.GetSpec().GetCompletionMode()
	if mode == "" {
		mode = api.CompletionModeNonIndexed
	}
	var cron string
	for _, ref := range job.GetMetadata().GetOwnerReferences() {
		if ref.GetKind() == api.CronJobResource.Kind {
			cron = ref.GetName()
		}
	}
	o.m.JobFinished(mode, result, api.FindJobCondition(job.GetStatus(), typ).GetReason(), cron)
}

func (o *applyObserver) PodFinished(index uint64, pod *api.Pod) {
	if index <= o.after {
		return
	}
	result := metrics.ResultSucceeded
	if pod.GetStatus().GetPhase() == api.PodFailed {
		result = metrics.ResultFailed
	}
	o.m.PodFinished(result, pod.GetStatus().GetReason())
}

func (o *applyObserver) PodsCreated(index uint64, n int) {
	if index > o.after {
		o.m.PodsCreated(n)
	}
}

func (o *applyObserver) CronDecided(index uint64, d *api.CronDecision, created bool) {
	if index <= o.after {
		return
	}
	action := d.GetAction()
	switch {
	case action == scheduler.CronCreated && !created:
		return // its Job existed: decided before, only the status lagged
	case created && len(d.GetReplaceJobs()) > 0:
		action = "Replaced"
	}
	skew := time.Duration(-1)
	if created {
		skew = max(d.GetJob().GetMetadata().GetCreationTimestamp().AsTime().Sub(d.GetScheduledTime().AsTime()), 0)
	}
	o.m.CronDecided(action, skew)
}

func (o *applyObserver) PodStarted(index uint64, pod *api.Pod, job *api.Job) {
	if index <= o.after {
		return
	}
	scheduled, err := time.Parse(time.RFC3339, job.GetMetadata().GetAnnotations()[api.AnnotationCronJobScheduledTimestamp])
	if err != nil {
		return // not a CronJob's
	}
	if started := fsm.StartedAt(pod); !started.IsZero() {
		o.m.CronPodStarted(started.Sub(scheduled))
	}
}

// measuredFSM times what Raft asks of the state machine.
type measuredFSM struct {
	*fsm.FSM
	m *metrics.Server
}

func (f measuredFSM) Apply(l *raft.Log) any {
	start := time.Now()
	res := f.FSM.Apply(l)
	f.m.Applied(time.Since(start))
	return res
}

func (f measuredFSM) Snapshot() (raft.FSMSnapshot, error) {
	snap, err := f.FSM.Snapshot()
	if err != nil {
		return nil, err
	}
	return measuredSnapshot{FSMSnapshot: snap, m: f.m}, nil
}

func (f measuredFSM) Restore(rc io.ReadCloser) error {
	if err := f.FSM.Restore(rc); err != nil {
		return err
	}
	f.m.SnapshotRestored()
	return nil
}

type measuredSnapshot struct {
	raft.FSMSnapshot
	m *metrics.Server
}

func (s measuredSnapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	if err := s.FSMSnapshot.Persist(sink); err != nil {
		return err
	}
	s.m.SnapshotPersisted(time.Since(start))
	return nil
}

// metricsState is the server's view at a scrape. It reads counts the
// state machine keeps and live objects only, never the finished Jobs.
func (s *Server) metricsState() metrics.ServerState {
	out := metrics.ServerState{
		Leader:       s.IsLeader(),
		Term:         s.raft.CurrentTerm(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.fsm.AppliedIndex(),
		LastContact:  -1,
		Members:      map[metrics.MemberKey]int{},
	}
	_, id := s.raft.LeaderWithID()
	out.LeaderKnown = id != ""
	if out.Leader {
		out.LastContact = 0
	} else if t := s.raft.LastContact(); !t.IsZero() {
		out.LastContact = time.Since(t)
	}
	for _, m := range s.gossip.Members() {
		out.Members[metrics.MemberKey{Role: m.Meta.GetRole(), Status: m.Status}]++
	}
	c := s.fsm.Counts()
	out.Jobs = metrics.JobCounts{Active: c.ActiveJobs, Suspended: c.SuspendedJobs, Finished: c.FinishedJobs}
	out.Pods = metrics.PodCounts{Pending: c.PendingPods, Running: c.RunningPods, Finished: c.FinishedPods}

	st := s.fsm.State()
	for _, p := range st.UnboundPods() {
		if podUnschedulable(p) {
			out.Unschedulable++
		} else {
			out.Unbound++
		}
	}
	nodes := st.Nodes()
	var bound []*api.Pod
	for _, n := range nodes {
		pods, _ := st.LivePodsOnNode(n.GetMetadata().GetName())
		bound = append(bound, pods...)
	}
	for _, l := range scheduler.NewPlacer(nodes, bound).Loads() {
		out.Nodes = append(out.Nodes, metrics.NodeState{
			Name: l.Name, Ready: l.Ready,
			CPUMillis: l.CPUMillis, CPUUsed: l.UsedCPUMillis,
			MemoryBytes: l.MemoryBytes, MemUsed: l.UsedMemory,
			Pods: l.Pods, PodsUsed: l.UsedPods,
		})
	}
	for _, cj := range st.CronJobs() {
		out.CronJobs = append(out.CronJobs, metrics.CronJobState{Name: cj.GetMetadata().GetName(), Next: nextSchedule(cj)})
	}
	return out
}

// podUnschedulable reports a pod that no node could take when last tried.
func podUnschedulable(p *api.Pod) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == api.PodScheduled && c.GetStatus() == api.ConditionFalse {
			return true
		}
	}
	return false
}

// nextSchedule is a CronJob's next scheduled time: the first after the
// last one decided (or its creation), which is in the past when the cron
// controller falls behind. It is zero when the CronJob is suspended or its
// schedule or time zone does not parse.
func nextSchedule(cj *api.CronJob) time.Time {
	if cj.GetSpec().GetSuspend() {
		return time.Time{}
	}
	loc, err := api.CronLocation(cj)
	if err != nil {
		return time.Time{}
	}
	sched, _, err := scheduler.ParseSchedule(cj.GetSpec().GetSchedule())
	if err != nil {
		return time.Time{}
	}
	from := cj.GetMetadata().GetCreationTimestamp().AsTime()
	if last := cj.GetStatus().GetLastScheduleTime(); last != nil {
		from = last.AsTime()
	}
	return sched.Next(from.In(loc))
}

// ReadyChecks are the server's readiness conditions: it knows a leader,
// and its state machine has applied the log up to the commit index it
// knows (as reads require).
func (s *Server) ReadyChecks() []metrics.Check {
	return []metrics.Check{
		{Name: "leader", Run: func() error {
			if _, id := s.raft.LeaderWithID(); id != "" {
				return nil
			}
			if last, term := s.lastLeader.get(); last != "" {
				return fmt.Errorf("no leader known (last %s in term %d)", last, term)
			}
			return errors.New("no leader known")
		}},
		{Name: "applied", Run: func() error {
			if applied, target := s.replayProgress(); applied < target {
				return fmt.Errorf("applied %d of %d", applied, target)
			}
			return nil
		}},
	}
}
