package scheduler

import (
	"fmt"
	"hash/fnv"
	"maps"
	"sort"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// Actions a CronPlan records for a scheduled time.
const (
	// CronCreated means the Job for the scheduled time is created.
	CronCreated = "Created"
	// CronJobAlreadyActive means the run was skipped: concurrencyPolicy
	// Forbid and an earlier Job still runs.
	CronJobAlreadyActive = "JobAlreadyActive"
	// CronMissSchedule means the run was skipped: it is later than
	// startingDeadlineSeconds allows.
	CronMissSchedule = "MissSchedule"
	// CronSuspended means the time passed while the CronJob was suspended:
	// it does not run, not even once resumed.
	CronSuspended = "Suspended"
	// CronWithdrawn means a run decided ahead of its time was withdrawn
	// unrun (ReleaseCronRuns): the CronJob was suspended before it came.
	// lastScheduleTime goes back to the run before it.
	CronWithdrawn = "Withdrawn"
)

// maxMissedSchedules is how many missed times are tolerated silently.
const maxMissedSchedules = 100

// CronInput is one CronJob and its Jobs.
type CronInput struct {
	CronJob *api.CronJob
	// Location is the time zone of the CronJob's schedule, as
	// api.CronLocation loads it; nil means UTC. When it cannot be loaded,
	// LocationErr says why: nothing is then scheduled, and the error is
	// recorded as an UnknownTimeZone warning.
	Location    *time.Location
	LocationErr error
	Jobs        []*api.Job // the Jobs it owns
	// Pods are the pods of its unfinished Jobs. Only concurrencyPolicy
	// Replace reads them.
	Pods []*api.Pod
	Now  time.Time
	// LastDecided is the newest scheduled time the ledger holds a decision
	// for, zero if none: a time decided while suspended moves no status
	// field, so the ledger tells it was decided.
	LastDecided time.Time
	// LeaderSince is when the deciding leader took office: a time due
	// before it was caught up, decided late for want of a leader.
	LeaderSince time.Time
	// Lead is how long before its time a run may be decided: its Job and
	// pods are then created and bound ahead, and its pods start at the
	// time (CronPlan.NotBefore). Zero decides each time only once due.
	// A run is decided ahead only when deciding it at its time could not
	// differ: never while suspended, nor while an earlier Job is active
	// under concurrencyPolicy Forbid or Replace.
	Lead time.Duration
}

// CronPlan is what one pass over a CronJob decided.
type CronPlan struct {
	// Scheduled is the scheduled time decided about, zero if nothing is due.
	Scheduled time.Time
	// Action is CronCreated, CronJobAlreadyActive, CronMissSchedule or
	// CronSuspended when Scheduled is set.
	Action string
	// Job is the Job to create when Action is CronCreated. Its name is
	// derived from Scheduled alone, so a scheduled time creates one Job.
	Job *api.Job
	// ReplaceJobs are the active Jobs the new one replaces (concurrencyPolicy
	// Replace), to delete with its creation. By then they are suspended and
	// none of their pods runs.
	ReplaceJobs []string
	// SuspendJobs are active Jobs to suspend, so that their pods stop,
	// before a Replace can go ahead. Until they have stopped nothing is
	// decided (Scheduled stays zero) and the scheduled time stays due.
	SuspendJobs []string
	// DeleteJobs are finished Jobs beyond the history limits, oldest first.
	DeleteJobs []string
	// Status is the new status when it changes, else nil.
	Status *api.CronJobStatus
	Events []Event
	// TooManyMissed is set when more than 100 scheduled times were missed;
	// only the most recent one runs.
	TooManyMissed bool
	// Next is the next scheduled time after Now, for the caller's timer
	// (suspended too: each time passed is decided Suspended); zero when
	// the schedule never fires again.
	Next time.Time
	// Jitter is how long after Scheduled the run was put off by the
	// CronJob's jitter window (api.AnnotationJitter).
	Jitter time.Duration
	// ActiveJobs are the Jobs still running that made a Forbid CronJob
	// skip Scheduled (Action CronJobAlreadyActive).
	ActiveJobs []string
	// CaughtUp is set when Scheduled (with its jitter) was due before the
	// leader took office: no leader was there to decide it on time.
	CaughtUp bool
	// NotBefore is set when the run was decided ahead of its time
	// (CronInput.Lead): the time its pods start, Scheduled plus its
	// jitter. The Job's pod template names it (api.AnnotationNotBefore).
	NotBefore time.Time
}

// ReconcileCronJob decides, for one CronJob and its Jobs at in.Now, whether
// the most recent scheduled time is due and what to do about it, following
// the Kubernetes cronjob controller (mostRecentScheduleTime): only the most
// recent missed time runs.
func ReconcileCronJob(in CronInput) CronPlan {
	c := &cronPass{cj: in.CronJob, spec: in.CronJob.GetSpec(), jobs: in.Jobs, pods: in.Pods, now: in.Now,
		loc: in.Location, locErr: in.LocationErr, status: &api.CronJobStatus{}, lastDecided: in.LastDecided, leaderSince: in.LeaderSince,
		lead: in.Lead}
	if c.loc == nil {
		c.loc = time.UTC
	}
	if c.spec == nil {
		c.spec = &api.CronJobSpec{}
	}
	if in.CronJob.GetStatus() != nil {
		c.status = proto.Clone(in.CronJob.GetStatus()).(*api.CronJobStatus)
	}
	c.syncActive()
	c.cleanHistory()
	c.schedule()
	c.status.Active = c.activeRefs()
	old := in.CronJob.GetStatus()
	if old == nil {
		old = &api.CronJobStatus{}
	}
	if !proto.Equal(c.status, old) {
		c.plan.Status = c.status
	}
	return c.plan
}

// NextTimes lists the next n times c is scheduled after the given time,
// reading its schedule in loc (see api.CronLocation).
func NextTimes(c *api.CronJob, loc *time.Location, after time.Time, n int) ([]time.Time, error) {
	sched, _, err := ParseSchedule(c.GetSpec().GetSchedule())
	if err != nil {
		return nil, err
	}
	var times []time.Time
	for t := after.In(loc); len(times) < n; {
		if t = sched.Next(t); t.IsZero() {
			break
		}
		times = append(times, t)
	}
	return times, nil
}

// cronPass holds the working state of one ReconcileCronJob call.
type cronPass struct {
	cj     *api.CronJob
	spec   *api.CronJobSpec // never nil
	jobs   []*api.Job
	pods   []*api.Pod
	now    time.Time
	loc    *time.Location // never nil
	locErr error
	status *api.CronJobStatus // the new status, a copy
	active []*api.Job         // unfinished Jobs, oldest first
	newJob *api.Job
	plan   CronPlan

	lastDecided, leaderSince time.Time
	lead                     time.Duration
}

// syncActive finds the unfinished Jobs and records the last success.
func (c *cronPass) syncActive() {
	byName := make(map[string]*api.Job, len(c.jobs))
	for _, j := range c.jobs {
		byName[j.GetMetadata().GetName()] = j
		done, at := jobFinished(j.GetStatus())
		if !done {
			c.active = append(c.active, j)
			continue
		}
		if api.JobConditionTrue(j.GetStatus(), api.JobComplete) {
			if last := c.status.LastSuccessfulTime; last == nil || at.After(last.AsTime()) {
				c.status.LastSuccessfulTime = timestamppb.New(at)
			}
		}
		if api.JobConditionTrue(j.GetStatus(), api.JobFailed) {
			if last := c.status.LastFailureTime; last == nil || at.After(last.AsTime()) {
				c.status.LastFailureTime = timestamppb.New(at)
			}
		}
	}
	sort.SliceStable(c.active, func(i, k int) bool { return jobScheduledBefore(c.active[i], c.active[k]) })
	for _, ref := range c.status.Active {
		j, ok := byName[ref.GetName()]
		if !ok {
			c.event(api.EventTypeNormal, "MissingJob", "Active job went missing: "+ref.GetName())
			continue
		}
		if done, _ := jobFinished(j.GetStatus()); done {
			status := api.JobComplete
			if api.JobConditionTrue(j.GetStatus(), api.JobFailed) {
				status = api.JobFailed
			}
			c.event(api.EventTypeNormal, "SawCompletedJob", fmt.Sprintf("Saw completed job: %s, status: %s", ref.GetName(), status))
		}
	}
}

// cleanHistory deletes the oldest finished Jobs beyond the history limits.
func (c *cronPass) cleanHistory() {
	var succeeded, failed []*api.Job
	for _, j := range c.jobs {
		switch st := j.GetStatus(); {
		case api.JobConditionTrue(st, api.JobComplete):
			succeeded = append(succeeded, j)
		case api.JobConditionTrue(st, api.JobFailed):
			failed = append(failed, j)
		}
	}
	spec := c.spec
	old := append(oldest(succeeded, spec.SuccessfulJobsHistoryLimit, api.DefaultSuccessfulJobsHistoryLimit),
		oldest(failed, spec.FailedJobsHistoryLimit, api.DefaultFailedJobsHistoryLimit)...)
	sort.SliceStable(old, func(i, k int) bool { return jobStartedBefore(old[i], old[k]) })
	for _, j := range old {
		c.plan.DeleteJobs = append(c.plan.DeleteJobs, j.GetMetadata().GetName())
		c.event(api.EventTypeNormal, "SuccessfulDelete", "Deleted job "+j.GetMetadata().GetName())
	}
}

// firstWithin is the earliest fire time after last that is not before
// from and not after now, or zero.
func firstWithin(sched cron.Schedule, last, from, now time.Time) time.Time {
	t := last
	if before := from.Add(-time.Nanosecond); before.After(t) {
		t = before
	}
	first := sched.Next(t)
	if first.IsZero() || first.After(now) {
		return time.Time{}
	}
	return first
}

// oldest returns the Jobs beyond limit, oldest first.
func oldest(jobs []*api.Job, limit *int32, def int) []*api.Job {
	keep := def
	if limit != nil {
		keep = max(int(*limit), 0)
	}
	if len(jobs) <= keep {
		return nil
	}
	sort.SliceStable(jobs, func(i, k int) bool { return jobStartedBefore(jobs[i], jobs[k]) })
	return jobs[:len(jobs)-keep]
}

// schedule decides about the most recent scheduled time that is due.
func (c *cronPass) schedule() {
	spec := c.spec
	sched, hasSeconds, err := ParseSchedule(spec.GetSchedule())
	if err != nil {
		c.event(api.EventTypeWarning, "UnparseableSchedule", err.Error())
		return
	}
	if c.locErr != nil {
		c.event(api.EventTypeWarning, "UnknownTimeZone", c.locErr.Error())
		return
	}
	loc := c.loc
	now := c.now.In(loc)
	earliest := now
	if ct := c.cj.GetMetadata().GetCreationTimestamp(); ct != nil {
		earliest = ct.AsTime().In(loc)
	}
	if last := c.status.LastScheduleTime; last != nil && last.AsTime().After(earliest) {
		earliest = last.AsTime().In(loc)
	}
	if c.lastDecided.After(earliest) {
		earliest = c.lastDecided.In(loc)
	}
	scheduled := lastFireTime(sched, earliest, now)
	// Next follows from the last time due, not from now, so that @every
	// keeps its rhythm.
	upcoming := false
	if scheduled.IsZero() {
		c.plan.Next = sched.Next(earliest)
		if c.lead <= 0 || c.plan.Next.IsZero() || spec.GetSuspend() {
			return
		}
		// The next time may be decided ahead, once within the lead.
		scheduled, upcoming = c.plan.Next, true
	}
	if sds := spec.StartingDeadlineSeconds; sds != nil && !upcoming {
		// With a starting deadline, the oldest time still within it is
		// decided first and the later ones follow, so a short outage (a
		// leader election) delays runs but loses none, and leaves no gap
		// in the ledger, suspended or not. Without one, only the most
		// recent missed time is decided, as in Kubernetes.
		if first := firstWithin(sched, earliest, now.Add(-seconds(*sds)), now); !first.IsZero() && first.Before(scheduled) &&
			!missedMoreThan(sched, first.Add(-time.Nanosecond), now, maxMissedSchedules) {
			scheduled = first
		}
	}
	if spec.GetSuspend() {
		// A time that passed while suspended is decided Suspended, and
		// never runs; lastScheduleTime stays, as in Kubernetes, and the
		// ledger holds the decision.
		c.plan.Scheduled = scheduled
		c.plan.Action = CronSuspended
		c.plan.Next = sched.Next(scheduled)
		return
	}
	if !upcoming {
		c.plan.Next = sched.Next(scheduled)
	}
	name := cronJobName(c.cj.GetMetadata().GetName(), scheduled, hasSeconds)
	jitter := JitterDelay(c.cj, scheduled)
	if at := scheduled.Add(jitter); !c.hasJob(name) && now.Before(at) {
		if !c.aheadAllowed(at) {
			// Its time comes later (after its jitter delay): decided
			// then, or ahead once within the lead.
			wake := at
			if ahead := at.Add(-c.lead); c.mayDecideAhead() && ahead.After(now) {
				wake = ahead
			}
			if upcoming || wake.Before(c.plan.Next) || c.plan.Next.IsZero() {
				c.plan.Next = wake
			}
			return
		}
		c.plan.NotBefore = at
		if upcoming {
			c.plan.Next = sched.Next(scheduled)
		}
	}
	c.plan.Jitter = jitter
	if c.hasJob(name) {
		// Decided before: the Job exists, only the status lagged.
		c.status.LastScheduleTime = timestamppb.New(scheduled)
		return
	}
	if sds := spec.StartingDeadlineSeconds; sds != nil {
		deadline := seconds(*sds)
		if now.After(scheduled.Add(jitter).Add(deadline)) {
			c.plan.Scheduled = scheduled
			c.status.LastScheduleTime = timestamppb.New(scheduled)
			c.plan.Action = CronMissSchedule
			c.event(api.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: "+scheduled.UTC().Format(time.RFC3339))
			return
		}
		if from := now.Add(-deadline); from.After(earliest) {
			earliest = from
		}
	}
	if spec.GetConcurrencyPolicy() == api.ConcurrencyPolicyReplace && c.stopBeforeReplace(scheduled) {
		return
	}
	c.plan.Scheduled = scheduled
	c.status.LastScheduleTime = timestamppb.New(scheduled)
	if missedMoreThan(sched, earliest, now, maxMissedSchedules) {
		c.plan.TooManyMissed = true
		c.event(api.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	switch spec.GetConcurrencyPolicy() {
	case api.ConcurrencyPolicyForbid:
		if len(c.active) > 0 {
			c.plan.Action = CronJobAlreadyActive
			for _, j := range c.active {
				c.plan.ActiveJobs = append(c.plan.ActiveJobs, j.GetMetadata().GetName())
			}
			c.event(api.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid (scheduled time "+scheduled.UTC().Format(time.RFC3339)+")")
			return
		}
	case api.ConcurrencyPolicyReplace:
		for _, j := range c.active {
			c.plan.ReplaceJobs = append(c.plan.ReplaceJobs, j.GetMetadata().GetName())
			c.event(api.EventTypeNormal, "SuccessfulDelete", "Deleted job "+j.GetMetadata().GetName())
		}
		c.active = nil
	}
	c.plan.Action = CronCreated
	c.plan.CaughtUp = !c.leaderSince.IsZero() && scheduled.Add(jitter).Before(c.leaderSince)
	c.newJob = c.jobFor(name, scheduled)
	if !c.plan.NotBefore.IsZero() {
		tmpl := c.newJob.Spec.Template
		if tmpl == nil {
			tmpl = &api.PodTemplateSpec{}
			c.newJob.Spec.Template = tmpl
		}
		if tmpl.Metadata == nil {
			tmpl.Metadata = &api.ObjectMeta{}
		}
		if tmpl.Metadata.Annotations == nil {
			tmpl.Metadata.Annotations = map[string]string{}
		}
		tmpl.Metadata.Annotations[api.AnnotationNotBefore] = api.FormatNotBefore(c.plan.NotBefore)
	}
	c.plan.Job = c.newJob
	c.event(api.EventTypeNormal, api.ReasonSuccessfulCreate, "Created job "+name+" for scheduled time "+scheduled.UTC().Format(time.RFC3339))
}

// aheadAllowed tells whether a run due at at may be decided now, ahead of
// its time: within the lead, and only where deciding at the time could
// not differ. Suspension is checked by the caller; an active Job would
// make Forbid skip the run and Replace stop it, and it may yet finish, so
// such a run is decided at its time.
func (c *cronPass) aheadAllowed(at time.Time) bool {
	return c.mayDecideAhead() && at.Sub(c.now) <= c.lead
}

// mayDecideAhead tells whether the next run could be decided ahead, were
// it within the lead.
func (c *cronPass) mayDecideAhead() bool {
	if c.lead <= 0 || c.spec.GetSuspend() {
		return false
	}
	switch c.spec.GetConcurrencyPolicy() {
	case api.ConcurrencyPolicyForbid, api.ConcurrencyPolicyReplace:
		return len(c.active) == 0
	}
	return true
}

// JitterDelay is how long after a scheduled time a CronJob's run waits:
// a share of its jitter window fixed by the CronJob's uid and the time, so
// every leader that decides the time waits the same, and runs spread
// evenly over the window.
func JitterDelay(cj *api.CronJob, scheduled time.Time) time.Duration {
	window, err := api.CronJitter(cj)
	if err != nil || window <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(cj.GetMetadata().GetUid()))
	h.Write([]byte(strconv.FormatInt(scheduled.UnixNano(), 10)))
	ms := window.Milliseconds()
	if ms <= 0 {
		return 0
	}
	return time.Duration(h.Sum64()%uint64(ms)) * time.Millisecond
}

// jobFor builds the Job of one scheduled time from the jobTemplate.
func (c *cronPass) jobFor(name string, scheduled time.Time) *api.Job {
	job := JobFromTemplate(c.cj, name)
	job.Metadata.Annotations[api.AnnotationCronJobScheduledTimestamp] = scheduled.Format(time.RFC3339)
	return job
}

// JobFromTemplate builds the Job named name that runs a CronJob's
// jobTemplate, as the cronjob controller and `kubectl create job
// --from=cronjob/NAME` both do: the template's labels, annotations
// (never nil) and spec, copied, in the CronJob's namespace and controlled
// by it. Job name labels in the template's pod template are dropped: the
// new Job's defaults set them to its own name.
func JobFromTemplate(cj *api.CronJob, name string) *api.Job {
	meta := cj.GetMetadata()
	tmpl := cj.GetSpec().GetJobTemplate()
	annotations := maps.Clone(tmpl.GetMetadata().GetAnnotations())
	if annotations == nil {
		annotations = make(map[string]string)
	}
	spec := &api.JobSpec{}
	if tmpl.GetSpec() != nil {
		spec = proto.Clone(tmpl.GetSpec()).(*api.JobSpec)
	}
	if podMeta := spec.GetTemplate().GetMetadata(); podMeta != nil {
		delete(podMeta.Labels, api.LabelJobName)
		delete(podMeta.Labels, api.LabelBatchJobName)
		// Only the cron controller times a run.
		delete(podMeta.Annotations, api.AnnotationNotBefore)
	}
	return &api.Job{
		ApiVersion: api.JobResource.APIVersion(),
		Kind:       api.JobResource.Kind,
		Metadata: &api.ObjectMeta{
			Name:        name,
			Namespace:   meta.GetNamespace(),
			Labels:      maps.Clone(tmpl.GetMetadata().GetLabels()),
			Annotations: annotations,
			OwnerReferences: []*api.OwnerReference{{
				ApiVersion:         api.CronJobResource.APIVersion(),
				Kind:               api.CronJobResource.Kind,
				Name:               meta.GetName(),
				Uid:                meta.GetUid(),
				Controller:         proto.Bool(true),
				BlockOwnerDeletion: proto.Bool(true),
			}},
		},
		Spec: spec,
	}
}

func (c *cronPass) hasJob(name string) bool {
	for _, j := range c.jobs {
		if j.GetMetadata().GetName() == name {
			return true
		}
	}
	return false
}

// activeRefs lists the unfinished Jobs, and the one being created, oldest
// first.
func (c *cronPass) activeRefs() []*api.ObjectReference {
	var refs []*api.ObjectReference
	for _, j := range append(c.active, c.newJob) {
		if j == nil {
			continue
		}
		refs = append(refs, &api.ObjectReference{
			ApiVersion: api.JobResource.APIVersion(),
			Kind:       api.JobResource.Kind,
			Name:       j.GetMetadata().GetName(),
			Namespace:  j.GetMetadata().GetNamespace(),
			Uid:        j.GetMetadata().GetUid(),
		})
	}
	return refs
}

func (c *cronPass) event(typ, reason, message string) {
	c.plan.Events = append(c.plan.Events, Event{Type: typ, Reason: reason, Message: message})
}

// cronJobName is the Job name for a scheduled time: minutes since the epoch,
// or seconds for schedules that fire within a minute.
func cronJobName(cronJob string, scheduled time.Time, hasSeconds bool) string {
	if hasSeconds {
		return cronJob + "-" + strconv.FormatInt(scheduled.Unix(), 10)
	}
	return cronJob + "-" + strconv.FormatInt(scheduled.Unix()/60, 10)
}

// jobScheduledBefore orders Jobs by scheduled time, then creation, then name.
func jobScheduledBefore(a, b *api.Job) bool {
	at, bt := JobScheduledTime(a), JobScheduledTime(b)
	if !at.Equal(bt) {
		return at.Before(bt)
	}
	return a.GetMetadata().GetName() < b.GetMetadata().GetName()
}

// JobScheduledTime is the time a CronJob's Job was scheduled for, from its
// scheduled-timestamp annotation (else its creation time).
func JobScheduledTime(j *api.Job) time.Time {
	if t, err := time.Parse(time.RFC3339, j.GetMetadata().GetAnnotations()[api.AnnotationCronJobScheduledTimestamp]); err == nil {
		return t
	}
	if ct := j.GetMetadata().GetCreationTimestamp(); ct != nil {
		return ct.AsTime()
	}
	return time.Time{}
}

// jobStartedBefore orders Jobs by status.startTime, unstarted ones last,
// then name (Kubernetes' byJobStartTime).
func jobStartedBefore(a, b *api.Job) bool {
	as, bs := a.GetStatus().GetStartTime(), b.GetStatus().GetStartTime()
	switch {
	case as == nil && bs != nil:
		return false
	case as != nil && bs == nil:
		return true
	case as != nil && !as.AsTime().Equal(bs.AsTime()):
		return as.AsTime().Before(bs.AsTime())
	}
	return a.GetMetadata().GetName() < b.GetMetadata().GetName()
}
