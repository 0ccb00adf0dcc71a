package agent

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// Reasons the agent gives in pod and container statuses.
const (
	reasonCompleted  = "Completed"
	reasonError      = "Error"
	reasonKilled     = "Killed"
	reasonStartError = "StartError"
	// reasonOOMKilled ends a container its runtime killed for going over
	// its memory limit (exit code 137).
	reasonOOMKilled        = "OOMKilled"
	reasonCrashLoopBackOff = "CrashLoopBackOff"
)

// Kubelet's restart back-off: doubling up to a cap, forgotten after a
// container ran fine for a while.
const (
	maxRestartBackoff   = 5 * time.Minute
	backoffResetRunTime = 10 * time.Minute
)

// containerRun is the state of one container of a running pod, owned by
// the pod's runner goroutine.
type containerRun struct {
	spec      *api.Container
	restarts  int32
	state     *api.ContainerState
	lastState *api.ContainerState
	proc      Process
	// prepared is the first run made ready while the pod was held, to
	// begin at its release.
	prepared  Prepared
	startedAt time.Time
	// done means the container will not run again.
	done    bool
	backoff time.Duration
	// restart is the pending restart after a back-off, if any.
	restart *time.Timer
}

func (c *containerRun) running() bool { return c.proc != nil }

// exitCode is the exit code of the container's last run, or -1.
func (c *containerRun) exitCode() int32 {
	if t := c.state.GetTerminated(); t != nil {
		return t.GetExitCode()
	}
	return -1
}

// nextBackoff returns the delay before restarting a container that failed
// after running for ran.
func (c *containerRun) nextBackoff(base time.Duration, ran time.Duration) time.Duration {
	switch {
	case c.backoff == 0 || ran >= backoffResetRunTime:
		c.backoff = base
	default:
		c.backoff = min(2*c.backoff, maxRestartBackoff)
	}
	return c.backoff
}

func terminatedState(code int, reason, message string, started, finished time.Time) *api.ContainerState {
	t := &api.ContainerStateTerminated{
		ExitCode:   int32(code),
		Reason:     reason,
		Message:    message,
		StartedAt:  timestamppb.New(started),
		FinishedAt: timestamppb.New(finished),
	}
	return &api.ContainerState{Terminated: t}
}

func backoffMessage(delay time.Duration, container, pod string) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", delay, container, pod)
}

// podPhase is Running while any container runs or will run again, then
// Succeeded when every container exited 0 and Failed otherwise.
func podPhase(containers []*containerRun) string {
	succeeded := true
	for _, c := range containers {
		if !c.done {
			return api.PodRunning
		}
		if c.exitCode() != 0 {
			succeeded = false
		}
	}
	if succeeded {
		return api.PodSucceeded
	}
	return api.PodFailed
}

// buildStatus is the Kubernetes-shaped status of a pod's containers.
func buildStatus(phase, hostIP string, started time.Time, containers []*containerRun) *api.PodStatus {
	st := &api.PodStatus{
		Phase:     phase,
		HostIp:    hostIP,
		StartTime: timestamppb.New(started),
	}
	for _, c := range containers {
		running := c.state.GetRunning() != nil
		st.ContainerStatuses = append(st.ContainerStatuses, &api.ContainerStatus{
			Name:         c.spec.GetName(),
			Image:        c.spec.GetImage(),
			State:        proto.CloneOf(c.state),
			LastState:    proto.CloneOf(c.lastState),
			Ready:        running,
			RestartCount: c.restarts,
			Started:      proto.Bool(running),
		})
	}
	return st
}

// lostStatus is the final status of a pod whose processes the agent lost
// track of, for example because the agent restarted while it ran.
func lostStatus(pod *api.Pod, hostIP string, started, now time.Time, message string) *api.PodStatus {
	st := &api.PodStatus{
		Phase:     api.PodFailed,
		Reason:    api.ReasonNodeLost,
		Message:   message,
		HostIp:    hostIP,
		StartTime: timestamppb.New(started),
	}
	for _, c := range pod.GetSpec().GetContainers() {
		st.ContainerStatuses = append(st.ContainerStatuses, &api.ContainerStatus{
			Name:    c.GetName(),
			Image:   c.GetImage(),
			State:   terminatedState(128+9, reasonKilled, message, started, now),
			Started: proto.Bool(false),
		})
	}
	return st
}

// notStartedStatus is the final status of a pod stopped before this agent
// started it.
func notStartedStatus(pod *api.Pod, hostIP string) *api.PodStatus {
	st := &api.PodStatus{
		Phase:   api.PodFailed,
		Message: "pod was stopped before it started",
		HostIp:  hostIP,
	}
	for _, c := range pod.GetSpec().GetContainers() {
		st.ContainerStatuses = append(st.ContainerStatuses, &api.ContainerStatus{
			Name:    c.GetName(),
			Image:   c.GetImage(),
			State:   &api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: "PodStopped"}},
			Started: proto.Bool(false),
		})
	}
	return st
}

func isFinal(st *api.PodStatus) bool {
	return st.GetPhase() == api.PodSucceeded || st.GetPhase() == api.PodFailed
}
