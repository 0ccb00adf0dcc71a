package api

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestPodConditions(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	at := func(s int) *timestamppb.Timestamp { return timestamppb.New(t0.Add(time.Duration(s) * time.Second)) }
	scheduled := &PodCondition{Type: PodScheduled, Status: ConditionTrue, LastTransitionTime: at(0)}
	running := func(s int) *ContainerState {
		return &ContainerState{Running: &ContainerStateRunning{StartedAt: at(s)}}
	}
	done := func(code int32, s int) *ContainerState {
		return &ContainerState{Terminated: &ContainerStateTerminated{ExitCode: code, StartedAt: at(1), FinishedAt: at(s)}}
	}
	spec := &PodSpec{Containers: []*Container{{Name: "main"}}}
	tests := []struct {
		name string
		pod  *Pod
		want string // type=status/reason@seconds, in order
	}{
		{
			name: "unscheduled: the stored conditions only",
			pod:  &Pod{Spec: spec, Status: &PodStatus{Phase: PodPending, Conditions: []*PodCondition{{Type: PodScheduled, Status: ConditionFalse, Reason: ReasonUnschedulable, LastTransitionTime: at(0)}}}},
			want: "PodScheduled=False/Unschedulable@0",
		},
		{
			name: "scheduled, not started",
			pod:  &Pod{Spec: spec, Status: &PodStatus{Phase: PodPending, Conditions: []*PodCondition{scheduled}}},
			want: "PodReadyToStartContainers=True/@0 Initialized=True/@0 Ready=False/ContainersNotReady@0 ContainersReady=False/ContainersNotReady@0 PodScheduled=True/@0",
		},
		{
			name: "running",
			pod: &Pod{Spec: spec, Status: &PodStatus{Phase: PodRunning, Conditions: []*PodCondition{scheduled},
				ContainerStatuses: []*ContainerStatus{{Name: "main", State: running(2)}}}},
			want: "PodReadyToStartContainers=True/@0 Initialized=True/@0 Ready=True/@2 ContainersReady=True/@2 PodScheduled=True/@0",
		},
		{
			name: "succeeded",
			pod: &Pod{Spec: spec, Status: &PodStatus{Phase: PodSucceeded, Conditions: []*PodCondition{scheduled},
				ContainerStatuses: []*ContainerStatus{{Name: "main", State: done(0, 9)}}}},
			want: "PodReadyToStartContainers=False/@9 Initialized=True/PodCompleted@0 Ready=False/PodCompleted@9 ContainersReady=False/PodCompleted@9 PodScheduled=True/@0",
		},
		{
			name: "failed",
			pod: &Pod{Spec: spec, Status: &PodStatus{Phase: PodFailed, Conditions: []*PodCondition{scheduled},
				ContainerStatuses: []*ContainerStatus{{Name: "main", State: done(1, 7)}}}},
			want: "PodReadyToStartContainers=False/@7 Initialized=True/PodCompleted@0 Ready=False/PodFailed@7 ContainersReady=False/PodFailed@7 PodScheduled=True/@0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range PodConditions(tt.pod) {
				got = append(got, c.GetType()+"="+c.GetStatus()+"/"+c.GetReason()+"@"+
					strings.TrimSuffix(c.GetLastTransitionTime().AsTime().Sub(t0).String(), "s"))
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("got  %s\nwant %s", g, tt.want)
			}
		})
	}
}
