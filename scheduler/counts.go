package scheduler

import (
	"slices"
	"sort"

	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
)

// Pod status reasons the Job controller gives or reads.
const (
	// reasonExcessPod marks a pod stopped because its Job no longer needs it
	// (parallelism lowered, an index already succeeded, completions reached).
	reasonExcessPod    = "ExcessPod"
	messageExcessPod   = "Pod is not needed by its Job any more"
	messagePodDeadline = "Pod was active on the node longer than the specified deadline"
)

// podCounts sorts the pods of one Job by what they mean to the controller.
type podCounts struct {
	active    []*api.Pod // not terminal and not being stopped
	stopping  []*api.Pod // not terminal, deletionTimestamp set
	succeeded api.SucceededSum
	failed    []*api.Pod // counted failures only
	// restarts sums the container restarts of every non-terminal pod, for
	// restartPolicy OnFailure.
	restarts int64
}

func countPods(pods []*api.Pod, succeeded api.SucceededSum) podCounts {
	// Clipped: appending copies rather than writing into the caller's array.
	succeeded.Indexes = slices.Clip(succeeded.Indexes)
	c := podCounts{succeeded: succeeded}
	for _, p := range pods {
		switch p.GetStatus().GetPhase() {
		case api.PodSucceeded:
			c.succeeded.Add(api.BriefOfSucceeded(p))
		case api.PodFailed:
			if failureCounts(p) {
				c.failed = append(c.failed, p)
			}
		default:
			for _, cs := range p.GetStatus().GetContainerStatuses() {
				c.restarts += int64(cs.GetRestartCount())
			}
			if isStopping(p) {
				c.stopping = append(c.stopping, p)
			} else {
				c.active = append(c.active, p)
			}
		}
	}
	return c
}

// activeAll is every non-terminal pod, including those being stopped: the
// number that must never exceed parallelism.
func (c *podCounts) activeAll() int {
	return len(c.active) + len(c.stopping)
}

// isStopping reports whether a pod has been asked to stop and has not ended.
func isStopping(p *api.Pod) bool {
	return p.GetMetadata().GetDeletionTimestamp() != nil && !api.IsPodTerminal(p)
}

func isRunning(p *api.Pod) bool {
	return p.GetStatus().GetPhase() == api.PodRunning
}

// failureCounts reports whether a failed pod counts against backoffLimit.
// Pods lost with their node, stopped by a suspension or no longer needed are
// replaced without counting, like podFailurePolicy Ignore.
func failureCounts(p *api.Pod) bool {
	switch p.GetStatus().GetReason() {
	case api.ReasonNodeLost, api.ReasonJobSuspended, reasonExcessPod:
		return false
	}
	return true
}

// sortForRemoval orders active pods cheapest to lose first: unbound before
// bound, pending before running, newer before older, higher index first.
func sortForRemoval(pods []*api.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if ab, bb := a.GetSpec().GetNodeName() != "", b.GetSpec().GetNodeName() != ""; ab != bb {
			return !ab
		}
		if ar, br := isRunning(a), isRunning(b); ar != br {
			return !ar
		}
		at, bt := a.GetMetadata().GetCreationTimestamp(), b.GetMetadata().GetCreationTimestamp()
		if !proto.Equal(at, bt) {
			// A pod not stamped yet is the newest.
			return at == nil || bt != nil && at.AsTime().After(bt.AsTime())
		}
		if ai, bi := api.PodCompletionIndex(a), api.PodCompletionIndex(b); ai != bi {
			return ai > bi
		}
		return a.GetMetadata().GetName() < b.GetMetadata().GetName()
	})
}
