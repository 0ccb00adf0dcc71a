package main

import (
	"strconv"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// annotationNextScheduleTime is where a server may record a CronJob's
// next fire time (RFC 3339); describe shows it when present.
const annotationNextScheduleTime = "jobcluster.io/next-schedule-time"

// cronJob renders a CronJob as kubectl describe cronjob does.
func (d describer) cronJob(cj *api.CronJob, events []*api.Event) string {
	w := newPrefixWriter()
	meta, spec, st := cj.GetMetadata(), cj.GetSpec(), cj.GetStatus()
	if spec == nil {
		spec = &api.CronJobSpec{}
	}
	w.write(0, "Name:\t%s\n", meta.GetName())
	w.write(0, "Namespace:\t%s\n", namespace(meta))
	w.labels(0, "Labels", meta.GetLabels())
	w.labels(0, "Annotations", meta.GetAnnotations())
	w.write(0, "Schedule:\t%s\n", spec.GetSchedule())
	w.write(0, "Time Zone:\t%s\n", unsetOr(spec.TimeZone != nil, spec.GetTimeZone()))
	w.write(0, "Concurrency Policy:\t%s\n", spec.GetConcurrencyPolicy())
	w.write(0, "Suspend:\t%s\n", unsetOr(spec.Suspend != nil, boolWord(spec.GetSuspend())))
	w.write(0, "Successful Job History Limit:\t%s\n", unsetOr(spec.SuccessfulJobsHistoryLimit != nil, strconv.FormatInt(int64(spec.GetSuccessfulJobsHistoryLimit()), 10)))
	w.write(0, "Failed Job History Limit:\t%s\n", unsetOr(spec.FailedJobsHistoryLimit != nil, strconv.FormatInt(int64(spec.GetFailedJobsHistoryLimit()), 10)))
	w.write(0, "Starting Deadline Seconds:\t%s\n", unsetOr(spec.StartingDeadlineSeconds != nil, strconv.FormatInt(spec.GetStartingDeadlineSeconds(), 10)+"s"))
	jobSpec := spec.GetJobTemplate().GetSpec()
	w.write(0, "Selector:\t%s\n", unsetOr(jobSpec.GetSelector() != nil, formatSelector(jobSpec.GetSelector())))
	d.jobSpec(w, jobSpec)
	d.podTemplate(w, jobSpec.GetTemplate())
	w.write(0, "Last Schedule Time:\t%s\n", d.timestamp(st.GetLastScheduleTime()))
	if st.GetLastSuccessfulTime() != nil {
		w.write(0, "Last Successful Time:\t%s\n", d.timestamp(st.GetLastSuccessfulTime()))
	}
	// Fire times to come, once the server publishes them.
	if next := meta.GetAnnotations()[annotationNextScheduleTime]; next != "" {
		w.write(0, "Next Schedule Time:\t%s\n", next)
	}
	var active []string
	for _, ref := range st.GetActive() {
		active = append(active, ref.GetName())
	}
	w.write(0, "Active Jobs:\t%s\n", orNone(strings.Join(active, ", ")))
	w.events(d, events)
	return w.String()
}

// unsetOr is value when set, else "<unset>".
func unsetOr(set bool, value string) string {
	if !set {
		return "<unset>"
	}
	return value
}
