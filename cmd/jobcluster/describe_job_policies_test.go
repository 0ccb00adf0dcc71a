package main

import (
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
)

func TestDescribeJobShowsPolicies(t *testing.T) {
	now := tableNow
	d := describer{now: now, loc: time.UTC}
	job, _ := describeJobFixture(now)
	spec := job.Spec
	spec.CompletionMode = proto.String(api.CompletionModeIndexed)
	spec.BackoffLimitPerIndex = proto.Int32(1)
	spec.MaxFailedIndexes = proto.Int32(2)
	spec.PodReplacementPolicy = proto.String(api.PodReplacementPolicyFailed)
	spec.PodFailurePolicy = &api.PodFailurePolicy{Rules: []*api.PodFailurePolicyRule{
		{Action: "FailJob", OnExitCodes: &api.PodFailurePolicyOnExitCodesRequirement{ContainerName: proto.String("pi"), Operator: "In", Values: []int32{42, 43}}},
		{Action: "Ignore", OnPodConditions: []*api.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget", Status: "True"}}},
	}}
	spec.SuccessPolicy = &api.SuccessPolicy{Rules: []*api.SuccessPolicyRule{{SucceededIndexes: proto.String("0-2"), SucceededCount: proto.Int32(2)}}}
	job.Status.Active, job.Status.Ready, job.Status.Terminating = 1, proto.Int32(1), proto.Int32(2)
	job.Status.FailedIndexes = proto.String("1")
	const message = "Container pi for pod default/pi-0-x failed with exit code 42 matching FailJob rule at index 0"
	events := []*api.Event{{Type: "Warning", Reason: "PodFailurePolicy", Message: message, Count: 1, LastTimestamp: ts(now, -time.Minute)}}

	// Alignment depends on the neighbouring lines; compare words only.
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	got := squeeze(d.job(job, events))
	for _, want := range []string{
		"Backoff Limit Per Index:  1\n",
		"Max Failed Indexes:       2\n",
		"Pod Replacement Policy:   Failed\n",
		"Pod Failure Policy:\n  0:  FailJob on exit codes In [42,43] of container pi\n  1:  Ignore on pod conditions DisruptionTarget=True\n",
		"Success Policy:\n  0:  succeededIndexes 0-2, succeededCount 2\n",
		"Pods Statuses:            1 Active (1 Ready) / 3 Succeeded / 1 Failed / 2 Terminating\n",
		"Failed Indexes:           1\n",
		message,
	} {
		if !strings.Contains(got, squeeze(want)) {
			t.Errorf("description lacks %q:\n%s", want, got)
		}
	}
}
