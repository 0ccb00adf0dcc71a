package main

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

func podRow(p *api.Pod, now time.Time, wide bool) []string {
	restarts, lastRestart := podRestarts(p)
	restartText := fmt.Sprint(restarts)
	if restarts != 0 && lastRestart != nil {
		restartText = fmt.Sprintf("%d (%s ago)", restarts, age(lastRestart, now))
	}
	row := []string{p.GetMetadata().GetName(), podReady(p), podStatus(p), restartText, age(p.GetMetadata().GetCreationTimestamp(), now)}
	if wide {
		row = append(row, orNone(p.GetStatus().GetHostIp()), orNone(p.GetSpec().GetNodeName()))
	}
	return row
}

// podReady is the READY column: running containers of all containers. The
// process runtime has no readiness probes, so a running container is ready.
func podReady(p *api.Pod) string {
	total := len(p.GetSpec().GetContainers())
	statuses := p.GetStatus().GetContainerStatuses()
	total = max(total, len(statuses))
	ready := 0
	for _, cs := range statuses {
		if cs.GetState().GetRunning() != nil {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, total)
}

// podStatus is the STATUS column, following kubectl: the phase, replaced by
// a container's waiting or terminated reason, "Terminating" while a
// running pod is being stopped. A reason the cluster gave a failed pod
// (NodeLost, DeadlineExceeded) wins over its container's, because it
// explains why the pod ended.
func podStatus(p *api.Pod) string {
	st := p.GetStatus()
	reason := st.GetPhase()
	if st.GetReason() != "" {
		reason = st.GetReason()
	}
	running := false
	statuses := st.GetContainerStatuses()
	for i := len(statuses) - 1; i >= 0; i-- {
		state := statuses[i].GetState()
		switch term := state.GetTerminated(); {
		case state.GetWaiting().GetReason() != "":
			reason = state.GetWaiting().GetReason()
		case term != nil && term.GetReason() != "":
			reason = term.GetReason()
		case term != nil && term.GetSignal() != 0:
			reason = fmt.Sprintf("Signal:%d", term.GetSignal())
		case term != nil:
			reason = fmt.Sprintf("ExitCode:%d", term.GetExitCode())
		case state.GetRunning() != nil:
			running = true
		}
	}
	if reason == "Completed" && running {
		reason = "Running"
	}
	if st.GetPhase() == api.PodFailed && st.GetReason() != "" {
		reason = st.GetReason()
	}
	if p.GetMetadata().GetDeletionTimestamp() != nil && !api.IsPodTerminal(p) {
		reason = "Terminating"
	}
	if reason == "" {
		reason = "Pending"
	}
	return reason
}

// podRestarts sums the restarts of the pod's containers and finds when the
// last one ended.
func podRestarts(p *api.Pod) (int32, *timestamppb.Timestamp) {
	var (
		restarts int32
		last     *timestamppb.Timestamp
	)
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		restarts += cs.GetRestartCount()
		finished := cs.GetLastState().GetTerminated().GetFinishedAt()
		if finished != nil && (last == nil || finished.AsTime().After(last.AsTime())) {
			last = finished
		}
	}
	return restarts, last
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
