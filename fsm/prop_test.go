package fsm

import (
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// propJobs are the Jobs random command sequences work on, by name.
var propJobs = map[string][]jobOpt{
	"plain":  {parallelism(2), completions(4)},
	"idx":    {parallelism(3), completions(5), indexed()},
	"queue":  {parallelism(3), workQueue()},
	"single": nil,
	"wide":   {parallelism(4), completions(2)},
	// perindex has backoffLimitPerIndex: its status may record failed
	// indexes, which get no new pod.
	"perindex": {parallelism(3), completions(5), indexed(), func(j *api.Job) { j.Spec.BackoffLimitPerIndex = proto.Int32(1) }},
}

var propJobNames = []string{"idx", "perindex", "plain", "queue", "single", "wide"}

// commandGen makes random, often stale or repeated, command batches: what
// a deposed leader, a retried proposal or a confused node could send.
type commandGen struct {
	r       *rand.Rand
	gen     map[string]int // how often each Job was created again
	podSeq  int
	minute  int // the cron controller's clock, in minutes after t0
	history [][]*api.Command
	// recreated marks a batch that deletes and creates a Job again: a
	// user's doing, never replayed (a replay would make the same uids anew).
	recreated bool
}

func (g *commandGen) job(name string, gen int, opts ...jobOpt) *api.Job {
	j := newJob(name, append(append([]jobOpt{}, propJobs[name]...), opts...)...)
	j.Metadata.Uid = fmt.Sprintf("uid-%s-%d", name, gen)
	return j
}

func (g *commandGen) pick(list []string) string { return list[g.r.Intn(len(list))] }

// somePods names up to n pods of the state, and now and then one that does
// not exist.
func (g *commandGen) somePods(s *State, n int) []string {
	all := names(s.Pods())
	var out []string
	for range 1 + g.r.Intn(n) {
		if len(all) == 0 || g.r.Intn(10) == 0 {
			out = append(out, fmt.Sprintf("p%d", g.r.Intn(g.podSeq+1)))
			continue
		}
		out = append(out, g.pick(all))
	}
	return out
}

func (g *commandGen) batch(s *State) []*api.Command {
	if len(g.history) > 0 && g.r.Intn(10) == 0 {
		return g.history[g.r.Intn(len(g.history))] // a replay
	}
	var cmds []*api.Command
	for range 1 + g.r.Intn(3) {
		cmds = append(cmds, g.command(s)...)
	}
	if !g.recreated {
		g.history = append(g.history, cmds)
	}
	g.recreated = false
	return cmds
}

func (g *commandGen) command(s *State) []*api.Command {
	name := g.pick(propJobNames)
	uidGen := g.gen[name]
	if uidGen > 0 && g.r.Intn(5) == 0 {
		uidGen-- // decided before the Job was created again
	}
	nodes := []string{"n1", "n2", "gone"}
	switch n := g.r.Intn(100); {
	case n < 25:
		job := g.job(name, uidGen)
		var ps []*api.Pod
		for range 1 + g.r.Intn(4) {
			g.podSeq++
			podName := fmt.Sprintf("p%d", g.podSeq)
			if g.r.Intn(10) == 0 {
				podName = fmt.Sprintf("p%d", g.r.Intn(g.podSeq))
			}
			index := -1
			if name == "idx" || name == "perindex" || g.r.Intn(4) == 0 {
				index = g.r.Intn(7) - 1
			}
			ps = append(ps, newPod(job, podName, index))
		}
		return []*api.Command{createPods(ps...)}
	case n < 50:
		var us []*api.PodStatusUpdate
		for _, p := range g.somePods(s, 3) {
			node := g.pick(nodes[:2])
			if bound := s.Pod(p).GetSpec().GetNodeName(); bound != "" && g.r.Intn(4) > 0 {
				node = bound
			} else if g.r.Intn(3) == 0 {
				node = ""
			}
			u := phase(p, node, g.pick([]string{api.PodPending, api.PodRunning, api.PodRunning, api.PodSucceeded, api.PodFailed}))
			if g.r.Intn(5) == 0 {
				u.Status.Reason = g.pick([]string{api.ReasonNodeLost, "Error"})
			}
			us = append(us, u)
		}
		return []*api.Command{updatePodStatus(us...)}
	case n < 60:
		var pairs []string
		for _, p := range g.somePods(s, 3) {
			pairs = append(pairs, p, g.pick(nodes))
		}
		return []*api.Command{bindPods(g.r.Intn(1000), pairs...)}
	case n < 68:
		return []*api.Command{stopPods(g.pick([]string{"ExcessPod", "DeadlineExceeded", "JobSuspended"}), g.r.Intn(1000), g.somePods(s, 2)...)}
	case n < 71:
		return []*api.Command{deletePods(g.somePods(s, 1)...)}
	case n < 79:
		st := &api.JobStatus{Active: g.r.Int31n(5), Succeeded: g.r.Int31n(5), Failed: g.r.Int31n(5)}
		if cond := g.pick([]string{"", "", "", api.JobSuspended, api.JobFailureTarget, api.JobSuccessCriteriaMet, api.JobComplete, api.JobFailed}); cond != "" {
			st.Conditions = []*api.JobCondition{{Type: cond, Status: g.pick([]string{"True", "True", "False"})}}
		}
		if name == "perindex" {
			st.FailedIndexes = proto.String(g.pick([]string{"", "0", "1,3", "0-2", "4"}))
		}
		return []*api.Command{updateJobStatus(name, g.job(name, uidGen).GetMetadata().GetUid(), st)}
	case n < 85:
		return []*api.Command{upsertJob(g.job(name, g.gen[name], func(j *api.Job) { j.Spec.Suspend = proto.Bool(g.r.Intn(3) == 0) }), g.r.Intn(2) == 0)}
	case n < 87:
		g.gen[name]++
		g.recreated = true
		return []*api.Command{deleteJob(name, ""), upsertJob(g.job(name, g.gen[name]), true)}
	case n < 93:
		m := g.minute
		if g.r.Intn(4) == 0 && m > 0 {
			m = g.r.Intn(m) // a stale decision
		} else {
			g.minute += 1 + g.r.Intn(2)
			m = g.minute
		}
		switch g.r.Intn(4) {
		case 0:
			return []*api.Command{cronDecision("tick", m, "MissSchedule", nil)}
		case 1:
			return []*api.Command{cronDecision("tick", m, "Created", cronJobAt("tick", m), names(s.JobsOfCronJob("", "tick"))...)}
		default:
			return []*api.Command{cronDecision("tick", m, "Created", cronJobAt("tick", m))}
		}
	case n < 95:
		if jobs := names(s.JobsOfCronJob("", "tick")); len(jobs) > 0 {
			return []*api.Command{deleteJob(g.pick(jobs), "")}
		}
		return nil
	case n < 98:
		return []*api.Command{recordEvents(newEvent(fmt.Sprintf("%s.e%d", name, g.r.Intn(3)), "Job", name, "Tick", g.r.Intn(1000)))}
	default:
		node := g.pick(nodes[:2])
		if g.r.Intn(2) == 0 {
			return []*api.Command{deleteNode(node)}
		}
		return []*api.Command{upsertNode(newNode(node))}
	}
}

// checkInvariants compares the state before and after one log entry.
func checkInvariants(prev, next *State) error {
	for _, job := range next.Jobs() {
		name, uid := job.GetMetadata().GetName(), job.GetMetadata().GetUid()
		active, succeeded := 0, 0
		doneIndexes := map[string]int{}
		for _, p := range next.PodsOfJob("", name) {
			if got := p.GetMetadata().GetLabels()[api.LabelControllerUID]; got != uid {
				return fmt.Errorf("pod %s of job %s has uid %s, job has %s", p.GetMetadata().GetName(), name, got, uid)
			}
			switch p.GetStatus().GetPhase() {
			case api.PodSucceeded:
				succeeded++
				doneIndexes[p.GetMetadata().GetLabels()[api.LabelCompletionIndex]]++
			case api.PodFailed:
			default:
				active++
			}
		}
		if par := int(api.JobParallelism(job)); active > par {
			return fmt.Errorf("job %s: %d pods not finished, parallelism %d", name, active, par)
		}
		if c, ok := api.JobCompletions(job); ok {
			if succeeded > int(c) {
				return fmt.Errorf("job %s: %d pods succeeded, completions %d", name, succeeded, c)
			}
			if active+succeeded > int(c) {
				return fmt.Errorf("job %s: %d active and %d succeeded, completions %d", name, active, succeeded, c)
			}
		}
		if job.GetSpec().GetCompletionMode() == api.CompletionModeIndexed {
			for idx, n := range doneIndexes {
				if n > 1 {
					return fmt.Errorf("job %s: index %q succeeded %d times", name, idx, n)
				}
			}
		}
		if _, done := api.JobFinished(job); !done {
			if err := checkSum(next, name); err != nil {
				return err
			}
		}
		before := prev.Job("", name)
		if before.GetMetadata().GetUid() != uid {
			continue
		}
		_, finished := api.JobFinished(before)
		if finished && !proto.Equal(before.GetStatus(), job.GetStatus()) {
			return fmt.Errorf("job %s: a finished Job's status changed:\n%s", name, diffObjects(before.GetStatus(), job.GetStatus()))
		}
		// An index failed before and after the entry gets no new pod. (The
		// controller never un-fails an index; random status updates may.)
		failedBefore, _ := api.ParseCompletedIndexes(before.GetStatus().GetFailedIndexes())
		failedAfter, _ := api.ParseCompletedIndexes(job.GetStatus().GetFailedIndexes())
		for _, p := range next.PodsOfJob("", name) {
			index, err := strconv.Atoi(p.GetMetadata().GetLabels()[api.LabelCompletionIndex])
			if err == nil && prev.Pod(p.GetMetadata().GetName()) == nil && slices.Contains(failedBefore, index) && slices.Contains(failedAfter, index) {
				return fmt.Errorf("job %s: pod %s created for failed index %d", name, p.GetMetadata().GetName(), index)
			}
		}
		blocked := finished || jobEnding(before) || before.GetSpec().GetSuspend() && job.GetSpec().GetSuspend()
		if before.GetSpec().Completions == nil {
			for _, p := range prev.PodsOfJob("", name) {
				if p.GetStatus().GetPhase() == api.PodSucceeded && next.Pod(p.GetMetadata().GetName()) != nil {
					blocked = true // a work queue with a success starts nothing
				}
			}
		}
		if blocked {
			for _, p := range next.PodsOfJob("", name) {
				if prev.Pod(p.GetMetadata().GetName()) == nil {
					return fmt.Errorf("job %s: pod %s created though the Job was finished, ending, suspended or done", name, p.GetMetadata().GetName())
				}
			}
		}
	}
	for _, before := range prev.Pods() {
		after := next.Pod(before.GetMetadata().GetName())
		if after == nil || after.GetMetadata().GetUid() != before.GetMetadata().GetUid() {
			continue
		}
		if api.IsPodTerminal(before) && !proto.Equal(before.GetStatus(), after.GetStatus()) {
			return fmt.Errorf("pod %s: a finished pod changed:\n%s", before.GetMetadata().GetName(), diffObjects(before.GetStatus(), after.GetStatus()))
		}
		if node := before.GetSpec().GetNodeName(); node != "" && after.GetSpec().GetNodeName() != node {
			return fmt.Errorf("pod %s moved from node %s to %q", before.GetMetadata().GetName(), node, after.GetSpec().GetNodeName())
		}
	}
	return nil
}

// checkSum checks that JobPods gives a running Job's pods whole or counts
// them in its sum, and that the sum, kept as pods come and go, is what its
// Succeeded pods add up to.
func checkSum(s *State, job string) error {
	whole, sum := s.JobPods("", job)
	inWhole := map[string]bool{}
	for _, p := range whole {
		inWhole[p.GetMetadata().GetName()] = true
	}
	var want api.SucceededSum
	for _, p := range s.PodsOfJob("", job) {
		if inWhole[p.GetMetadata().GetName()] {
			continue
		}
		if p.GetStatus().GetPhase() != api.PodSucceeded {
			return fmt.Errorf("job %s: pod %s, %s, neither whole nor summed", job, p.GetMetadata().GetName(), p.GetStatus().GetPhase())
		}
		want.Add(api.BriefOfSucceeded(p))
	}
	slices.Sort(want.Indexes)
	want.Indexes = slices.Compact(want.Indexes)
	if !cmp.Equal(want, sum, cmpopts.EquateEmpty()) {
		return fmt.Errorf("job %s: sum of its succeeded pods (-want +got):\n%s", job, cmp.Diff(want, sum, cmpopts.EquateEmpty()))
	}
	return nil
}

func TestInvariantsUnderRandomCommands(t *testing.T) {
	seeds, steps := 40, 250
	if testing.Short() {
		seeds = 8
	}
	for seed := range int64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			r := rand.New(rand.NewSource(seed))
			g := &commandGen{r: r, gen: map[string]int{}}
			h := newHarness(t)
			setup := []*api.Command{upsertNode(newNode("n1")), upsertNode(newNode("n2")), upsertCronJob(newCronJob("tick"), true)}
			for _, name := range propJobNames {
				setup = append(setup, upsertJob(g.job(name, 0), true))
			}
			h.must(setup...)
			cronJobsSeen, cronJobsGone := map[string]bool{}, map[string]bool{}
			for step := range steps {
				prev := h.state()
				batch := g.batch(prev)
				h.apply(batch...)
				next := h.state()
				if err := checkInvariants(prev, next); err != nil {
					t.Fatalf("step %d, after %s: %v", step, describe(batch), err)
				}
				for _, j := range next.JobsOfCronJob("", "tick") {
					if cronJobsGone[j.GetMetadata().GetName()] {
						t.Fatalf("step %d: cron Job %s created again after it was removed", step, j.GetMetadata().GetName())
					}
					cronJobsSeen[j.GetMetadata().GetName()] = true
				}
				for n := range cronJobsSeen {
					if next.Job("", n) == nil {
						cronJobsGone[n] = true
					}
				}
				if r.Intn(8) == 0 {
					g2 := restored(t, h.f)
					if diff := equalTables(dump(next), dump(g2.State())); diff != "" {
						t.Fatalf("step %d: restored state differs: %s", step, diff)
					}
					if diff := cmp.Diff(ask(next), ask(g2.State())); diff != "" {
						t.Fatalf("step %d: restored indexes differ (-want +got):\n%s", step, diff)
					}
					if r.Intn(2) == 0 {
						h.f = g2 // carry on from the restored copy
					}
				}
			}
		})
	}
}

func describe(batch []*api.Command) string {
	out := ""
	for _, c := range batch {
		out += c.GetType().String() + " "
	}
	return out
}

// A leader that lost its leadership may still have a CreatePods in flight
// that was decided from an old view. Applied after newer state it must not
// push the Job past its limits.
func TestStaleCreatePodsFromDeposedLeader(t *testing.T) {
	tests := []struct {
		name string
		job  *api.Job
		// newer is what the new leader did; stale is the old leader's batch.
		newer       func(job *api.Job) []*api.Command
		stale       func(job *api.Job) []*api.Pod
		wantActive  int
		wantSuccess int
	}{
		{
			name: "both leaders filled parallelism",
			job:  newJob("j", parallelism(2), completions(10)),
			newer: func(j *api.Job) []*api.Command {
				return []*api.Command{createPods(newPod(j, "new-0", -1), newPod(j, "new-1", -1))}
			},
			stale:      func(j *api.Job) []*api.Pod { return []*api.Pod{newPod(j, "old-0", -1), newPod(j, "old-1", -1)} },
			wantActive: 2,
		},
		{
			name: "the new leader already reached completions",
			job:  newJob("j", parallelism(2), completions(2)),
			newer: func(j *api.Job) []*api.Command {
				return []*api.Command{
					createPods(newPod(j, "new-0", -1), newPod(j, "new-1", -1)),
					updatePodStatus(phase("new-0", "", api.PodSucceeded), phase("new-1", "", api.PodSucceeded)),
				}
			},
			stale:       func(j *api.Job) []*api.Pod { return []*api.Pod{newPod(j, "old-0", -1), newPod(j, "old-1", -1)} },
			wantSuccess: 2,
		},
		{
			name: "the new leader finished the job",
			job:  newJob("j", parallelism(2), completions(3)),
			newer: func(j *api.Job) []*api.Command {
				return []*api.Command{updateJobStatus("j", "uid-j", &api.JobStatus{Conditions: []*api.JobCondition{{Type: api.JobFailed, Status: "True"}}})}
			},
			stale: func(j *api.Job) []*api.Pod { return []*api.Pod{newPod(j, "old-0", -1)} },
		},
		{
			name: "the job was deleted and created again",
			job:  newJob("j", parallelism(2), completions(3)),
			newer: func(j *api.Job) []*api.Command {
				again := newJob("j", parallelism(2), completions(3))
				again.Metadata.Uid = "uid-j-2"
				return []*api.Command{deleteJob("j", "uid-j"), upsertJob(again, true)}
			},
			stale: func(j *api.Job) []*api.Pod { return []*api.Pod{newPod(j, "old-0", -1)} },
		},
		{
			name: "indexed: the new leader runs and finished the indexes",
			job:  newJob("j", parallelism(2), completions(2), indexed()),
			newer: func(j *api.Job) []*api.Command {
				return []*api.Command{
					createPods(newPod(j, "new-0", 0), newPod(j, "new-1", 1)),
					updatePodStatus(phase("new-0", "", api.PodSucceeded)),
				}
			},
			stale:       func(j *api.Job) []*api.Pod { return []*api.Pod{newPod(j, "old-0", 0), newPod(j, "old-1", 1)} },
			wantActive:  1,
			wantSuccess: 1,
		},
		{
			name: "indexed: the new leader recorded an index as failed for good",
			job:  newJob("j", parallelism(2), completions(2), indexed(), func(j *api.Job) { j.Spec.BackoffLimitPerIndex = proto.Int32(0) }),
			newer: func(j *api.Job) []*api.Command {
				return []*api.Command{updateJobStatus("j", "uid-j", &api.JobStatus{FailedIndexes: proto.String("0")})}
			},
			stale:      func(j *api.Job) []*api.Pod { return []*api.Pod{newPod(j, "old-0", 0), newPod(j, "old-1", 1)} },
			wantActive: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertJob(tt.job, true))
			staleBatch, err := Encode(createPods(tt.stale(tt.job)...))
			if err != nil {
				t.Fatal(err)
			}
			h.must(tt.newer(tt.job)...)
			h.index++
			h.f.Apply(rawLog(h.index, staleBatch))
			active, succeeded := 0, 0
			for _, p := range h.state().Pods() {
				switch p.GetStatus().GetPhase() {
				case api.PodSucceeded:
					succeeded++
				case api.PodFailed:
				default:
					active++
				}
			}
			if active != tt.wantActive || succeeded != tt.wantSuccess {
				t.Errorf("after the stale batch: %d active, %d succeeded; want %d, %d (pods %v)",
					active, succeeded, tt.wantActive, tt.wantSuccess, podPhases(h.state()))
			}
		})
	}
}
