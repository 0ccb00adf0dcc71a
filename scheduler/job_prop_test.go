package scheduler

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// jobSim plays one random Job through many passes: it applies each plan as
// the cluster would and lets pods start, finish, fail and get lost at random.
type jobSim struct {
	t       *testing.T
	seed    uint64
	rng     *rand.Rand
	job     *api.Job
	pods    []*api.Pod
	now     time.Time
	created int
	// stopReason remembers why each stopped pod was asked to stop.
	stopReason map[string]string
}

func TestReconcileJobInvariants(t *testing.T) {
	const runs = 400
	finished := 0
	for seed := uint64(1); seed <= runs; seed++ {
		s := newJobSim(t, seed)
		if s.run(300) {
			finished++
		}
	}
	// The walk must reach the interesting end states, not stall.
	if finished < runs/2 {
		t.Errorf("only %d of %d random Jobs finished", finished, runs)
	}
}

func newJobSim(t *testing.T, seed uint64) *jobSim {
	rng := rand.New(rand.NewPCG(seed, 7))
	completions := int32(-1)
	if rng.IntN(4) > 0 {
		completions = 1 + rng.Int32N(6)
	}
	job := newJob(rng.Int32N(5), completions, backoffLimit(rng.Int32N(5)), notStarted)
	if completions > 0 && rng.IntN(2) == 0 {
		indexed(job)
	}
	if rng.IntN(3) == 0 {
		onFailure(job)
	}
	if rng.IntN(5) == 0 {
		jobDeadline(30 + rng.Int64N(600))(job)
	}
	if rng.IntN(5) == 0 {
		job.Spec.Template.Spec.ActiveDeadlineSeconds = proto.Int64(5 + rng.Int64N(60))
	}
	if rng.IntN(10) == 0 {
		suspended(job)
	}
	return &jobSim{t: t, seed: seed, rng: rng, job: job, now: t0, stopReason: make(map[string]string)}
}

// run plays up to steps passes and reports whether the Job finished.
func (s *jobSim) run(steps int) bool {
	for range steps {
		in := JobInput{Job: s.job, Pods: s.pods, Now: s.now}
		plan := ReconcileJob(in)
		if diff := cmp.Diff(plan, ReconcileJob(briefInput(in)), protocmp.Transform()); diff != "" {
			s.fail("plan differs when succeeded pods come in brief (-pods +brief):\n%s", diff)
			return false
		}
		if !s.check(plan) {
			return false
		}
		if done, _ := jobFinished(s.job.Status); done {
			return true
		}
		s.apply(plan)
		s.checkApplied(plan)
		s.evolve()
		s.now = s.now.Add(time.Duration(1+s.rng.IntN(20)) * time.Second)
		if !plan.NextCheck.IsZero() && s.rng.IntN(2) == 0 && plan.NextCheck.After(s.now) {
			s.now = plan.NextCheck
		}
	}
	return false
}

func (s *jobSim) fail(format string, args ...any) bool {
	s.t.Helper()
	s.t.Errorf("seed %d at %v: %s", s.seed, s.now.Sub(t0), fmt.Sprintf(format, args...))
	return false
}

// check asserts the invariants of one plan against the state it came from.
func (s *jobSim) check(plan Plan) bool {
	s.t.Helper()
	spec := s.job.Spec
	parallelism := int(spec.GetParallelism())
	c := countPods(s.pods, api.SucceededSum{})
	if done, _ := jobFinished(s.job.Status); done && (len(plan.Create) > 0 || len(plan.Stop) > 0 || plan.Status != nil) {
		return s.fail("finished Job got a plan: %d created, %d stopped, status %v", len(plan.Create), len(plan.Stop), plan.Status)
	}
	if len(plan.Create) > 0 && len(plan.Stop) > 0 {
		return s.fail("pass both creates and stops")
	}
	if c.activeAll()+len(plan.Create) > parallelism {
		return s.fail("%d active + %d created > parallelism %d", c.activeAll(), len(plan.Create), parallelism)
	}
	for _, st := range plan.Stop {
		p := s.pod(st.Name)
		if p == nil || api.IsPodTerminal(p) || isStopping(p) {
			return s.fail("stop of pod %s that is not active", st.Name)
		}
	}
	if spec.Completions != nil && plan.Status != nil && plan.Status.Succeeded > *spec.Completions {
		return s.fail("succeeded %d > completions %d", plan.Status.Succeeded, *spec.Completions)
	}
	if spec.GetCompletionMode() != "Indexed" {
		return true
	}
	held := make(map[int]string)
	for _, p := range s.pods {
		i := api.PodCompletionIndex(p)
		if p.Status.Phase == api.PodSucceeded {
			if other, ok := held[-1-i]; ok {
				return s.fail("index %d succeeded twice: %s and %s", i, other, p.Metadata.Name)
			}
			held[-1-i] = p.Metadata.Name
		}
		if !api.IsPodTerminal(p) {
			held[i] = p.Metadata.Name
		}
	}
	for _, p := range plan.Create {
		i := api.PodCompletionIndex(p)
		if !indexInRange(i, *spec.Completions) {
			return s.fail("created index %d out of range", i)
		}
		if other, ok := held[i]; ok {
			return s.fail("created index %d already held by %s", i, other)
		}
		if other, ok := held[-1-i]; ok {
			return s.fail("created index %d that %s completed", i, other)
		}
		held[i] = "new pod"
	}
	if st := plan.Status; st != nil && int(st.Succeeded) != len(parseIndexes(st.CompletedIndexes, *spec.Completions)) {
		return s.fail("succeeded %d but completedIndexes %q", st.Succeeded, st.CompletedIndexes)
	}
	return true
}

// apply does what the cluster does with a plan.
func (s *jobSim) apply(plan Plan) {
	if plan.Status != nil {
		s.job.Status = plan.Status
	}
	for _, p := range plan.Create {
		p = proto.Clone(p).(*api.Pod)
		s.created++
		p.Metadata.Name = p.Metadata.GenerateName + strconv.Itoa(s.created)
		p.Metadata.CreationTimestamp = ts(s.now)
		s.pods = append(s.pods, p)
	}
	for _, st := range plan.Stop {
		p := s.pod(st.Name)
		p.Metadata.DeletionTimestamp = ts(s.now)
		s.stopReason[st.Name] = st.Reason
	}
}

// checkApplied asserts that the status counts match the pods once the plan
// is applied.
func (s *jobSim) checkApplied(plan Plan) {
	s.t.Helper()
	if plan.Status == nil {
		return
	}
	c := countPods(s.pods, api.SucceededSum{})
	if int(plan.Status.Active) != len(c.active) || int(plan.Status.GetTerminating()) != len(c.stopping) {
		s.fail("status active %d terminating %d, pods active %d stopping %d",
			plan.Status.Active, plan.Status.GetTerminating(), len(c.active), len(c.stopping))
	}
}

// evolve lets time act on the pods: they start, end, restart, get lost,
// and stopped pods end; sometimes the Job is suspended or resumed.
func (s *jobSim) evolve() {
	onFailure := s.job.Spec.Template.Spec.RestartPolicy == "OnFailure"
	for _, p := range s.pods {
		if api.IsPodTerminal(p) {
			continue
		}
		r := s.rng.Float64()
		switch {
		case isStopping(p):
			if r < 0.6 {
				s.end(p, api.PodFailed, s.stopReason[p.Metadata.Name])
			}
		case r < 0.02:
			s.end(p, api.PodFailed, api.ReasonNodeLost)
		case p.Status.Phase == api.PodPending:
			if r < 0.5 {
				p.Status.Phase = api.PodRunning
				p.Status.StartTime = ts(s.now)
			}
		case r < 0.25:
			s.end(p, api.PodSucceeded, "")
		case r < 0.35 && onFailure:
			p.Status.ContainerStatuses = []*api.ContainerStatus{{Name: "main", RestartCount: restartCount(p) + 1}}
		case r < 0.35:
			s.end(p, api.PodFailed, "Error")
		}
	}
	if s.rng.IntN(30) == 0 {
		s.job.Spec.Suspend = proto.Bool(!s.job.Spec.GetSuspend())
	}
}

func (s *jobSim) end(p *api.Pod, phase, reason string) {
	p.Status.Phase = phase
	p.Status.Reason = reason
	p.Status.ContainerStatuses = []*api.ContainerStatus{{
		Name: "main", RestartCount: restartCount(p),
		State: &api.ContainerState{Terminated: &api.ContainerStateTerminated{FinishedAt: ts(s.now)}},
	}}
}

func (s *jobSim) pod(name string) *api.Pod {
	for _, p := range s.pods {
		if p.Metadata.Name == name {
			return p
		}
	}
	return nil
}

func restartCount(p *api.Pod) int32 {
	var n int32
	for _, cs := range p.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	return n
}
