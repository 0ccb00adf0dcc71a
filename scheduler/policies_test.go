package scheduler

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// Job modifiers for the Job policies.
func rules(rs ...*api.PodFailurePolicyRule) func(*api.Job) {
	return func(j *api.Job) {
		j.Spec.PodFailurePolicy = &api.PodFailurePolicy{Rules: rs}
		j.Spec.PodReplacementPolicy = proto.String(api.PodReplacementPolicyFailed)
	}
}
func onExit(action, op string, values ...int32) *api.PodFailurePolicyRule {
	return &api.PodFailurePolicyRule{Action: action, OnExitCodes: &api.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}
}
func inContainer(name string, r *api.PodFailurePolicyRule) *api.PodFailurePolicyRule {
	r.OnExitCodes.ContainerName = proto.String(name)
	return r
}
func onDisruption(action string) *api.PodFailurePolicyRule {
	return &api.PodFailurePolicyRule{Action: action, OnPodConditions: []*api.PodFailurePolicyOnPodConditionsPattern{
		{Type: api.PodDisruptionTarget, Status: api.ConditionTrue}}}
}
func limitPerIndex(n int32) func(*api.Job) {
	return func(j *api.Job) {
		j.Spec.BackoffLimitPerIndex = proto.Int32(n)
		j.Spec.BackoffLimit = proto.Int32(1 << 30)
	}
}
func maxFailedIndexes(n int32) func(*api.Job) {
	return func(j *api.Job) { j.Spec.MaxFailedIndexes = proto.Int32(n) }
}
func recordedFailedIndexes(s string) func(*api.Job) {
	return func(j *api.Job) { j.Status.FailedIndexes = proto.String(s) }
}
func successRule(indexes string, count int32) func(*api.Job) {
	return func(j *api.Job) {
		r := &api.SuccessPolicyRule{}
		if indexes != "" {
			r.SucceededIndexes = proto.String(indexes)
		}
		if count > 0 {
			r.SucceededCount = proto.Int32(count)
		}
		if j.Spec.SuccessPolicy == nil {
			j.Spec.SuccessPolicy = &api.SuccessPolicy{}
		}
		j.Spec.SuccessPolicy.Rules = append(j.Spec.SuccessPolicy.Rules, r)
	}
}
func replaceWhenFailed(j *api.Job) {
	j.Spec.PodReplacementPolicy = proto.String(api.PodReplacementPolicyFailed)
}
func withCondition(typ, reason, message string, t time.Time) func(*api.Job) {
	return func(j *api.Job) {
		j.Status.Conditions = append(j.Status.Conditions, &api.JobCondition{
			Type: typ, Status: api.ConditionTrue, Reason: reason, Message: message, LastTransitionTime: ts(t)})
	}
}

// Pod modifiers.
func exited(container string, code int32, t time.Time) func(*api.Pod) {
	return func(p *api.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, &api.ContainerStatus{
			Name: container, State: &api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: code, FinishedAt: ts(t)}},
		})
	}
}

// lostWithNode is a pod failed as the node controller fails it.
func lostWithNode(t time.Time) func(*api.Pod) {
	return func(p *api.Pod) {
		p.Status.Reason = api.ReasonNodeLost
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, &api.ContainerStatus{
			Name: "main", State: &api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: 137, Reason: api.ReasonNodeLost, FinishedAt: ts(t)}},
		})
	}
}
func failures(n int) func(*api.Pod) {
	return func(p *api.Pod) {
		if p.Metadata.Annotations == nil {
			p.Metadata.Annotations = map[string]string{}
		}
		p.Metadata.Annotations[api.AnnotationJobIndexFailureCount] = strconv.Itoa(n)
	}
}

// policyResult is what a plan means for the Job policies.
type policyResult struct {
	Create                          []string // generateName and index failure counts
	Stop                            []string // "name Reason"
	Active, Failed, Terminating     int32
	CompletedIndexes, FailedIndexes string
	Conditions                      []string // "Type Reason: Message"
	Events                          []string // other than SuccessfulDelete
	NextCheck                       time.Time
}

func summarizePolicies(job *api.Job, plan Plan) policyResult {
	r := policyResult{NextCheck: plan.NextCheck}
	for _, p := range plan.Create {
		s := p.GetMetadata().GetGenerateName()
		if n, ok := p.GetMetadata().GetAnnotations()[api.AnnotationJobIndexFailureCount]; ok {
			s += " failures=" + n
		}
		if n, ok := p.GetMetadata().GetAnnotations()[api.AnnotationJobIndexIgnoredFailureCount]; ok {
			s += " ignored=" + n
		}
		r.Create = append(r.Create, s)
	}
	for _, s := range plan.Stop {
		r.Stop = append(r.Stop, s.Name+" "+s.Reason)
	}
	for _, e := range plan.Events {
		if e.Reason != "SuccessfulDelete" {
			r.Events = append(r.Events, e.Type+" "+e.Reason+": "+e.Message)
		}
	}
	st := plan.Status
	if st == nil {
		st = job.GetStatus()
	}
	r.Active, r.Failed, r.Terminating = st.GetActive(), st.GetFailed(), st.GetTerminating()
	r.CompletedIndexes, r.FailedIndexes = st.GetCompletedIndexes(), st.GetFailedIndexes()
	for _, c := range st.GetConditions() {
		r.Conditions = append(r.Conditions, fmt.Sprintf("%s %s: %s", c.GetType(), c.GetReason(), c.GetMessage()))
	}
	return r
}

const (
	exit42Message = "Container main for pod default/f failed with exit code 42 matching FailJob rule at index 0"
	successMatch  = "Matched rules at index 0"
)

func TestReconcileJobPolicies(t *testing.T) {
	running, succeeded, failed := api.PodRunning, api.PodSucceeded, api.PodFailed
	tests := []struct {
		name string
		job  *api.Job
		pods []*api.Pod
		want policyResult
	}{
		// podFailurePolicy: FailJob.
		{name: "exit code 42 matching a FailJob rule fails the Job at once and stops the others",
			job:  newJob(2, 4, rules(onExit("FailJob", "In", 42))),
			pods: []*api.Pod{newPod("f", failed, exited("main", 42, at(-5))), newPod("r", running)},
			want: policyResult{Stop: []string{"r PodFailurePolicy"}, Failed: 1, Terminating: 1,
				Conditions: []string{"FailureTarget PodFailurePolicy: " + exit42Message}}},
		{name: "the Job is Failed with the rule's message once its pods stopped",
			job:  newJob(2, 4, rules(onExit("FailJob", "In", 42)), withCondition(api.JobFailureTarget, api.JobReasonPodFailurePolicy, exit42Message, at(-3))),
			pods: []*api.Pod{newPod("f", failed, exited("main", 42, at(-5))), newPod("r", failed, reason(api.JobReasonPodFailurePolicy), exited("main", 143, at(-1)))},
			want: policyResult{Failed: 2,
				Conditions: []string{"FailureTarget PodFailurePolicy: " + exit42Message, "Failed PodFailurePolicy: " + exit42Message},
				Events:     []string{"Warning PodFailurePolicy: " + exit42Message}}},
		{name: "a FailJob rule matches exit codes NotIn its values",
			job:  newJob(1, 1, rules(onExit("FailJob", "NotIn", 1))),
			pods: []*api.Pod{newPod("f", failed, exited("main", 42, at(-5)))},
			want: policyResult{Failed: 1, Conditions: []string{
				"FailureTarget PodFailurePolicy: Container main for pod default/f failed with exit code 42 matching FailJob rule at index 0",
				"Failed PodFailurePolicy: Container main for pod default/f failed with exit code 42 matching FailJob rule at index 0"},
				Events: []string{"Warning PodFailurePolicy: " + exit42Message}}},
		{name: "a FailJob rule for another container does not match and the failure counts",
			job:  newJob(1, 1, rules(inContainer("sidecar", onExit("FailJob", "In", 42)))),
			pods: []*api.Pod{newPod("f", failed, exited("main", 42, at(-5)))},
			want: policyResult{Failed: 1, NextCheck: at(5)}},
		{name: "the first matching rule decides",
			job:  newJob(1, 1, rules(onExit("Ignore", "In", 42), onExit("FailJob", "In", 42))),
			pods: []*api.Pod{newPod("f", failed, exited("main", 42, at(-5)))},
			want: policyResult{Create: []string{"job-"}, Active: 1}},

		// podFailurePolicy: Count and Ignore.
		{name: "exit code 1 matching a Count rule counts against backoffLimit",
			job:  newJob(1, 1, backoffLimit(1), rules(onExit("FailJob", "In", 42), onExit("Count", "In", 1))),
			pods: []*api.Pod{newPod("f1", failed, exited("main", 1, at(-100))), newPod("f2", failed, exited("main", 1, at(-5)))},
			want: policyResult{Failed: 2,
				Conditions: []string{"FailureTarget " + backoffReason, "Failed " + backoffReason},
				Events:     []string{backoffEvent}}},
		{name: "an Ignore rule replaces the pod at once without counting",
			job:  newJob(1, 1, rules(onExit("Ignore", "In", 3))),
			pods: []*api.Pod{newPod("f", failed, exited("main", 3, at(-1)))},
			want: policyResult{Create: []string{"job-"}, Active: 1}},
		{name: "without a podFailurePolicy a pod lost with its node is replaced without counting",
			job:  newJob(1, 1),
			pods: []*api.Pod{newPod("f", failed, lostWithNode(at(-1)))},
			want: policyResult{Create: []string{"job-"}, Active: 1}},
		{name: "an Ignore rule on DisruptionTarget ignores a pod lost with its node",
			job:  newJob(1, 1, backoffLimit(0), rules(onExit("FailJob", "In", 42), onDisruption("Ignore"))),
			pods: []*api.Pod{newPod("f", failed, lostWithNode(at(-1)))},
			want: policyResult{Create: []string{"job-"}, Active: 1}},
		{name: "with a podFailurePolicy that no rule of matches, a pod lost with its node counts",
			job:  newJob(1, 1, backoffLimit(0), rules(onExit("FailJob", "In", 42))),
			pods: []*api.Pod{newPod("f", failed, lostWithNode(at(-1)))},
			want: policyResult{Failed: 1,
				Conditions: []string{"FailureTarget " + backoffReason, "Failed " + backoffReason},
				Events:     []string{backoffEvent}}},
		{name: "an exit code rule does not match the exit code a lost node's pod is given",
			job:  newJob(1, 1, rules(onExit("FailJob", "In", 137), onDisruption("Ignore"))),
			pods: []*api.Pod{newPod("f", failed, lostWithNode(at(-1)))},
			want: policyResult{Create: []string{"job-"}, Active: 1}},
		{name: "a FailJob rule on DisruptionTarget names the condition",
			job:  newJob(1, 1, rules(onDisruption("FailJob"))),
			pods: []*api.Pod{newPod("f", failed, lostWithNode(at(-1)))},
			want: policyResult{Failed: 1, Conditions: []string{
				"FailureTarget PodFailurePolicy: Pod default/f has condition DisruptionTarget matching FailJob rule at index 0",
				"Failed PodFailurePolicy: Pod default/f has condition DisruptionTarget matching FailJob rule at index 0"},
				Events: []string{"Warning PodFailurePolicy: Pod default/f has condition DisruptionTarget matching FailJob rule at index 0"}}},
		{name: "pods the controller stopped are not judged by the policy",
			job:  newJob(1, 1, rules(onExit("FailJob", "NotIn", 0))),
			pods: []*api.Pod{newPod("x", failed, reason(reasonExcessPod), exited("main", 143, at(-1)))},
			want: policyResult{Create: []string{"job-"}, Active: 1}},

		// backoffLimitPerIndex and maxFailedIndexes.
		{name: "a failed index is retried with its failure count annotated",
			job: newJob(3, 3, indexed, limitPerIndex(1)),
			pods: []*api.Pod{newPod("a", failed, idx(0), failures(0), exited("main", 1, at(-60))),
				newPod("b", running, idx(1), failures(0)), newPod("c", running, idx(2), failures(0))},
			want: policyResult{Create: []string{"job-0- failures=1"}, Active: 3, Failed: 1}},
		{name: "an index that used its retries fails and the other indexes go on",
			job: newJob(3, 3, indexed, limitPerIndex(1)),
			pods: []*api.Pod{newPod("a0", failed, idx(0), failures(0), exited("main", 1, at(-90))), newPod("a1", failed, idx(0), failures(1), exited("main", 1, at(-60))),
				newPod("b", running, idx(1), failures(0)), newPod("c", running, idx(2), failures(0))},
			want: policyResult{Active: 2, Failed: 2, FailedIndexes: "0"}},
		{name: "the Job fails with FailedIndexes once every other index succeeded",
			job: newJob(3, 3, indexed, limitPerIndex(1)),
			pods: []*api.Pod{newPod("a0", failed, idx(0), failures(0), exited("main", 1, at(-90))), newPod("a1", failed, idx(0), failures(1), exited("main", 1, at(-60))),
				newPod("b", succeeded, idx(1), finished(at(-50))), newPod("c", succeeded, idx(2), finished(at(-40)))},
			want: policyResult{Failed: 2, CompletedIndexes: "1,2", FailedIndexes: "0",
				Conditions: []string{"FailureTarget FailedIndexes: Job has failed indexes", "Failed FailedIndexes: Job has failed indexes"},
				Events:     []string{"Warning FailedIndexes: Job has failed indexes"}}},
		{name: "more failed indexes than maxFailedIndexes fail the Job at once",
			job: newJob(3, 3, indexed, limitPerIndex(0), maxFailedIndexes(0)),
			pods: []*api.Pod{newPod("a", failed, idx(0), failures(0), exited("main", 1, at(-60))),
				newPod("b", running, idx(1), failures(0))},
			want: policyResult{Stop: []string{"b MaxFailedIndexesExceeded"}, Failed: 1, Terminating: 1, FailedIndexes: "0",
				Conditions: []string{"FailureTarget MaxFailedIndexesExceeded: Job has exceeded the specified maximal number of failed indexes"}}},
		{name: "FailIndex fails the index at once while backoffLimitPerIndex would retry it",
			job: newJob(3, 3, indexed, limitPerIndex(3), rules(onExit("FailIndex", "In", 42))),
			pods: []*api.Pod{newPod("a", failed, idx(0), failures(0), exited("main", 42, at(-60))),
				newPod("b", running, idx(1), failures(0)), newPod("c", running, idx(2), failures(0))},
			want: policyResult{Active: 2, Failed: 1, FailedIndexes: "0"}},
		{name: "an Ignore rule retries the index without using its retries",
			job:  newJob(1, 1, indexed, limitPerIndex(0), rules(onExit("Ignore", "In", 3))),
			pods: []*api.Pod{newPod("a", failed, idx(0), failures(0), exited("main", 3, at(-1)))},
			want: policyResult{Create: []string{"job-0- failures=0 ignored=1"}, Active: 1, FailedIndexes: ""}},
		{name: "each index backs off on its own",
			job: newJob(2, 2, indexed, limitPerIndex(3)),
			pods: []*api.Pod{newPod("a", failed, idx(0), failures(1), exited("main", 1, at(-5))),
				newPod("b", failed, idx(1), failures(0), exited("main", 1, at(-100)))},
			want: policyResult{Create: []string{"job-1- failures=1"}, Active: 1, Failed: 2, NextCheck: at(15)}},
		{name: "a running pod of a recorded failed index is stopped",
			job:  newJob(2, 2, indexed, limitPerIndex(0), recordedFailedIndexes("0")),
			pods: []*api.Pod{newPod("a", running, idx(0)), newPod("b", running, idx(1))},
			want: policyResult{Stop: []string{"a ExcessPod"}, Active: 1, Terminating: 1, FailedIndexes: "0"}},

		// successPolicy.
		{name: "two of five indexes meet a succeededCount rule and the rest are stopped",
			job: newJob(5, 5, indexed, successRule("", 2)),
			pods: []*api.Pod{newPod("s0", succeeded, idx(0)), newPod("s1", succeeded, idx(1)),
				newPod("r2", running, idx(2)), newPod("r3", running, idx(3)), newPod("r4", running, idx(4))},
			want: policyResult{Stop: []string{"r2 ExcessPod", "r3 ExcessPod", "r4 ExcessPod"}, Terminating: 3, CompletedIndexes: "0,1",
				Conditions: []string{"SuccessCriteriaMet SuccessPolicy: " + successMatch}}},
		{name: "the Job completes by its successPolicy once the stopped pods are gone",
			job: newJob(5, 5, indexed, successRule("", 2), withCondition(api.JobSuccessCriteriaMet, api.JobReasonSuccessPolicy, successMatch, at(-5))),
			pods: []*api.Pod{newPod("s0", succeeded, idx(0)), newPod("s1", succeeded, idx(1)),
				newPod("r2", failed, idx(2), reason(reasonExcessPod))},
			want: policyResult{CompletedIndexes: "0,1",
				Conditions: []string{"SuccessCriteriaMet SuccessPolicy: " + successMatch, "Complete SuccessPolicy: " + successMatch},
				Events:     []string{completedEvent}}},
		{name: "a succeededIndexes rule waits for each index it names",
			job:  newJob(1, 3, indexed, successRule("0,2", 0)),
			pods: []*api.Pod{newPod("s0", succeeded, idx(0)), newPod("s1", succeeded, idx(1))},
			want: policyResult{Create: []string{"job-2-"}, Active: 1, CompletedIndexes: "0,1"}},
		{name: "the second rule that matches is named",
			job:  newJob(1, 4, indexed, successRule("0,2", 0), successRule("1-3", 1)),
			pods: []*api.Pod{newPod("s0", succeeded, idx(0)), newPod("s1", succeeded, idx(1))},
			want: policyResult{CompletedIndexes: "0,1",
				Conditions: []string{"SuccessCriteriaMet SuccessPolicy: Matched rules at index 1", "Complete SuccessPolicy: Matched rules at index 1"},
				Events:     []string{completedEvent}}},
		{name: "a successPolicy is met beside a failed index while indexes remain open",
			job: newJob(5, 5, indexed, limitPerIndex(0), successRule("", 2)),
			pods: []*api.Pod{newPod("f0", failed, idx(0), failures(0), exited("main", 1, at(-30))),
				newPod("s1", succeeded, idx(1)), newPod("s2", succeeded, idx(2)), newPod("r3", running, idx(3))},
			want: policyResult{Stop: []string{"r3 ExcessPod"}, Failed: 1, Terminating: 1, CompletedIndexes: "1,2", FailedIndexes: "0",
				Conditions: []string{"SuccessCriteriaMet SuccessPolicy: " + successMatch}}},
		{name: "failed indexes that close the last index fail the Job before the successPolicy is looked at",
			job: newJob(3, 3, indexed, limitPerIndex(0), successRule("", 2)),
			pods: []*api.Pod{newPod("f0", failed, idx(0), failures(0), exited("main", 1, at(-30))),
				newPod("s1", succeeded, idx(1)), newPod("s2", succeeded, idx(2))},
			want: policyResult{Failed: 1, CompletedIndexes: "1,2", FailedIndexes: "0",
				Conditions: []string{"FailureTarget FailedIndexes: Job has failed indexes", "Failed FailedIndexes: Job has failed indexes"},
				Events:     []string{"Warning FailedIndexes: Job has failed indexes"}}},

		// podReplacementPolicy.
		{name: "with podReplacementPolicy Failed a replacement waits for a slow-stopping pod",
			job:  newJob(1, 2, replaceWhenFailed),
			pods: []*api.Pod{newPod("old", running, stopping, reason(api.ReasonDeadlineExceeded))},
			want: policyResult{Terminating: 1}},
		{name: "with podReplacementPolicy Failed the replacement starts once the pod has stopped",
			job:  newJob(1, 2, replaceWhenFailed, backoffLimit(6)),
			pods: []*api.Pod{newPod("old", failed, reason(api.ReasonDeadlineExceeded), exited("main", 143, at(-20)))},
			want: policyResult{Create: []string{"job-"}, Active: 1, Failed: 1}},
		{name: "with podReplacementPolicy TerminatingOrFailed a stopping pod still holds its place",
			job: newJob(1, 2, func(j *api.Job) {
				j.Spec.PodReplacementPolicy = proto.String(api.PodReplacementPolicyTerminatingOrFailed)
			}),
			pods: []*api.Pod{newPod("old", running, stopping)},
			want: policyResult{Terminating: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := proto.Clone(tt.job).(*api.Job)
			plan := ReconcileJob(JobInput{Job: job, Pods: tt.pods, Now: t0})
			if diff := cmp.Diff(tt.want, summarizePolicies(job, plan)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(plan, ReconcileJob(briefInput(JobInput{Job: job, Pods: tt.pods, Now: t0})), protocmp.Transform()); diff != "" {
				t.Errorf("plan differs when succeeded pods come in brief (-pods +brief):\n%s", diff)
			}
			if len(plan.Create) > 0 && len(plan.Stop) > 0 {
				t.Errorf("pass both creates %d and stops %d pods", len(plan.Create), len(plan.Stop))
			}
		})
	}
}

const backoffReason = "BackoffLimitExceeded: Job has reached the specified backoff limit"
