package fsm

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
)

// recorder is an Observer that writes down what it is told.
type recorder struct{ seen []string }

func (r *recorder) JobFinished(index uint64, job *api.Job) {
	c, _ := api.JobFinished(job)
	r.seen = append(r.seen, fmt.Sprintf("%d job %s %s", index, job.GetMetadata().GetName(), c))
}

func (r *recorder) PodFinished(index uint64, pod *api.Pod) {
	r.seen = append(r.seen, fmt.Sprintf("%d pod %s %s %s", index, pod.GetMetadata().GetName(), pod.GetStatus().GetPhase(), pod.GetStatus().GetReason()))
}

func (r *recorder) PodsCreated(index uint64, n int) {
	r.seen = append(r.seen, fmt.Sprintf("%d created %d", index, n))
}

func (r *recorder) PodStarted(index uint64, pod *api.Pod, job *api.Job) {
	r.seen = append(r.seen, fmt.Sprintf("%d started %s of %s at %s", index, pod.GetMetadata().GetName(), job.GetMetadata().GetName(),
		StartedAt(pod).UTC().Format("15:04:05")))
}

func (r *recorder) CronDecided(index uint64, d *api.CronDecision, created bool) {
	r.seen = append(r.seen, fmt.Sprintf("%d cron %s %s %v", index, d.GetCronJob(), d.GetAction(), created))
}

// countsOf counts a state the slow way, decoding every object.
func countsOf(s *State) Counts {
	var c Counts
	for _, j := range s.Jobs() {
		c.add(tableJobs, j, 1)
	}
	for _, p := range s.Pods() {
		c.add(tablePods, p, 1)
	}
	return c
}

func TestObserverAndCounts(t *testing.T) {
	h := newHarness(t)
	rec := &recorder{}
	h.f.SetObserver(rec)
	check := func(step string) {
		t.Helper()
		if diff := cmp.Diff(countsOf(h.state()), h.f.Counts()); diff != "" {
			t.Fatalf("after %s: counts (-counted +kept):\n%s", step, diff)
		}
	}
	done := newJob("done", parallelism(2), completions(2))
	held := newJob("held", suspended())
	h.must(upsertNode(newNode("n1")), upsertJob(done, true), upsertJob(held, true))
	check("creating Jobs")
	ps := pods(done, 2)
	h.must(createPods(ps...), createPods(ps...)) // the repeat creates nothing
	check("creating pods")
	h.must(bindPods(1, ps[0].GetMetadata().GetName(), "n1", ps[1].GetMetadata().GetName(), "n1"))
	running := phase(ps[0].GetMetadata().GetName(), "n1", api.PodRunning)
	running.Status.ContainerStatuses = []*api.ContainerStatus{{Name: "main", State: &api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: at(4)}}}}
	h.must(updatePodStatus(running), updatePodStatus(running)) // started once
	check("a pod running")
	lost := phase(ps[1].GetMetadata().GetName(), "", api.PodFailed)
	lost.Status.Reason = api.ReasonNodeLost
	h.must(updatePodStatus(phase(ps[0].GetMetadata().GetName(), "n1", api.PodSucceeded), lost))
	h.must(updatePodStatus(phase(ps[0].GetMetadata().GetName(), "n1", api.PodFailed))) // finished pods never change
	check("pods finishing")
	h.must(updateJobStatus("done", "uid-done", &api.JobStatus{Succeeded: 2,
		Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: api.ConditionTrue, LastTransitionTime: at(9)}}}))
	h.apply(updateJobStatus("done", "uid-done", &api.JobStatus{})) // refused: finished
	check("the Job finishing (frozen with its pods)")
	broke := newJob("broke")
	h.must(upsertJob(broke, true))
	h.must(updateJobStatus("broke", "uid-broke", &api.JobStatus{Failed: 1,
		Conditions: []*api.JobCondition{{Type: api.JobFailed, Status: api.ConditionTrue, LastTransitionTime: at(9)}}}))
	check("a Job failing (frozen)")
	if !storedFrozen(t, h.f, tableJobs, "broke") {
		t.Fatal("the failed Job is not frozen: its state would be read decoded")
	}
	// held is Running until its controller marks it Suspended.
	if got, want := h.f.Counts().JobStates, [api.JobStateCount]int{api.JobStateRunning: 1, api.JobStateComplete: 1, api.JobStateFailed: 1}; got != want {
		t.Fatalf("Jobs by state %v, want %v", got, want)
	}
	cron := newCronJob("nightly")
	h.must(upsertCronJob(cron, true))
	h.must(cronDecision("nightly", 1, "Created", cronJobAt("nightly", 1)))
	h.must(cronDecision("nightly", 1, "Created", cronJobAt("nightly", 1))) // decided already: nothing
	h.must(cronDecision("nightly", 2, "JobAlreadyActive", nil))
	check("cron decisions")
	h.must(deleteJob("done", "uid-done"))
	check("deleting a finished Job")

	want := []string{
		"2 created 2",
		"4 started done-0 of done at " + at(4).AsTime().UTC().Format("15:04:05"),
		"5 pod done-0 Succeeded ",
		"5 pod done-1 Failed NodeLost",
		"7 job done Complete",
		"10 job broke Failed",
		"12 cron nightly Created true",
		"14 cron nightly JobAlreadyActive false",
	}
	if diff := cmp.Diff(want, rec.seen); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(h.f.Counts(), restored(t, h.f).Counts()); diff != "" {
		t.Errorf("counts after restore (-before +after):\n%s", diff)
	}
}
