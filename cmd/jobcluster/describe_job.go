package main

import (
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// job renders a Job as kubectl describe job does, with its conditions
// added before the events.
func (d describer) job(j *api.Job, events []*api.Event) string {
	w := newPrefixWriter()
	meta, spec, st := j.GetMetadata(), j.GetSpec(), j.GetStatus()
	if spec == nil {
		spec = &api.JobSpec{}
	}
	w.write(0, "Name:\t%s\n", meta.GetName())
	w.write(0, "Namespace:\t%s\n", namespace(meta))
	w.write(0, "Selector:\t%s\n", formatSelector(spec.GetSelector()))
	w.labels(0, "Labels", meta.GetLabels())
	w.labels(0, "Annotations", meta.GetAnnotations())
	if owner := controlledBy(meta); owner != "" {
		w.write(0, "Controlled By:\t%s\n", owner)
	}
	d.jobSpec(w, spec)
	if st.GetStartTime() != nil {
		w.write(0, "Start Time:\t%s\n", d.timestamp(st.GetStartTime()))
	}
	if st.GetCompletionTime() != nil {
		w.write(0, "Completed At:\t%s\n", d.timestamp(st.GetCompletionTime()))
	}
	if st.GetStartTime() != nil && st.GetCompletionTime() != nil {
		w.write(0, "Duration:\t%s\n", jobDuration(j, d.now))
	}
	if spec.ActiveDeadlineSeconds != nil {
		w.write(0, "Active Deadline Seconds:\t%ds\n", spec.GetActiveDeadlineSeconds())
	}
	d.podsStatuses(w, st)
	if spec.GetCompletionMode() == api.CompletionModeIndexed {
		w.write(0, "Completed Indexes:\t%s\n", orNone(st.GetCompletedIndexes()))
	}
	if spec.BackoffLimitPerIndex != nil {
		w.write(0, "Failed Indexes:\t%s\n", orNone(st.GetFailedIndexes()))
	}
	d.podTemplate(w, spec.GetTemplate())
	d.jobConditions(w, st.GetConditions())
	w.events(d, events)
	return w.String()
}

// jobSpec prints the scalar fields of a Job spec (also a CronJob's
// jobTemplate), "<unset>" for completions left unset.
func (d describer) jobSpec(w *prefixWriter, spec *api.JobSpec) {
	if spec == nil {
		spec = &api.JobSpec{}
	}
	if spec.Parallelism != nil {
		w.write(0, "Parallelism:\t%d\n", spec.GetParallelism())
	}
	if spec.Completions != nil {
		w.write(0, "Completions:\t%d\n", spec.GetCompletions())
	} else {
		w.write(0, "Completions:\t<unset>\n")
	}
	if spec.CompletionMode != nil {
		w.write(0, "Completion Mode:\t%s\n", spec.GetCompletionMode())
	}
	if spec.Suspend != nil {
		w.write(0, "Suspend:\t%t\n", spec.GetSuspend())
	}
	if spec.BackoffLimit != nil {
		w.write(0, "Backoff Limit:\t%d\n", spec.GetBackoffLimit())
	}
	if spec.TtlSecondsAfterFinished != nil {
		w.write(0, "TTL Seconds After Finished:\t%d\n", spec.GetTtlSecondsAfterFinished())
	}
	d.jobPolicies(w, spec)
}

// jobConditions prints the conditions table, or nothing when there are none.
func (d describer) jobConditions(w *prefixWriter, conds []*api.JobCondition) {
	if len(conds) == 0 {
		return
	}
	w.flush()
	w.write(0, "Conditions:\n")
	w.write(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
	w.write(1, "----\t------\t------------------\t------\t-------\n")
	for _, c := range conds {
		w.write(1, "%s\t%s\t%s\t%s\t%s\n", c.GetType(), c.GetStatus(), d.timestamp(c.GetLastTransitionTime()), c.GetReason(), c.GetMessage())
	}
	w.flush()
}

// podTemplate prints a pod template as kubectl's "Pod Template:" block.
func (d describer) podTemplate(w *prefixWriter, t *api.PodTemplateSpec) {
	w.write(0, "Pod Template:\n")
	w.labels(1, "Labels", t.GetMetadata().GetLabels())
	if len(t.GetMetadata().GetAnnotations()) > 0 {
		w.labels(1, "Annotations", t.GetMetadata().GetAnnotations())
	}
	w.write(1, "Containers:\n")
	for _, c := range t.GetSpec().GetContainers() {
		w.write(1, " %s:\n", c.GetName())
		d.container(w, c, nil)
	}
	w.labels(1, "Node-Selectors", t.GetSpec().GetNodeSelector())
}

// container prints one container's spec and, for a pod, its status.
func (d describer) container(w *prefixWriter, c *api.Container, st *api.ContainerStatus) {
	w.write(2, "Image:\t%s\n", orNone(c.GetImage()))
	commandLines(w, "Command", c.GetCommand())
	commandLines(w, "Args", c.GetArgs())
	if c.GetWorkingDir() != "" {
		w.write(2, "Working Dir:\t%s\n", c.GetWorkingDir())
	}
	if st != nil {
		d.containerState(w, "State", st.GetState())
		if st.GetLastState().GetTerminated() != nil {
			d.containerState(w, "Last State", st.GetLastState())
		}
		w.write(2, "Ready:\t%s\n", boolWord(st.GetReady()))
		w.write(2, "Restart Count:\t%d\n", st.GetRestartCount())
	}
	if limits := c.GetResources().GetLimits(); len(limits) > 0 {
		w.resourceList(2, "Limits", limits)
	}
	if requests := c.GetResources().GetRequests(); len(requests) > 0 {
		w.resourceList(2, "Requests", requests)
	}
	if len(c.GetEnv()) == 0 {
		w.write(2, "Environment:\t<none>\n")
		return
	}
	w.write(2, "Environment:\n")
	for _, e := range c.GetEnv() {
		w.write(3, "%s:\t%s\n", e.GetName(), e.GetValue())
	}
}

// commandLines prints a command or its arguments one per line.
func commandLines(w *prefixWriter, title string, words []string) {
	if len(words) == 0 {
		return
	}
	w.write(2, "%s:\n", title)
	for _, word := range words {
		for _, line := range strings.Split(word, "\n") {
			w.write(3, "%s\n", line)
		}
	}
}

// containerState prints a container state as kubectl does.
func (d describer) containerState(w *prefixWriter, title string, s *api.ContainerState) {
	switch {
	case s.GetRunning() != nil:
		w.write(2, "%s:\tRunning\n", title)
		w.write(3, "Started:\t%s\n", d.timestamp(s.GetRunning().GetStartedAt()))
	case s.GetTerminated() != nil:
		t := s.GetTerminated()
		w.write(2, "%s:\tTerminated\n", title)
		if t.GetReason() != "" {
			w.write(3, "Reason:\t%s\n", t.GetReason())
		}
		if t.GetMessage() != "" {
			w.write(3, "Message:\t%s\n", t.GetMessage())
		}
		w.write(3, "Exit Code:\t%d\n", t.GetExitCode())
		if t.GetSignal() > 0 {
			w.write(3, "Signal:\t%d\n", t.GetSignal())
		}
		w.write(3, "Started:\t%s\n", d.timestamp(t.GetStartedAt()))
		w.write(3, "Finished:\t%s\n", d.timestamp(t.GetFinishedAt()))
	default:
		w.write(2, "%s:\tWaiting\n", title)
		if reason := s.GetWaiting().GetReason(); reason != "" {
			w.write(3, "Reason:\t%s\n", reason)
		}
		if msg := s.GetWaiting().GetMessage(); msg != "" {
			w.write(3, "Message:\t%s\n", msg)
		}
	}
}
