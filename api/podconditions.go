package api

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// The pod condition types kubelet sets besides PodScheduled.
const (
	PodReadyToStartContainers = "PodReadyToStartContainers"
	PodInitialized            = "Initialized"
	PodReady                  = "Ready"
	PodContainersReady        = "ContainersReady"
)

// PodConditions returns a pod's conditions as kubelet reports them: once
// the pod is scheduled, PodReadyToStartContainers, Initialized, Ready and
// ContainersReady, derived from its phase and container states, then
// PodScheduled; before that, the stored conditions alone. A running pod
// whose containers all run is Ready (pods have no probes here); a
// finished one is not, with reason PodCompleted or PodFailed, as in
// Kubernetes. The times come from the pod's own record, so every server
// derives the same.
func PodConditions(p *Pod) []*PodCondition {
	stored := p.GetStatus().GetConditions()
	var scheduled *PodCondition
	for _, c := range stored {
		if c.GetType() == PodScheduled && c.GetStatus() == ConditionTrue {
			scheduled = c
		}
	}
	if scheduled == nil {
		return stored
	}
	st := p.GetStatus()
	since := scheduled.GetLastTransitionTime()
	var started, finished *timestamppb.Timestamp
	var unready []string
	for _, cs := range st.GetContainerStatuses() {
		switch s := cs.GetState(); {
		case s.GetRunning() != nil:
			started = later(started, s.GetRunning().GetStartedAt())
		case s.GetTerminated() != nil:
			finished = later(finished, s.GetTerminated().GetFinishedAt())
			unready = append(unready, cs.GetName())
		default:
			unready = append(unready, cs.GetName())
		}
	}
	if len(st.GetContainerStatuses()) == 0 {
		for _, c := range p.GetSpec().GetContainers() {
			unready = append(unready, c.GetName())
		}
	}
	cond := func(typ string, ok bool, at *timestamppb.Timestamp, reason, msg string) *PodCondition {
		c := &PodCondition{Type: typ, Status: ConditionFalse, LastTransitionTime: at, Reason: reason, Message: msg}
		if ok {
			c.Status = ConditionTrue
		}
		if c.LastTransitionTime == nil {
			c.LastTransitionTime = since
		}
		return c
	}
	var out []*PodCondition
	switch phase := st.GetPhase(); phase {
	case PodSucceeded, PodFailed:
		reason := "PodCompleted"
		if phase == PodFailed {
			reason = "PodFailed"
		}
		out = []*PodCondition{
			cond(PodReadyToStartContainers, false, finished, "", ""),
			cond(PodInitialized, true, since, "PodCompleted", ""),
			cond(PodReady, false, finished, reason, ""),
			cond(PodContainersReady, false, finished, reason, ""),
		}
	default:
		ready := phase == PodRunning && len(unready) == 0 && started != nil
		at, reason, msg := started, "", ""
		if !ready {
			at, reason, msg = since, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
		}
		out = []*PodCondition{
			cond(PodReadyToStartContainers, true, since, "", ""),
			cond(PodInitialized, true, since, "", ""),
			cond(PodReady, ready, at, reason, msg),
			cond(PodContainersReady, ready, at, reason, msg),
		}
	}
	for _, c := range stored {
		switch c.GetType() {
		case PodReadyToStartContainers, PodInitialized, PodReady, PodContainersReady:
		default:
			out = append(out, c)
		}
	}
	return out
}

// later returns the later of two times, either of which may be nil.
func later(a, b *timestamppb.Timestamp) *timestamppb.Timestamp {
	if a == nil || (b != nil && b.AsTime().After(a.AsTime())) {
		return b
	}
	return a
}
