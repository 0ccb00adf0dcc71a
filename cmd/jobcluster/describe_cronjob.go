package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/scheduler"
)

// cronJob renders a CronJob as kubectl describe cronjob does.
func (d describer) cronJob(cj *api.CronJob, events []*api.Event, history []*api.CronLedgerEntry) string {
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
	if st.GetLastFailureTime() != nil {
		w.write(0, "Last Failure Time:\t%s\n", d.timestamp(st.GetLastFailureTime()))
	}
	if st.GetLastSuccessfulTime() != nil {
		w.write(0, "Last Successful Time:\t%s\n", d.timestamp(st.GetLastSuccessfulTime()))
	}
	d.nextFireTimes(w, cj)
	var active []string
	for _, ref := range st.GetActive() {
		active = append(active, ref.GetName())
	}
	w.write(0, "Active Jobs:\t%s\n", orNone(strings.Join(active, ", ")))
	d.history(w, history)
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

// nextFireTimes lists the next five scheduled times, in UTC and, when the
// CronJob has one, in its time zone.
func (d describer) nextFireTimes(w *prefixWriter, cj *api.CronJob) {
	if cj.GetSpec().GetSuspend() {
		w.write(0, "Next Schedule Times:\t<none> (suspended)\n")
		return
	}
	loc, err := api.CronLocation(cj)
	var times []time.Time
	if err == nil {
		times, err = scheduler.NextTimes(cj, loc, d.now, 5)
	}
	if err != nil || len(times) == 0 {
		w.write(0, "Next Schedule Times:\t<none>\n")
		return
	}
	w.write(0, "Next Schedule Times:\n")
	for _, t := range times {
		line := t.UTC().Format(time.RFC3339)
		if cj.GetSpec().GetTimeZone() != "" {
			line += "  (" + t.In(loc).Format("2006-01-02 15:04:05 MST") + ")"
		}
		w.write(1, "%s\n", line)
	}
}
