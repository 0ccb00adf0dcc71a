package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// tableNow is the fixed "now" of the table tests.
var tableNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// ts is now moved by offset, as a timestamp.
func ts(now time.Time, offset time.Duration) *timestamppb.Timestamp {
	return timestamppb.New(now.Add(offset))
}

func jobCond(condType string) *api.JobCondition {
	return &api.JobCondition{Type: condType, Status: "True"}
}

func TestJobRows(t *testing.T) {
	now := tableNow
	tests := []struct {
		name string
		job  *api.Job
		wide bool
		want []string
	}{
		{
			name: "completed job shows run time from start to completion",
			job: &api.Job{
				Metadata: &api.ObjectMeta{Name: "pi", CreationTimestamp: ts(now, -(3*time.Hour + 4*time.Minute))},
				Spec:     &api.JobSpec{Completions: proto.Int32(1), Parallelism: proto.Int32(1)},
				Status: &api.JobStatus{Succeeded: 1, StartTime: ts(now, -(3 * time.Hour)), CompletionTime: ts(now, -(3*time.Hour - 65*time.Second)),
					Conditions: []*api.JobCondition{jobCond(api.JobComplete)}},
			},
			want: []string{"pi", "Complete", "1/1", "65s", "3h4m"},
		},
		{
			name: "running work queue counts against one of parallelism",
			job: &api.Job{
				Metadata: &api.ObjectMeta{Name: "queue", CreationTimestamp: ts(now, -45*time.Second)},
				Spec:     &api.JobSpec{Parallelism: proto.Int32(3)},
				Status:   &api.JobStatus{Active: 3, StartTime: ts(now, -45*time.Second)},
			},
			want: []string{"queue", "Running", "0/1 of 3", "45s", "45s"},
		},
		{
			name: "suspended job that never started has no duration",
			job: &api.Job{
				Metadata: &api.ObjectMeta{Name: "later", CreationTimestamp: ts(now, -5*24*time.Hour)},
				Spec:     &api.JobSpec{Completions: proto.Int32(5), Parallelism: proto.Int32(2), Suspend: proto.Bool(true)},
				Status:   &api.JobStatus{Conditions: []*api.JobCondition{jobCond(api.JobSuspended)}},
			},
			want: []string{"later", "Suspended", "0/5", "", "5d"},
		},
		{
			name: "failed job beats a failure target condition",
			job: &api.Job{
				Metadata: &api.ObjectMeta{Name: "broken", CreationTimestamp: ts(now, -10*time.Minute)},
				Spec:     &api.JobSpec{Completions: proto.Int32(5)},
				Status: &api.JobStatus{Succeeded: 2, Failed: 7, StartTime: ts(now, -10*time.Minute), CompletionTime: ts(now, -8*time.Minute),
					Conditions: []*api.JobCondition{jobCond(api.JobFailureTarget), jobCond(api.JobFailed)}},
			},
			want: []string{"broken", "Failed", "2/5", "2m", "10m"},
		},
		{
			name: "condition not true does not count",
			job: &api.Job{
				Metadata: &api.ObjectMeta{Name: "resumed", CreationTimestamp: ts(now, -time.Minute)},
				Spec:     &api.JobSpec{Completions: proto.Int32(1)},
				Status:   &api.JobStatus{Conditions: []*api.JobCondition{{Type: api.JobSuspended, Status: "False"}}},
			},
			want: []string{"resumed", "Running", "0/1", "", "60s"},
		},
		{
			name: "job being deleted",
			job: &api.Job{
				Metadata: &api.ObjectMeta{Name: "going", CreationTimestamp: ts(now, -time.Minute), DeletionTimestamp: ts(now, 0)},
				Spec:     &api.JobSpec{Completions: proto.Int32(1)},
			},
			want: []string{"going", "Terminating", "0/1", "", "60s"},
		},
		{
			name: "wide adds containers, images and selector",
			job: &api.Job{
				Metadata: &api.ObjectMeta{Name: "pi", CreationTimestamp: ts(now, -time.Minute)},
				Spec: &api.JobSpec{
					Completions: proto.Int32(1),
					Selector:    &api.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u1"}},
					Template: &api.PodTemplateSpec{Spec: &api.PodSpec{Containers: []*api.Container{
						{Name: "pi", Image: "perl:5.34"}, {Name: "side", Image: "busybox"},
					}}},
				},
			},
			wide: true,
			want: []string{"pi", "Running", "0/1", "", "60s", "pi,side", "perl:5.34,busybox", "batch.kubernetes.io/controller-uid=u1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, jobRow(tc.job, now, tc.wide)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodRows(t *testing.T) {
	now := tableNow
	meta := func(name string) *api.ObjectMeta {
		return &api.ObjectMeta{Name: name, CreationTimestamp: ts(now, -2*time.Minute)}
	}
	spec := &api.PodSpec{NodeName: "agent-1", Containers: []*api.Container{{Name: "c"}}}
	running := &api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: ts(now, -time.Minute)}}
	terminated := func(reason string, code int32) *api.ContainerState {
		return &api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: reason, ExitCode: code, FinishedAt: ts(now, -12*time.Second)}}
	}
	tests := []struct {
		name string
		pod  *api.Pod
		wide bool
		want []string
	}{
		{
			name: "running container is ready",
			pod: &api.Pod{Metadata: meta("run"), Spec: spec, Status: &api.PodStatus{Phase: api.PodRunning,
				ContainerStatuses: []*api.ContainerStatus{{Name: "c", State: running}}}},
			want: []string{"run", "1/1", "Running", "0", "2m"},
		},
		{
			name: "pending pod without status",
			pod:  &api.Pod{Metadata: meta("new"), Spec: &api.PodSpec{Containers: []*api.Container{{Name: "c"}}}, Status: &api.PodStatus{Phase: api.PodPending}},
			wide: true,
			want: []string{"new", "0/1", "Pending", "0", "2m", "<none>", "<none>"},
		},
		{
			name: "succeeded container shows Completed",
			pod: &api.Pod{Metadata: meta("done"), Spec: spec, Status: &api.PodStatus{Phase: api.PodSucceeded, HostIp: "127.0.0.1",
				ContainerStatuses: []*api.ContainerStatus{{Name: "c", State: terminated("Completed", 0)}}}},
			wide: true,
			want: []string{"done", "0/1", "Completed", "0", "2m", "127.0.0.1", "agent-1"},
		},
		{
			name: "failed container shows Error",
			pod: &api.Pod{Metadata: meta("bad"), Spec: spec, Status: &api.PodStatus{Phase: api.PodFailed,
				ContainerStatuses: []*api.ContainerStatus{{Name: "c", State: terminated("Error", 1)}}}},
			want: []string{"bad", "0/1", "Error", "0", "2m"},
		},
		{
			name: "terminated without reason shows the exit code",
			pod: &api.Pod{Metadata: meta("odd"), Spec: spec, Status: &api.PodStatus{Phase: api.PodFailed,
				ContainerStatuses: []*api.ContainerStatus{{Name: "c", State: terminated("", 3)}}}},
			want: []string{"odd", "0/1", "ExitCode:3", "0", "2m"},
		},
		{
			name: "crash loop shows the waiting reason and when it last restarted",
			pod: &api.Pod{Metadata: meta("loop"), Spec: spec, Status: &api.PodStatus{Phase: api.PodRunning,
				ContainerStatuses: []*api.ContainerStatus{{Name: "c", RestartCount: 2,
					State:     &api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastState: terminated("Error", 1)}}}},
			want: []string{"loop", "0/1", "CrashLoopBackOff", "2 (12s ago)", "2m"},
		},
		{
			name: "pod lost with its node shows the pod's reason",
			pod: &api.Pod{Metadata: meta("lost"), Spec: spec, Status: &api.PodStatus{Phase: api.PodFailed, Reason: api.ReasonNodeLost,
				ContainerStatuses: []*api.ContainerStatus{{Name: "c", State: terminated("Error", 137)}}}},
			want: []string{"lost", "0/1", "NodeLost", "0", "2m"},
		},
		{
			name: "pod past its deadline",
			pod:  &api.Pod{Metadata: meta("late"), Spec: spec, Status: &api.PodStatus{Phase: api.PodFailed, Reason: "DeadlineExceeded"}},
			want: []string{"late", "0/1", "DeadlineExceeded", "0", "2m"},
		},
		{
			name: "running pod being stopped",
			pod: &api.Pod{Metadata: &api.ObjectMeta{Name: "stop", CreationTimestamp: ts(now, -2*time.Minute), DeletionTimestamp: ts(now, -time.Second)},
				Spec: spec, Status: &api.PodStatus{Phase: api.PodRunning, ContainerStatuses: []*api.ContainerStatus{{Name: "c", State: running}}}},
			want: []string{"stop", "1/1", "Terminating", "0", "2m"},
		},
		{
			name: "finished pod being deleted keeps its final status",
			pod: &api.Pod{Metadata: &api.ObjectMeta{Name: "gone", CreationTimestamp: ts(now, -2*time.Minute), DeletionTimestamp: ts(now, -time.Second)},
				Spec: spec, Status: &api.PodStatus{Phase: api.PodSucceeded, ContainerStatuses: []*api.ContainerStatus{{Name: "c", State: terminated("Completed", 0)}}}},
			want: []string{"gone", "0/1", "Completed", "0", "2m"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, podRow(tc.pod, now, tc.wide)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCronJobRows(t *testing.T) {
	now := tableNow
	tests := []struct {
		name string
		cj   *api.CronJob
		want []string
	}{
		{
			name: "never scheduled, no time zone",
			cj: &api.CronJob{Metadata: &api.ObjectMeta{Name: "hello", CreationTimestamp: ts(now, -30*time.Second)},
				Spec: &api.CronJobSpec{Schedule: "*/1 * * * *", Suspend: proto.Bool(false)}},
			want: []string{"hello", "*/1 * * * *", "<none>", "False", "0", "<none>", "30s"},
		},
		{
			name: "suspended with a time zone and an active job",
			cj: &api.CronJob{Metadata: &api.ObjectMeta{Name: "nightly", CreationTimestamp: ts(now, -48*time.Hour)},
				Spec:   &api.CronJobSpec{Schedule: "0 3 * * *", TimeZone: proto.String("Europe/Paris"), Suspend: proto.Bool(true)},
				Status: &api.CronJobStatus{Active: []*api.ObjectReference{{Name: "nightly-28577700"}}, LastScheduleTime: ts(now, -9*time.Hour)}},
			want: []string{"nightly", "0 3 * * *", "Europe/Paris", "True", "1", "9h", "2d"},
		},
		{
			name: "suspend left unset",
			cj: &api.CronJob{Metadata: &api.ObjectMeta{Name: "raw", CreationTimestamp: ts(now, -time.Minute)},
				Spec: &api.CronJobSpec{Schedule: "@hourly"}},
			want: []string{"raw", "@hourly", "<none>", "<unset>", "0", "<none>", "60s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, cronJobRow(tc.cj, now, false)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeRows(t *testing.T) {
	now := tableNow
	ready := func(status string) *api.NodeStatus {
		return &api.NodeStatus{Conditions: []*api.NodeCondition{{Type: "Ready", Status: status}},
			Addresses: []*api.NodeAddress{{Type: "InternalIP", Address: "127.0.0.2"}}}
	}
	tests := []struct {
		name string
		node *api.Node
		wide bool
		want []string
	}{
		{
			name: "ready agent with a version",
			node: &api.Node{Metadata: &api.ObjectMeta{Name: "agent-1", CreationTimestamp: ts(now, -10*time.Minute),
				Labels: map[string]string{labelNodeVersion: "v0.1.0"}}, Status: ready("True")},
			wide: true,
			want: []string{"agent-1", "Ready", "<none>", "10m", "v0.1.0", "127.0.0.2", "<unknown>"},
		},
		{
			name: "agent running processes and docker",
			node: &api.Node{Metadata: &api.ObjectMeta{Name: "agent-4", CreationTimestamp: ts(now, -10*time.Minute),
				Annotations: map[string]string{annotationRuntimes: "process,docker"}},
				Status: func() *api.NodeStatus {
					s := ready("True")
					s.NodeInfo = &api.NodeSystemInfo{ContainerRuntimeVersion: "docker://20.10.24"}
					return s
				}()},
			wide: true,
			want: []string{"agent-4", "Ready", "<none>", "10m", "<none>", "127.0.0.2", "docker://20.10.24 (process,docker)"},
		},
		{
			name: "agent running processes only",
			node: &api.Node{Metadata: &api.ObjectMeta{Name: "agent-5", CreationTimestamp: ts(now, -10*time.Minute),
				Annotations: map[string]string{annotationRuntimes: "process"}}, Status: ready("True")},
			wide: true,
			want: []string{"agent-5", "Ready", "<none>", "10m", "<none>", "127.0.0.2", "process"},
		},
		{
			name: "dead agent",
			node: &api.Node{Metadata: &api.ObjectMeta{Name: "agent-2", CreationTimestamp: ts(now, -10*time.Minute)}, Status: ready("Unknown")},
			want: []string{"agent-2", "NotReady", "<none>", "10m", "<none>"},
		},
		{
			name: "cordoned agent without conditions, with a role label",
			node: &api.Node{Metadata: &api.ObjectMeta{Name: "agent-3", CreationTimestamp: ts(now, -time.Minute),
				Labels: map[string]string{"node-role.kubernetes.io/gpu": ""}}, Spec: &api.NodeSpec{Unschedulable: true}},
			want: []string{"agent-3", "Unknown,SchedulingDisabled", "gpu", "60s", "<none>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, nodeRow(tc.node, now, tc.wide)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJobTableLayout(t *testing.T) {
	now := tableNow
	jobs := []*api.Object{
		{Kind: &api.Object_Job{Job: &api.Job{
			Metadata: &api.ObjectMeta{Name: "batch-job", CreationTimestamp: ts(now, -2*time.Minute-5*time.Second)},
			Spec:     &api.JobSpec{Completions: proto.Int32(5), Parallelism: proto.Int32(2)},
			Status:   &api.JobStatus{Succeeded: 2, Active: 2, StartTime: ts(now, -2*time.Minute)},
		}}},
		{Kind: &api.Object_Job{Job: &api.Job{
			Metadata: &api.ObjectMeta{Name: "pi", CreationTimestamp: ts(now, -time.Hour)},
			Spec:     &api.JobSpec{Completions: proto.Int32(1)},
			Status: &api.JobStatus{Succeeded: 1, StartTime: ts(now, -time.Hour), CompletionTime: ts(now, -time.Hour+10*time.Second),
				Conditions: []*api.JobCondition{jobCond(api.JobComplete)}},
		}}},
	}
	want := "" +
		"NAME        STATUS     COMPLETIONS   DURATION   AGE\n" +
		"batch-job   Running    2/5           2m         2m5s\n" +
		"pi          Complete   1/1           10s        60m\n"
	var out bytes.Buffer
	if err := printObjects(&out, &bytes.Buffer{}, api.JobResource, jobs, outputTable, false, now, scope{namespace: "default"}); err != nil {
		t.Fatalf("printObjects: %v", err)
	}
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestFormatSelector(t *testing.T) {
	tests := []struct {
		name string
		sel  *api.LabelSelector
		want string
	}{
		{name: "none", sel: nil, want: "<none>"},
		{name: "labels sorted", sel: &api.LabelSelector{MatchLabels: map[string]string{"b": "2", "a": "1"}}, want: "a=1,b=2"},
		{name: "expressions", sel: &api.LabelSelector{MatchExpressions: []*api.LabelSelectorRequirement{
			{Key: "tier", Operator: "In", Values: []string{"web", "db"}},
			{Key: "gpu", Operator: "Exists"},
			{Key: "spot", Operator: "DoesNotExist"},
		}}, want: "!spot,gpu,tier in (db,web)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatSelector(tc.sel); got != tc.want {
				t.Errorf("formatSelector = %q, want %q", got, tc.want)
			}
		})
	}
}
