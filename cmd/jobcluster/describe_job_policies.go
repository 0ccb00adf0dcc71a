package main

import (
	"fmt"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// podsStatuses prints kubectl's Pods Statuses line, with the pods being
// stopped added when there are any.
func (d describer) podsStatuses(w *prefixWriter, st *api.JobStatus) {
	line := fmt.Sprintf("%d Active (%d Ready) / %d Succeeded / %d Failed", st.GetActive(), st.GetReady(), st.GetSucceeded(), st.GetFailed())
	if n := st.GetTerminating(); n > 0 {
		line += fmt.Sprintf(" / %d Terminating", n)
	}
	w.write(0, "Pods Statuses:\t%s\n", line)
}

// jobPolicies prints the per-index limits, the pod replacement policy when
// it is not the default, and the rules of the pod failure and success
// policies, one per line in the order they are tried.
func (d describer) jobPolicies(w *prefixWriter, spec *api.JobSpec) {
	if spec.BackoffLimitPerIndex != nil {
		w.write(0, "Backoff Limit Per Index:\t%d\n", spec.GetBackoffLimitPerIndex())
	}
	if spec.MaxFailedIndexes != nil {
		w.write(0, "Max Failed Indexes:\t%d\n", spec.GetMaxFailedIndexes())
	}
	if rp := spec.GetPodReplacementPolicy(); rp != "" && rp != api.PodReplacementPolicyTerminatingOrFailed {
		w.write(0, "Pod Replacement Policy:\t%s\n", rp)
	}
	if rules := spec.GetPodFailurePolicy().GetRules(); len(rules) > 0 {
		w.write(0, "Pod Failure Policy:\n")
		for i, r := range rules {
			w.write(1, "%d:\t%s\n", i, podFailureRule(r))
		}
	}
	if rules := spec.GetSuccessPolicy().GetRules(); len(rules) > 0 {
		w.write(0, "Success Policy:\n")
		for i, r := range rules {
			var parts []string
			if r.SucceededIndexes != nil {
				parts = append(parts, "succeededIndexes "+r.GetSucceededIndexes())
			}
			if r.SucceededCount != nil {
				parts = append(parts, fmt.Sprintf("succeededCount %d", r.GetSucceededCount()))
			}
			w.write(1, "%d:\t%s\n", i, strings.Join(parts, ", "))
		}
	}
}

// podFailureRule writes a rule as "FailJob on exit codes In [42] of container main".
func podFailureRule(r *api.PodFailurePolicyRule) string {
	if oe := r.GetOnExitCodes(); oe != nil {
		codes := make([]string, len(oe.GetValues()))
		for i, v := range oe.GetValues() {
			codes[i] = fmt.Sprint(v)
		}
		s := fmt.Sprintf("%s on exit codes %s [%s]", r.GetAction(), oe.GetOperator(), strings.Join(codes, ","))
		if oe.ContainerName != nil {
			s += " of container " + oe.GetContainerName()
		}
		return s
	}
	conds := make([]string, len(r.GetOnPodConditions()))
	for i, c := range r.GetOnPodConditions() {
		conds[i] = c.GetType() + "=" + c.GetStatus()
	}
	return fmt.Sprintf("%s on pod conditions %s", r.GetAction(), strings.Join(conds, ", "))
}
