package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

func describeJobFixture(now time.Time) (*api.Job, []*api.Event) {
	job := &api.Job{
		Metadata: &api.ObjectMeta{
			Name:              "pi",
			CreationTimestamp: ts(now, -3*time.Minute),
			Labels:            map[string]string{"app": "pi", "team": "math"},
			OwnerReferences:   []*api.OwnerReference{{Kind: "CronJob", Name: "pi-cron", Controller: proto.Bool(true)}},
		},
		Spec: &api.JobSpec{
			Parallelism:    proto.Int32(2),
			Completions:    proto.Int32(3),
			CompletionMode: proto.String(api.CompletionModeNonIndexed),
			Suspend:        proto.Bool(false),
			BackoffLimit:   proto.Int32(6),
			Selector:       &api.LabelSelector{MatchLabels: map[string]string{api.LabelBatchControllerUID: "u-1"}},
			Template: &api.PodTemplateSpec{
				Metadata: &api.ObjectMeta{Labels: map[string]string{api.LabelJobName: "pi"}},
				Spec: &api.PodSpec{
					RestartPolicy: api.RestartPolicyNever,
					Containers: []*api.Container{{
						Name:    "pi",
						Image:   "perl:5.34",
						Command: []string{"perl", "-Mbignum=bpi", "-wle"},
						Args:    []string{"print bpi(2000)"},
						Env:     []*api.EnvVar{{Name: "DIGITS", Value: "2000"}},
					}},
				},
			},
		},
		Status: &api.JobStatus{
			StartTime:      ts(now, -3*time.Minute),
			CompletionTime: ts(now, -time.Minute),
			Succeeded:      3,
			Failed:         1,
			Ready:          proto.Int32(0),
			Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "True", Reason: "CompletionsReached",
				Message: "Reached expected number of succeeded pods", LastTransitionTime: ts(now, -time.Minute)}},
		},
	}
	events := []*api.Event{
		{InvolvedObject: &api.ObjectReference{Kind: "Job", Name: "pi"}, Type: "Normal", Reason: "SuccessfulCreate",
			Message: "Created pod: pi-abcde", FirstTimestamp: ts(now, -3*time.Minute), LastTimestamp: ts(now, -2*time.Minute), Count: 3},
		{InvolvedObject: &api.ObjectReference{Kind: "Job", Name: "pi"}, Type: "Normal", Reason: "Completed",
			Message: "Job completed", FirstTimestamp: ts(now, -time.Minute), LastTimestamp: ts(now, -time.Minute), Count: 1},
	}
	return job, events
}

func describePodFixture(now time.Time) *api.Pod {
	return &api.Pod{
		Metadata: &api.ObjectMeta{Name: "pi-abcde", CreationTimestamp: ts(now, -2*time.Minute), Labels: map[string]string{"job-name": "pi"},
			OwnerReferences: []*api.OwnerReference{{Kind: "Job", Name: "pi", Controller: proto.Bool(true)}}},
		Spec: &api.PodSpec{NodeName: "agent-1", RestartPolicy: "OnFailure", Containers: []*api.Container{{Name: "pi", Command: []string{"sh", "-c", "exit 1"},
			Resources: &api.ResourceRequirements{Requests: map[string]string{"cpu": "500m", "memory": "128Mi"}}}}},
		Status: &api.PodStatus{Phase: "Running", HostIp: "127.0.0.1", StartTime: ts(now, -2*time.Minute),
			Conditions: []*api.PodCondition{{Type: "Ready", Status: "False"}},
			ContainerStatuses: []*api.ContainerStatus{{Name: "pi", RestartCount: 2,
				State:     &api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 20s restarting failed container"}},
				LastState: &api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: "Error", ExitCode: 1, StartedAt: ts(now, -20*time.Second), FinishedAt: ts(now, -19*time.Second)}}}}},
	}
}

func describeCronJobFixture(now time.Time) *api.CronJob {
	return &api.CronJob{Metadata: &api.ObjectMeta{Name: "hello", CreationTimestamp: ts(now, -time.Hour)},
		Spec: &api.CronJobSpec{Schedule: "*/1 * * * *", ConcurrencyPolicy: "Allow", Suspend: proto.Bool(false), SuccessfulJobsHistoryLimit: proto.Int32(3), FailedJobsHistoryLimit: proto.Int32(1),
			JobTemplate: &api.JobTemplateSpec{Spec: &api.JobSpec{BackoffLimit: proto.Int32(6), Template: &api.PodTemplateSpec{Spec: &api.PodSpec{Containers: []*api.Container{{Name: "hello", Command: []string{"date"}}}}}}}},
		Status: &api.CronJobStatus{LastScheduleTime: ts(now, -30*time.Second), Active: []*api.ObjectReference{{Name: "hello-28577719"}}}}
}

func describeNodeFixture(now time.Time) *api.Node {
	return &api.Node{Metadata: &api.ObjectMeta{Name: "agent-1", CreationTimestamp: ts(now, -time.Hour), Labels: map[string]string{"zone": "a"}},
		Status: &api.NodeStatus{Capacity: map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"}, Allocatable: map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"},
			Conditions: []*api.NodeCondition{{Type: "Ready", Status: "True", Reason: "AgentReady", Message: "agent is alive", LastHeartbeatTime: ts(now, -time.Second), LastTransitionTime: ts(now, -time.Hour)}},
			Addresses:  []*api.NodeAddress{{Type: "InternalIP", Address: "127.0.0.1"}}}}
}

func TestDescribe(t *testing.T) {
	now := tableNow
	d := describer{now: now, loc: time.UTC}
	job, jobEvents := describeJobFixture(now)
	pod := describePodFixture(now)
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "finished job with repeated events", got: d.job(job, jobEvents), want: wantDescribeJob},
		{name: "crash-looping pod without events", got: d.pod(pod, nil), want: wantDescribePod},
		{name: "cronjob with an active job", got: d.cronJob(describeCronJobFixture(now), nil, nil), want: wantDescribeCronJob},
		{name: "node running one pod", got: d.node(describeNodeFixture(now), []*api.Pod{pod}, nil), want: wantDescribeNode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("description (-want +got):\n%s", diff)
			}
		})
	}
}

const wantDescribeJob = `Name:             pi
Namespace:        default
Selector:         batch.kubernetes.io/controller-uid=u-1
Labels:           app=pi
                  team=math
Annotations:      <none>
Controlled By:    CronJob/pi-cron
Parallelism:      2
Completions:      3
Completion Mode:  NonIndexed
Suspend:          false
Backoff Limit:    6
Start Time:       Wed, 01 May 2024 11:57:00 +0000
Completed At:     Wed, 01 May 2024 11:59:00 +0000
Duration:         2m
Pods Statuses:    0 Active (0 Ready) / 3 Succeeded / 1 Failed
Pod Template:
  Labels:  job-name=pi
  Containers:
   pi:
    Image:  perl:5.34
    Command:
      perl
      -Mbignum=bpi
      -wle
    Args:
      print bpi(2000)
    Environment:
      DIGITS:      2000
  Node-Selectors:  <none>
Conditions:
  Type      Status  LastTransitionTime               Reason              Message
  ----      ------  ------------------               ------              -------
  Complete  True    Wed, 01 May 2024 11:59:00 +0000  CompletionsReached  Reached expected number of succeeded pods
Events:
  Type    Reason            Age              From            Message
  ----    ------            ----             ----            -------
  Normal  SuccessfulCreate  2m (x3 over 3m)  job-controller  Created pod: pi-abcde
  Normal  Completed         60s              job-controller  Job completed
`

const wantDescribePod = `Name:           pi-abcde
Namespace:      default
Node:           agent-1/127.0.0.1
Start Time:     Wed, 01 May 2024 11:58:00 +0000
Labels:         job-name=pi
Annotations:    <none>
Status:         Running
Controlled By:  Job/pi
Containers:
  pi:
    Image:  <none>
    Command:
      sh
      -c
      exit 1
    State:          Waiting
      Reason:       CrashLoopBackOff
      Message:      back-off 20s restarting failed container
    Last State:     Terminated
      Reason:       Error
      Exit Code:    1
      Started:      Wed, 01 May 2024 11:59:40 +0000
      Finished:     Wed, 01 May 2024 11:59:41 +0000
    Ready:          False
    Restart Count:  2
    Requests:
      cpu:        500m
      memory:     128Mi
    Environment:  <none>
Conditions:
  Type   Status
  Ready  False
Restart Policy:  OnFailure
Node-Selectors:  <none>
Events:          <none>
`

const wantDescribeCronJob = `Name:                          hello
Namespace:                     default
Labels:                        <none>
Annotations:                   <none>
Schedule:                      */1 * * * *
Time Zone:                     <unset>
Concurrency Policy:            Allow
Suspend:                       False
Successful Job History Limit:  3
Failed Job History Limit:      1
Starting Deadline Seconds:     <unset>
Selector:                      <unset>
Completions:                   <unset>
Backoff Limit:                 6
Pod Template:
  Labels:  <none>
  Containers:
   hello:
    Image:  <none>
    Command:
      date
    Environment:     <none>
  Node-Selectors:    <none>
Last Schedule Time:  Wed, 01 May 2024 11:59:30 +0000
Next Schedule Times:
  2024-05-01T12:01:00Z
  2024-05-01T12:02:00Z
  2024-05-01T12:03:00Z
  2024-05-01T12:04:00Z
  2024-05-01T12:05:00Z
Active Jobs:  hello-28577719
Events:       <none>
`

const wantDescribeNode = `Name:               agent-1
Roles:              <none>
Labels:             zone=a
Annotations:        <none>
CreationTimestamp:  Wed, 01 May 2024 11:00:00 +0000
Unschedulable:      false
Conditions:
  Type   Status  LastHeartbeatTime                LastTransitionTime               Reason      Message
  ----   ------  -----------------                ------------------               ------      -------
  Ready  True    Wed, 01 May 2024 11:59:59 +0000  Wed, 01 May 2024 11:00:00 +0000  AgentReady  agent is alive
Addresses:
  InternalIP:  127.0.0.1
Capacity:
  cpu:     4
  memory:  8Gi
  pods:    110
Allocatable:
  cpu:                4
  memory:             8Gi
  pods:               110
Non-terminated Pods:  (1 in total)
  Namespace  Name      CPU Requests  Memory Requests  Age
  ---------  ----      ------------  ---------------  ---
  default    pi-abcde  500m (12%)    128Mi (1%)       2m
Events:  <none>
`
