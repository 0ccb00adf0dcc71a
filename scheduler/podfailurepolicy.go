package scheduler

import (
	"fmt"
	"slices"

	"github.com/jobcluster/jobcluster/api"
)

// verdict is what a Job makes of one of its failed pods.
type verdict struct {
	// counts: the failure counts in status.failed and against backoffLimit
	// and backoffLimitPerIndex.
	counts bool
	// ignored: the pod failed but a rule (or, without a podFailurePolicy,
	// the loss of its node) says not to count it. A pod the controller
	// stopped itself is neither counted nor ignored: it did not fail.
	ignored bool
	// action is the action of the podFailurePolicy rule that matched, or
	// empty.
	action string
	// message explains a FailJob match in Kubernetes' words.
	message string
}

// judgeFailure decides what a failed pod means to its Job, following
// Kubernetes' matchPodFailurePolicy: the first rule that matches decides;
// with no match the failure counts. Pods the controller stopped itself
// (suspension, pods no longer needed) never count. Without a
// podFailurePolicy a pod lost with its node is replaced without counting,
// like the Ignore action; with one, a rule on the DisruptionTarget
// condition decides.
func judgeFailure(spec *api.JobSpec, pod *api.Pod) verdict {
	switch pod.GetStatus().GetReason() {
	case api.ReasonJobSuspended, reasonExcessPod:
		return verdict{}
	}
	policy := spec.GetPodFailurePolicy()
	if policy == nil {
		if failureCounts(pod) {
			return verdict{counts: true}
		}
		return verdict{ignored: true}
	}
	for i, rule := range policy.GetRules() {
		var message string
		switch {
		case rule.GetOnExitCodes() != nil:
			cs := matchOnExitCodes(pod, rule.GetOnExitCodes())
			if cs == nil {
				continue
			}
			message = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
				cs.GetName(), podNamespace(pod), pod.GetMetadata().GetName(), cs.GetState().GetTerminated().GetExitCode(), rule.GetAction(), i)
		case len(rule.GetOnPodConditions()) > 0:
			cond := matchOnPodConditions(pod, rule.GetOnPodConditions())
			if cond == "" {
				continue
			}
			message = fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d",
				podNamespace(pod), pod.GetMetadata().GetName(), cond, rule.GetAction(), i)
		default:
			continue
		}
		switch action := rule.GetAction(); action {
		case api.PodFailurePolicyActionIgnore:
			return verdict{ignored: true, action: action}
		case api.PodFailurePolicyActionCount, api.PodFailurePolicyActionFailIndex:
			return verdict{counts: true, action: action}
		case api.PodFailurePolicyActionFailJob:
			return verdict{counts: true, action: action, message: message}
		}
	}
	return verdict{counts: true}
}

// matchOnExitCodes returns the first terminated container whose non-zero
// exit code matches the requirement. A container ended by the loss of its
// node has no exit code of its own (the node never reported one), so it
// matches no exit code rule.
func matchOnExitCodes(pod *api.Pod, req *api.PodFailurePolicyOnExitCodesRequirement) *api.ContainerStatus {
	for _, cs := range pod.GetStatus().GetContainerStatuses() {
		t := cs.GetState().GetTerminated()
		if t == nil || t.GetExitCode() == 0 || t.GetReason() == api.ReasonNodeLost {
			continue
		}
		if req.ContainerName != nil && req.GetContainerName() != cs.GetName() {
			continue
		}
		in := slices.Contains(req.GetValues(), t.GetExitCode())
		switch req.GetOperator() {
		case api.PodFailurePolicyOnExitCodesOpIn:
			if in {
				return cs
			}
		case api.PodFailurePolicyOnExitCodesOpNotIn:
			if !in {
				return cs
			}
		}
	}
	return nil
}

// matchOnPodConditions returns the type of the first pod condition that
// matches a pattern, or "".
func matchOnPodConditions(pod *api.Pod, patterns []*api.PodFailurePolicyOnPodConditionsPattern) string {
	for _, c := range podConditions(pod) {
		for _, pat := range patterns {
			if c.GetType() == pat.GetType() && c.GetStatus() == pat.GetStatus() {
				return c.GetType()
			}
		}
	}
	return ""
}

// podConditions returns a pod's conditions; a pod lost with its node also
// has DisruptionTarget True, as Kubernetes gives pods evicted from an
// unreachable node, even when it was recorded without it.
func podConditions(pod *api.Pod) []*api.PodCondition {
	conds := pod.GetStatus().GetConditions()
	if pod.GetStatus().GetReason() != api.ReasonNodeLost ||
		slices.ContainsFunc(conds, func(c *api.PodCondition) bool { return c.GetType() == api.PodDisruptionTarget }) {
		return conds
	}
	return append(slices.Clone(conds), &api.PodCondition{
		Type: api.PodDisruptionTarget, Status: api.ConditionTrue, Reason: api.ReasonNodeLost,
	})
}

func podNamespace(pod *api.Pod) string {
	if ns := pod.GetMetadata().GetNamespace(); ns != "" {
		return ns
	}
	return "default"
}

// failJobMessage returns the message of the first failed pod, by finish
// time then name, that matched a FailJob rule, or "".
func failJobMessage(failed []*api.Pod, verdicts map[*api.Pod]verdict) string {
	var first *api.Pod
	for _, pod := range failed {
		if verdicts[pod].action != api.PodFailurePolicyActionFailJob {
			continue
		}
		if first == nil || finishedBefore(pod, first) {
			first = pod
		}
	}
	if first == nil {
		return ""
	}
	return verdicts[first].message
}

// finishedBefore orders terminal pods by finish time, then name.
func finishedBefore(a, b *api.Pod) bool {
	ta, tb := api.PodFinishTime(a), api.PodFinishTime(b)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.GetMetadata().GetName() < b.GetMetadata().GetName()
}
