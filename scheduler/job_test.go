package scheduler

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// at is t0 moved by s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// newJob builds a started Job named "job"; completions < 0 means unset.
func newJob(parallelism, completions int32, mods ...func(*api.Job)) *api.Job {
	j := &api.Job{
		ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &api.ObjectMeta{Name: "job", Uid: "uid-1"},
		Spec: &api.JobSpec{
			Parallelism:    proto.Int32(parallelism),
			BackoffLimit:   proto.Int32(6),
			CompletionMode: proto.String("NonIndexed"),
			Template: &api.PodTemplateSpec{Spec: &api.PodSpec{
				RestartPolicy: "Never",
				Containers:    []*api.Container{{Name: "main", Command: []string{"true"}}},
			}},
		},
		Status: &api.JobStatus{StartTime: ts(at(-1000))},
	}
	if completions >= 0 {
		j.Spec.Completions = proto.Int32(completions)
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

func indexed(j *api.Job)    { j.Spec.CompletionMode = proto.String("Indexed") }
func onFailure(j *api.Job)  { j.Spec.Template.Spec.RestartPolicy = "OnFailure" }
func suspended(j *api.Job)  { j.Spec.Suspend = proto.Bool(true) }
func notStarted(j *api.Job) { j.Status.StartTime = nil }
func backoffLimit(n int32) func(*api.Job) {
	return func(j *api.Job) { j.Spec.BackoffLimit = proto.Int32(n) }
}
func jobDeadline(s int64) func(*api.Job) {
	return func(j *api.Job) { j.Spec.ActiveDeadlineSeconds = proto.Int64(s) }
}
func ttl(s int32) func(*api.Job) {
	return func(j *api.Job) { j.Spec.TtlSecondsAfterFinished = proto.Int32(s) }
}
func startedAt(t time.Time) func(*api.Job) {
	return func(j *api.Job) { j.Status.StartTime = ts(t) }
}
func completedAt(t time.Time) func(*api.Job) {
	return func(j *api.Job) { j.Status.CompletionTime = ts(t) }
}
func recordedIndexes(s string) func(*api.Job) {
	return func(j *api.Job) { j.Status.CompletedIndexes = s }
}
func recordedCounts(succeeded, failed int32) func(*api.Job) {
	return func(j *api.Job) { j.Status.Succeeded, j.Status.Failed = succeeded, failed }
}

// cond adds a condition set at t, with the message its reason comes with.
func cond(typ, status, reason string, t time.Time) func(*api.Job) {
	messages := map[string]string{
		api.ReasonBackoffLimitExceeded: messageBackoffLimitExceeded,
		api.ReasonDeadlineExceeded:     messageJobDeadline,
		api.ReasonCompletionsReached:   messageCompletionsReached,
		api.ReasonJobSuspended:         messageJobSuspended,
		reasonJobResumed:               messageJobResumed,
	}
	return func(j *api.Job) {
		j.Status.Conditions = append(j.Status.Conditions, &api.JobCondition{
			Type: typ, Status: status, Reason: reason, Message: messages[reason], LastTransitionTime: ts(t),
		})
	}
}

// newPod builds a pod of "job" in a phase.
func newPod(name, phase string, mods ...func(*api.Pod)) *api.Pod {
	p := &api.Pod{
		Metadata: &api.ObjectMeta{Name: name, CreationTimestamp: ts(at(-500)), Labels: map[string]string{"job-name": "job"}},
		Spec:     &api.PodSpec{NodeName: "node-a"},
		Status:   &api.PodStatus{Phase: phase},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func idx(i int) func(*api.Pod) {
	return func(p *api.Pod) {
		p.Metadata.Annotations = map[string]string{api.LabelCompletionIndex: strconv.Itoa(i)}
	}
}
func finished(t time.Time) func(*api.Pod) {
	return func(p *api.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, &api.ContainerStatus{
			Name: "main", State: &api.ContainerState{Terminated: &api.ContainerStateTerminated{FinishedAt: ts(t)}},
		})
	}
}
func reason(r string) func(*api.Pod) { return func(p *api.Pod) { p.Status.Reason = r } }
func stopping(p *api.Pod)            { p.Metadata.DeletionTimestamp = ts(at(-1)) }
func unbound(p *api.Pod)             { p.Spec.NodeName = "" }
func created(t time.Time) func(*api.Pod) {
	return func(p *api.Pod) { p.Metadata.CreationTimestamp = ts(t) }
}
func restarts(n int32) func(*api.Pod) {
	return func(p *api.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, &api.ContainerStatus{Name: "main", RestartCount: n})
	}
}
func podDeadline(s int64, started time.Time) func(*api.Pod) {
	return func(p *api.Pod) {
		p.Spec.ActiveDeadlineSeconds = proto.Int64(s)
		p.Status.StartTime = ts(started)
	}
}

// jobResult is what a user of a plan notices, in comparable form.
type jobResult struct {
	Create    []string // generateNames
	Stop      []StopPod
	Events    []string
	Status    *statusResult // nil when the plan carries no status
	DeleteJob bool
	NextCheck time.Time
}

type statusResult struct {
	Active, Succeeded, Failed, Ready, Terminating int32
	CompletedIndexes                              string
	Conditions                                    []string // "Type=Status Reason @seconds-from-t0"
	StartTime, CompletionTime                     time.Time
}

func summarize(plan Plan) jobResult {
	r := jobResult{Stop: plan.Stop, DeleteJob: plan.DeleteJob, NextCheck: plan.NextCheck}
	for _, p := range plan.Create {
		r.Create = append(r.Create, p.GetMetadata().GetGenerateName())
	}
	for _, e := range plan.Events {
		r.Events = append(r.Events, e.Type+" "+e.Reason+": "+e.Message)
	}
	if s := plan.Status; s != nil {
		r.Status = &statusResult{
			Active: s.Active, Succeeded: s.Succeeded, Failed: s.Failed,
			Ready: s.GetReady(), Terminating: s.GetTerminating(), CompletedIndexes: s.CompletedIndexes,
		}
		for _, c := range s.Conditions {
			r.Status.Conditions = append(r.Status.Conditions, fmt.Sprintf("%s=%s %s @%d",
				c.Type, c.Status, c.Reason, int(c.LastTransitionTime.AsTime().Sub(t0).Seconds())))
		}
		if s.StartTime != nil {
			r.Status.StartTime = s.StartTime.AsTime()
		}
		if s.CompletionTime != nil {
			r.Status.CompletionTime = s.CompletionTime.AsTime()
		}
	}
	return r
}

func deleted(names ...string) []string {
	var ev []string
	for _, n := range names {
		ev = append(ev, "Normal SuccessfulDelete: Deleted pod: "+n)
	}
	return ev
}

func stops(reason, message string, names ...string) []StopPod {
	var s []StopPod
	for _, n := range names {
		s = append(s, StopPod{Name: n, Reason: reason, Message: message})
	}
	return s
}

func TestReconcileJob(t *testing.T) {
	for _, tc := range jobCases() {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			job := proto.Clone(tc.job).(*api.Job)
			var pods []*api.Pod
			for _, p := range tc.pods {
				pods = append(pods, proto.Clone(p).(*api.Pod))
			}
			plan := ReconcileJob(JobInput{Job: job, Pods: pods, Now: now})
			if diff := cmp.Diff(tc.want, summarize(plan)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(plan, ReconcileJob(briefInput(JobInput{Job: job, Pods: pods, Now: now})), protocmp.Transform()); diff != "" {
				t.Errorf("plan differs when succeeded pods come in brief (-pods +brief):\n%s", diff)
			}
			if diff := cmp.Diff(tc.job, job, protocmp.Transform()); diff != "" {
				t.Errorf("input job modified (-before +after):\n%s", diff)
			}
			for i := range pods {
				if !proto.Equal(tc.pods[i], pods[i]) {
					t.Errorf("input pod %s modified", pods[i].Metadata.Name)
				}
			}
			if len(plan.Create) > 0 && len(plan.Stop) > 0 {
				t.Errorf("pass both creates %d and stops %d pods", len(plan.Create), len(plan.Stop))
			}
		})
	}
}

func TestReconcileJobSteadyStateHasNoStatus(t *testing.T) {
	job := newJob(2, 4)
	pods := []*api.Pod{newPod("a", api.PodRunning), newPod("b", api.PodSucceeded, finished(at(-5)))}
	first := ReconcileJob(JobInput{Job: job, Pods: pods, Now: t0})
	if first.Status == nil || len(first.Create) != 1 {
		t.Fatalf("first pass: status %v, %d created; want a status and 1 pod", first.Status, len(first.Create))
	}
	job.Status = first.Status
	created := proto.Clone(first.Create[0]).(*api.Pod)
	created.Metadata.Name = "c"
	pods = append(pods, created)
	second := ReconcileJob(JobInput{Job: job, Pods: pods, Now: at(1)})
	if diff := cmp.Diff(jobResult{}, summarize(second)); diff != "" {
		t.Errorf("second pass over an unchanged Job (-want +got):\n%s", diff)
	}
}

func TestReconcileJobPodFromTemplate(t *testing.T) {
	job := newJob(1, 3, indexed, func(j *api.Job) {
		j.Metadata.Namespace = "ns"
		j.Spec.Template.Metadata = &api.ObjectMeta{Labels: map[string]string{"app": "x"}, Annotations: map[string]string{"note": "y"}}
		j.Spec.Template.Spec.Containers[0].Env = []*api.EnvVar{{Name: "A", Value: "1"}}
	})
	pods := []*api.Pod{newPod("job-0-a", api.PodSucceeded, idx(0), finished(at(-5)))}
	plan := ReconcileJob(JobInput{Job: job, Pods: pods, Now: t0})
	want := []*api.Pod{{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &api.ObjectMeta{
			GenerateName: "job-1-",
			Namespace:    "ns",
			Labels: map[string]string{
				"app": "x", "job-name": "job", "batch.kubernetes.io/job-name": "job",
				"controller-uid": "uid-1", "batch.kubernetes.io/controller-uid": "uid-1",
				"batch.kubernetes.io/job-completion-index": "1",
			},
			Annotations: map[string]string{"note": "y", "batch.kubernetes.io/job-completion-index": "1"},
			OwnerReferences: []*api.OwnerReference{{
				ApiVersion: "batch/v1", Kind: "Job", Name: "job", Uid: "uid-1",
				Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true),
			}},
		},
		Spec: &api.PodSpec{
			RestartPolicy: "Never",
			Containers: []*api.Container{{
				Name: "main", Command: []string{"true"},
				Env: []*api.EnvVar{{Name: "A", Value: "1"}, {Name: "JOB_COMPLETION_INDEX", Value: "1"}},
			}},
		},
		Status: &api.PodStatus{Phase: "Pending"},
	}}
	if diff := cmp.Diff(want, plan.Create, protocmp.Transform()); diff != "" {
		t.Errorf("created pods (-want +got):\n%s", diff)
	}
	if got := job.Spec.Template.Spec.Containers[0].Env; len(got) != 1 {
		t.Errorf("template env changed to %v", got)
	}
}

func TestFormatIndexes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		indexes []int
		want    string
	}{
		{"none", nil, ""},
		{"one", []int{4}, "4"},
		{"a pair stays listed", []int{1, 2}, "1,2"},
		{"a run of three is compressed", []int{0, 1, 2}, "0-2"},
		{"runs and singles mixed", []int{7, 0, 1, 2, 4, 5, 9, 10, 11, 12}, "0-2,4,5,7,9-12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := make(map[int]bool)
			for _, i := range tc.indexes {
				set[i] = true
			}
			got := formatIndexes(set)
			if got != tc.want {
				t.Errorf("formatIndexes(%v) = %q, want %q", tc.indexes, got, tc.want)
			}
			if diff := cmp.Diff(set, parseIndexes(got, 100)); diff != "" {
				t.Errorf("parseIndexes(%q) round trip (-want +got):\n%s", got, diff)
			}
		})
	}
}

type jobCase struct {
	name string
	job  *api.Job
	pods []*api.Pod
	now  time.Time // t0 when zero
	want jobResult
}

// counts is the expected status of a Job started at -1000s.
func counts(active, succeeded, failed, ready, terminating int32, mods ...func(*statusResult)) *statusResult {
	s := &statusResult{Active: active, Succeeded: succeeded, Failed: failed, Ready: ready, Terminating: terminating, StartTime: at(-1000)}
	for _, m := range mods {
		m(s)
	}
	return s
}

func conds(c ...string) func(*statusResult) { return func(s *statusResult) { s.Conditions = c } }
func start(t time.Time) func(*statusResult) { return func(s *statusResult) { s.StartTime = t } }
func completion(t time.Time) func(*statusResult) {
	return func(s *statusResult) { s.CompletionTime = t }
}
func indexes(i string) func(*statusResult) { return func(s *statusResult) { s.CompletedIndexes = i } }

const (
	completedEvent = "Normal Completed: Job completed"
	suspendedEvent = "Normal Suspended: Job suspended"
	backoffEvent   = "Warning BackoffLimitExceeded: Job has reached the specified backoff limit"
	scmNow         = "SuccessCriteriaMet=True CompletionsReached @0"
	completeNow    = "Complete=True CompletionsReached @0"
	backoffTarget  = "FailureTarget=True BackoffLimitExceeded @0"
)

func jobCases() []jobCase {
	running, pending, succeeded, failed := api.PodRunning, api.PodPending, api.PodSucceeded, api.PodFailed
	return []jobCase{
		// Creating pods.
		{name: "new job creates parallelism pods and starts its clock",
			job:  newJob(2, 5, notStarted),
			want: jobResult{Create: []string{"job-", "job-"}, Status: counts(2, 0, 0, 0, 0, start(t0))}},
		{name: "a job without a spec runs one pod like the defaults",
			job:  &api.Job{Metadata: &api.ObjectMeta{Name: "job", Uid: "uid-1"}},
			want: jobResult{Create: []string{"job-"}, Status: counts(1, 0, 0, 0, 0, start(t0))}},
		{name: "completions smaller than parallelism cap creation",
			job:  newJob(5, 2),
			want: jobResult{Create: []string{"job-", "job-"}, Status: counts(2, 0, 0, 0, 0)}},
		{name: "remaining completions cap creation",
			job:  newJob(3, 5),
			pods: []*api.Pod{newPod("s1", succeeded, finished(at(-100))), newPod("s2", succeeded, finished(at(-90))), newPod("s3", succeeded, finished(at(-80)))},
			want: jobResult{Create: []string{"job-", "job-"}, Status: counts(2, 3, 0, 0, 0)}},
		{name: "active pods at parallelism create nothing",
			job:  newJob(2, 5),
			pods: []*api.Pod{newPod("r1", running), newPod("r2", pending)},
			want: jobResult{Status: counts(2, 0, 0, 1, 0)}},
		{name: "stopping pods count against parallelism",
			job:  newJob(2, 5),
			pods: []*api.Pod{newPod("r1", running), newPod("x", running, stopping)},
			want: jobResult{Status: counts(1, 0, 0, 1, 1)}},
		{name: "lower parallelism stops unbound pending then newest pods",
			job: newJob(1, 5),
			pods: []*api.Pod{newPod("old", running, created(at(-300))), newPod("newer", running, created(at(-100))),
				newPod("pend", pending, unbound, created(at(-50)))},
			want: jobResult{Stop: stops(reasonExcessPod, messageExcessPod, "pend", "newer"), Events: deleted("pend", "newer"),
				Status: counts(1, 0, 0, 1, 2)}},
		{name: "parallelism zero creates nothing",
			job:  newJob(0, 3),
			want: jobResult{Status: counts(0, 0, 0, 0, 0)}},
		{name: "work queue keeps parallelism active until a success",
			job:  newJob(3, -1),
			pods: []*api.Pod{newPod("r", running), newPod("f", failed, finished(at(-60)))},
			want: jobResult{Create: []string{"job-", "job-"}, Status: counts(3, 0, 1, 1, 0)}},
		{name: "work queue starts nothing after a success",
			job:  newJob(3, -1),
			pods: []*api.Pod{newPod("s", succeeded, finished(at(-10))), newPod("r", running)},
			want: jobResult{Status: counts(1, 1, 0, 1, 0)}},
		{name: "work queue completes once a pod succeeded and none is active",
			job:  newJob(3, -1),
			pods: []*api.Pod{newPod("s", succeeded, finished(at(-10))), newPod("f", failed, finished(at(-5)))},
			want: jobResult{Events: []string{completedEvent},
				Status: counts(0, 1, 1, 0, 0, conds(scmNow, completeNow), completion(t0))}},

		// Completing.
		{name: "completions reached stops the remaining pods",
			job:  newJob(2, 2),
			pods: []*api.Pod{newPod("s1", succeeded), newPod("s2", succeeded), newPod("r", running)},
			want: jobResult{Stop: stops(reasonExcessPod, messageExcessPod, "r"), Events: deleted("r"),
				Status: counts(0, 2, 0, 0, 1, conds(scmNow))}},
		{name: "success criteria met completes once no pod is active",
			job:  newJob(2, 2, cond(api.JobSuccessCriteriaMet, api.ConditionTrue, api.ReasonCompletionsReached, at(-30))),
			pods: []*api.Pod{newPod("s1", succeeded), newPod("s2", succeeded), newPod("x", failed, reason(reasonExcessPod))},
			want: jobResult{Events: []string{completedEvent},
				Status: counts(0, 2, 0, 0, 0, conds("SuccessCriteriaMet=True CompletionsReached @-30", completeNow), completion(t0))}},
		{name: "success criteria met waits for stopping pods",
			job:  newJob(2, 2, cond(api.JobSuccessCriteriaMet, api.ConditionTrue, api.ReasonCompletionsReached, at(-30))),
			pods: []*api.Pod{newPod("s1", succeeded), newPod("s2", succeeded), newPod("x", running, stopping)},
			want: jobResult{Status: counts(0, 2, 0, 0, 1, conds("SuccessCriteriaMet=True CompletionsReached @-30"))}},

		// Failure back-off.
		{name: "a recent failure delays the replacement",
			job:  newJob(1, 1),
			pods: []*api.Pod{newPod("f", failed, finished(at(-5)))},
			want: jobResult{NextCheck: at(5), Status: counts(0, 0, 1, 0, 0)}},
		{name: "consecutive failures double the back-off",
			job:  newJob(1, 1),
			pods: []*api.Pod{newPod("f1", failed, finished(at(-100))), newPod("f2", failed, finished(at(-50))), newPod("f3", failed, finished(at(-30)))},
			want: jobResult{NextCheck: at(10), Status: counts(0, 0, 3, 0, 0)}},
		{name: "back-off is capped at six minutes",
			job:  newJob(1, 1, backoffLimit(10)),
			pods: failedPods(8, -1000, 100),
			want: jobResult{NextCheck: at(60), Status: counts(0, 0, 8, 0, 0)}},
		{name: "back-off counts only failures after the last success",
			job:  newJob(1, 3),
			pods: []*api.Pod{newPod("f1", failed, finished(at(-100))), newPod("s", succeeded, finished(at(-20))), newPod("f2", failed, finished(at(-15)))},
			want: jobResult{Create: []string{"job-"}, Status: counts(1, 1, 2, 0, 0)}},
		{name: "back-off that ends now lets the replacement start",
			job:  newJob(1, 1),
			pods: []*api.Pod{newPod("f", failed, finished(at(-10)))},
			want: jobResult{Create: []string{"job-"}, Status: counts(1, 0, 1, 0, 0)}},
		{name: "a pod lost with its node is replaced at once and not counted",
			job:  newJob(1, 1),
			pods: []*api.Pod{newPod("l", failed, reason(api.ReasonNodeLost), finished(at(-1)))},
			want: jobResult{Create: []string{"job-"}, Status: counts(1, 0, 0, 0, 0)}},
		{name: "a pod stopped by a suspension is not a failure",
			job:  newJob(1, 1),
			pods: []*api.Pod{newPod("x", failed, reason(api.ReasonJobSuspended), finished(at(-1)))},
			want: jobResult{Create: []string{"job-"}, Status: counts(1, 0, 0, 0, 0)}},

		// Failing.
		{name: "failures beyond backoffLimit fail the job and stop active pods",
			job:  newJob(2, 5, backoffLimit(1)),
			pods: []*api.Pod{newPod("f1", failed, finished(at(-100))), newPod("f2", failed, finished(at(-50))), newPod("r", running)},
			want: jobResult{Stop: stops(api.ReasonBackoffLimitExceeded, messageBackoffLimitExceeded, "r"), Events: deleted("r"),
				Status: counts(0, 0, 2, 0, 1, conds(backoffTarget))}},
		{name: "failures equal to backoffLimit keep the job going",
			job:  newJob(1, 5, backoffLimit(2)),
			pods: []*api.Pod{newPod("f1", failed, finished(at(-100))), newPod("f2", failed, finished(at(-80)))},
			want: jobResult{Create: []string{"job-"}, Status: counts(1, 0, 2, 0, 0)}},
		{name: "failure target fails the job once no pod is active",
			job: newJob(2, 5, backoffLimit(1), cond(api.JobFailureTarget, api.ConditionTrue, api.ReasonBackoffLimitExceeded, at(-20))),
			pods: []*api.Pod{newPod("f1", failed), newPod("f2", failed),
				newPod("r", failed, reason(api.ReasonBackoffLimitExceeded))},
			want: jobResult{Events: []string{backoffEvent},
				Status: counts(0, 0, 3, 0, 0, conds("FailureTarget=True BackoffLimitExceeded @-20", "Failed=True BackoffLimitExceeded @0"))}},
		{name: "failure target waits for stopping pods",
			job:  newJob(2, 5, backoffLimit(1), cond(api.JobFailureTarget, api.ConditionTrue, api.ReasonBackoffLimitExceeded, at(-20))),
			pods: []*api.Pod{newPod("f1", failed), newPod("f2", failed), newPod("r", running, stopping)},
			want: jobResult{Status: counts(0, 0, 2, 0, 1, conds("FailureTarget=True BackoffLimitExceeded @-20"))}},
		{name: "a failure with nothing active fails the job at once",
			job:  newJob(1, 1, backoffLimit(0)),
			pods: []*api.Pod{newPod("f", failed, finished(at(-5)))},
			want: jobResult{Events: []string{backoffEvent},
				Status: counts(0, 0, 1, 0, 0, conds(backoffTarget, "Failed=True BackoffLimitExceeded @0"))}},
		{name: "OnFailure restarts reaching backoffLimit fail the job",
			job:  newJob(2, 5, onFailure, backoffLimit(3)),
			pods: []*api.Pod{newPod("r1", running, restarts(2)), newPod("r2", pending, restarts(1))},
			want: jobResult{Stop: stops(api.ReasonBackoffLimitExceeded, messageBackoffLimitExceeded, "r1", "r2"), Events: deleted("r1", "r2"),
				Status: counts(0, 0, 0, 0, 2, conds(backoffTarget))}},
		{name: "OnFailure restarts below backoffLimit keep running",
			job:  newJob(2, 5, onFailure, backoffLimit(3)),
			pods: []*api.Pod{newPod("r1", running, restarts(1)), newPod("r2", running, restarts(1))},
			want: jobResult{Status: counts(2, 0, 0, 2, 0)}},
		{name: "OnFailure with backoffLimit zero fails on the first restart",
			job:  newJob(1, 1, onFailure, backoffLimit(0)),
			pods: []*api.Pod{newPod("r", running, restarts(1))},
			want: jobResult{Stop: stops(api.ReasonBackoffLimitExceeded, messageBackoffLimitExceeded, "r"), Events: deleted("r"),
				Status: counts(0, 0, 0, 0, 1, conds(backoffTarget))}},
		{name: "restarts under restartPolicy Never do not count",
			job:  newJob(1, 1, backoffLimit(1)),
			pods: []*api.Pod{newPod("r", running, restarts(5))},
			want: jobResult{Status: counts(1, 0, 0, 1, 0)}},

		// Deadlines.
		{name: "job past its deadline fails and stops its pods",
			job:  newJob(2, 5, jobDeadline(60), startedAt(at(-60))),
			pods: []*api.Pod{newPod("r1", running), newPod("r2", pending)},
			want: jobResult{Stop: stops(api.ReasonDeadlineExceeded, messageJobDeadline, "r1", "r2"), Events: deleted("r1", "r2"),
				Status: counts(0, 0, 0, 0, 2, conds("FailureTarget=True DeadlineExceeded @0"), start(at(-60)))}},
		{name: "job deadline ahead is the next check",
			job:  newJob(2, 5, jobDeadline(60), startedAt(at(-30))),
			pods: []*api.Pod{newPod("r1", running), newPod("r2", running)},
			want: jobResult{NextCheck: at(30), Status: counts(2, 0, 0, 2, 0, start(at(-30)))}},
		{name: "a new job starts its deadline clock now",
			job:  newJob(1, 1, notStarted, jobDeadline(100)),
			want: jobResult{Create: []string{"job-"}, NextCheck: at(100), Status: counts(1, 0, 0, 0, 0, start(t0))}},
		{name: "pod past its deadline is stopped and nothing is created",
			job:  newJob(2, 5),
			pods: []*api.Pod{newPod("r1", running, podDeadline(30, at(-40)))},
			want: jobResult{Stop: stops(api.ReasonDeadlineExceeded, messagePodDeadline, "r1"), Events: deleted("r1"),
				Status: counts(0, 0, 0, 0, 1)}},
		{name: "pod deadline ahead is the next check",
			job:  newJob(2, 5),
			pods: []*api.Pod{newPod("r1", running, podDeadline(30, at(-10))), newPod("r2", running)},
			want: jobResult{NextCheck: at(20), Status: counts(2, 0, 0, 2, 0)}},
		{name: "the earliest of deadlines and back-off is the next check",
			job:  newJob(2, 5, jobDeadline(100), startedAt(at(-50))),
			pods: []*api.Pod{newPod("r1", running, podDeadline(30, at(-10))), newPod("f", failed, finished(at(-5)))},
			want: jobResult{NextCheck: at(5), Status: counts(1, 0, 1, 1, 0, start(at(-50)))}},

		// Suspension.
		{name: "suspending stops active pods and clears the start time",
			job:  newJob(2, 5, suspended),
			pods: []*api.Pod{newPod("r1", running), newPod("r2", pending)},
			want: jobResult{Stop: stops(api.ReasonJobSuspended, messageJobSuspended, "r1", "r2"),
				Events: append(deleted("r1", "r2"), suspendedEvent),
				Status: counts(0, 0, 0, 0, 2, conds("Suspended=True JobSuspended @0"), start(time.Time{}))}},
		{name: "a job created suspended creates nothing",
			job: newJob(2, 5, notStarted, suspended),
			want: jobResult{Events: []string{suspendedEvent},
				Status: counts(0, 0, 0, 0, 0, conds("Suspended=True JobSuspended @0"), start(time.Time{}))}},
		{name: "a suspended job is not failed by its deadline",
			job: newJob(1, 1, suspended, jobDeadline(10), startedAt(at(-100)),
				cond(api.JobSuspended, api.ConditionTrue, api.ReasonJobSuspended, at(-200))),
			want: jobResult{Status: counts(0, 0, 0, 0, 0, conds("Suspended=True JobSuspended @-200"), start(time.Time{}))}},
		{name: "resuming restarts the deadline clock",
			job: newJob(2, 2, notStarted, jobDeadline(60),
				cond(api.JobSuspended, api.ConditionTrue, api.ReasonJobSuspended, at(-100))),
			pods: []*api.Pod{newPod("x", failed, reason(api.ReasonJobSuspended))},
			want: jobResult{Create: []string{"job-", "job-"}, Events: []string{"Normal Resumed: Job resumed"}, NextCheck: at(60),
				Status: counts(2, 0, 0, 0, 0, conds("Suspended=False JobResumed @0"), start(t0))}},

		// Indexed completion.
		{name: "indexed job creates the lowest free indexes",
			job:  newJob(3, 5, indexed),
			pods: []*api.Pod{newPod("p0", succeeded, idx(0)), newPod("p1", running, idx(1))},
			want: jobResult{Create: []string{"job-2-", "job-3-"}, Status: counts(3, 1, 0, 1, 0, indexes("0"))}},
		{name: "an index that succeeds twice counts once",
			job:  newJob(1, 3, indexed),
			pods: []*api.Pod{newPod("a", succeeded, idx(1)), newPod("b", succeeded, idx(1))},
			want: jobResult{Create: []string{"job-0-"}, Status: counts(1, 1, 0, 0, 0, indexes("1"))}},
		{name: "completed indexes compress runs of three or more",
			job: newJob(1, 8, indexed),
			pods: []*api.Pod{newPod("a", succeeded, idx(0)), newPod("b", succeeded, idx(1)), newPod("c", succeeded, idx(2)),
				newPod("d", succeeded, idx(4)), newPod("e", succeeded, idx(5)), newPod("f", succeeded, idx(7))},
			want: jobResult{Create: []string{"job-3-"}, Status: counts(1, 6, 0, 0, 0, indexes("0-2,4,5,7"))}},
		{name: "an active pod of a succeeded index is stopped",
			job:  newJob(2, 3, indexed),
			pods: []*api.Pod{newPod("s", succeeded, idx(1)), newPod("r", running, idx(1)), newPod("q", running, idx(0))},
			want: jobResult{Stop: stops(reasonExcessPod, messageExcessPod, "r"), Events: deleted("r"),
				Status: counts(1, 1, 0, 1, 1, indexes("1"))}},
		{name: "duplicate active pods of an index keep the older one",
			job:  newJob(2, 3, indexed),
			pods: []*api.Pod{newPod("a", running, idx(0), created(at(-300))), newPod("b", running, idx(0), created(at(-100)))},
			want: jobResult{Stop: stops(reasonExcessPod, messageExcessPod, "b"), Events: deleted("b"), Status: counts(1, 0, 0, 1, 1)}},
		{name: "a pod with an index out of range is stopped",
			job:  newJob(2, 2, indexed),
			pods: []*api.Pod{newPod("a", running, idx(5))},
			want: jobResult{Stop: stops(reasonExcessPod, messageExcessPod, "a"), Events: deleted("a"), Status: counts(0, 0, 0, 0, 1)}},
		{name: "an index held by a stopping pod is not recreated",
			job:  newJob(2, 2, indexed),
			pods: []*api.Pod{newPod("a", running, idx(0), stopping)},
			want: jobResult{Create: []string{"job-1-"}, Status: counts(1, 0, 0, 0, 1)}},
		{name: "recorded completed indexes survive deleted pods",
			job:  newJob(2, 4, indexed, recordedIndexes("0,1"), recordedCounts(2, 0)),
			want: jobResult{Create: []string{"job-2-", "job-3-"}, Status: counts(2, 2, 0, 0, 0, indexes("0,1"))}},
		{name: "indexed job completes when every index succeeded",
			job:  newJob(2, 3, indexed),
			pods: []*api.Pod{newPod("a", succeeded, idx(0)), newPod("b", succeeded, idx(1)), newPod("c", succeeded, idx(2))},
			want: jobResult{Events: []string{completedEvent},
				Status: counts(0, 3, 0, 0, 0, indexes("0-2"), conds(scmNow, completeNow), completion(t0))}},
		{name: "a failed index is created again after the back-off",
			job: newJob(2, 3, indexed),
			pods: []*api.Pod{newPod("a", succeeded, idx(0), finished(at(-200))), newPod("b", failed, idx(1), finished(at(-60))),
				newPod("c", running, idx(2))},
			want: jobResult{Create: []string{"job-1-"}, Status: counts(2, 1, 1, 1, 0, indexes("0"))}},

		// Finished Jobs and their ttl.
		{name: "finished job waits for its ttl",
			job:  newJob(1, 1, ttl(60), cond(api.JobComplete, api.ConditionTrue, api.ReasonCompletionsReached, at(-10)), completedAt(at(-10))),
			want: jobResult{NextCheck: at(50)}},
		{name: "finished job past its ttl is deleted",
			job:  newJob(1, 1, ttl(60), cond(api.JobComplete, api.ConditionTrue, api.ReasonCompletionsReached, at(-60)), completedAt(at(-60))),
			want: jobResult{DeleteJob: true}},
		{name: "failed job ttl counts from the Failed condition",
			job:  newJob(1, 1, ttl(30), cond(api.JobFailed, api.ConditionTrue, api.ReasonBackoffLimitExceeded, at(-10))),
			want: jobResult{NextCheck: at(20)}},
		{name: "finished job never creates or stops pods",
			job:  newJob(2, 5, cond(api.JobComplete, api.ConditionTrue, api.ReasonCompletionsReached, at(-10))),
			pods: []*api.Pod{newPod("r", running, podDeadline(1, at(-100)))},
			want: jobResult{}},
		{name: "job finishing now checks back when its ttl ends",
			job:  newJob(1, 1, ttl(30)),
			pods: []*api.Pod{newPod("s", succeeded)},
			want: jobResult{Events: []string{completedEvent}, NextCheck: at(30),
				Status: counts(0, 1, 0, 0, 0, conds(scmNow, completeNow), completion(t0))}},
	}
}

// failedPods returns n failed pods that finished every step seconds from first.
func failedPods(n, first, step int) []*api.Pod {
	var pods []*api.Pod
	for i := range n {
		pods = append(pods, newPod(fmt.Sprintf("f%d", i), api.PodFailed, finished(at(first+i*step))))
	}
	return pods
}

// briefInput is in with its Succeeded pods given in brief, as the store
// hands them over: every plan must be the same either way.
func briefInput(in JobInput) JobInput {
	out := JobInput{Job: in.Job, Now: in.Now, Succeeded: in.Succeeded}
	out.Succeeded.Indexes = slices.Clone(in.Succeeded.Indexes)
	for _, p := range in.Pods {
		if p.GetStatus().GetPhase() == api.PodSucceeded {
			out.Succeeded.Add(api.BriefOfSucceeded(p))
			continue
		}
		out.Pods = append(out.Pods, p)
	}
	return out
}
