package scheduler

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// clock is a time on 2024-05-01 UTC.
func clock(h, m, s int) time.Time { return time.Date(2024, 5, 1, h, m, s, 0, time.UTC) }

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load time zone: %v", err)
	}
	return loc
}

// inputAt is the CronInput of cj alone at now, with its time zone loaded
// as the cluster loads it.
func inputAt(cj *api.CronJob, now time.Time) CronInput {
	loc, err := api.CronLocation(cj)
	return CronInput{CronJob: cj, Location: loc, LocationErr: err, Now: now}
}

// newCronJob builds CronJob "cj" created at 11:00:30 UTC.
func newCronJob(schedule string, mods ...func(*api.CronJob)) *api.CronJob {
	c := &api.CronJob{
		ApiVersion: "batch/v1", Kind: "CronJob",
		Metadata: &api.ObjectMeta{Name: "cj", Uid: "cj-uid", CreationTimestamp: ts(clock(11, 0, 30))},
		Spec: &api.CronJobSpec{
			Schedule:          schedule,
			ConcurrencyPolicy: "Allow",
			JobTemplate: &api.JobTemplateSpec{Spec: &api.JobSpec{Template: &api.PodTemplateSpec{
				Spec: &api.PodSpec{RestartPolicy: "Never", Containers: []*api.Container{{Name: "main", Command: []string{"date"}}}},
			}}},
		},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func zone(name string) func(*api.CronJob) {
	return func(c *api.CronJob) { c.Spec.TimeZone = proto.String(name) }
}
func createdOn(t time.Time) func(*api.CronJob) {
	return func(c *api.CronJob) { c.Metadata.CreationTimestamp = ts(t) }
}
func lastScheduled(t time.Time) func(*api.CronJob) {
	return func(c *api.CronJob) { cronStatus(c).LastScheduleTime = ts(t) }
}
func startingDeadline(s int64) func(*api.CronJob) {
	return func(c *api.CronJob) { c.Spec.StartingDeadlineSeconds = proto.Int64(s) }
}
func policy(p string) func(*api.CronJob) {
	return func(c *api.CronJob) { c.Spec.ConcurrencyPolicy = p }
}
func cronSuspended(c *api.CronJob) { c.Spec.Suspend = proto.Bool(true) }
func historyLimits(succeeded, failed int32) func(*api.CronJob) {
	return func(c *api.CronJob) {
		c.Spec.SuccessfulJobsHistoryLimit, c.Spec.FailedJobsHistoryLimit = proto.Int32(succeeded), proto.Int32(failed)
	}
}
func listedActive(names ...string) func(*api.CronJob) {
	return func(c *api.CronJob) {
		for _, n := range names {
			cronStatus(c).Active = append(cronStatus(c).Active, &api.ObjectReference{ApiVersion: "batch/v1", Kind: "Job", Name: n})
		}
	}
}

func cronStatus(c *api.CronJob) *api.CronJobStatus {
	if c.Status == nil {
		c.Status = &api.CronJobStatus{}
	}
	return c.Status
}

// ownedJob builds a Job of "cj" for a scheduled time, started then and in
// state "" (running), "Complete" or "Failed" (finished a minute later).
func ownedJob(name string, scheduled time.Time, state string) *api.Job {
	j := &api.Job{
		Metadata: &api.ObjectMeta{Name: name, Annotations: map[string]string{api.AnnotationCronJobScheduledTimestamp: scheduled.Format(time.RFC3339)}},
		Status:   &api.JobStatus{StartTime: ts(scheduled)},
	}
	if state != "" {
		j.Status.Conditions = []*api.JobCondition{{Type: state, Status: api.ConditionTrue, LastTransitionTime: ts(scheduled.Add(time.Minute))}}
		if state == api.JobComplete {
			j.Status.CompletionTime = ts(scheduled.Add(time.Minute))
		}
	}
	return j
}

// suspendedJob marks a Job suspended.
func suspendedJob(j *api.Job) *api.Job {
	j.Spec = &api.JobSpec{Suspend: proto.Bool(true)}
	return j
}

// podOfJob builds a pod of a CronJob's Job in a phase.
func podOfJob(job, phase string, mods ...func(*api.Pod)) *api.Pod {
	p := newPod(job+"-pod", phase, mods...)
	p.Metadata.Labels["job-name"] = job
	return p
}

func minuteName(t time.Time) string { return "cj-" + strconv.FormatInt(t.Unix()/60, 10) }
func secondName(t time.Time) string { return "cj-" + strconv.FormatInt(t.Unix(), 10) }

// cronResult is what a user of a CronPlan notices, in comparable form.
type cronResult struct {
	Scheduled     time.Time
	Action        string
	Job           string
	ReplaceJobs   []string
	SuspendJobs   []string
	DeleteJobs    []string
	Events        []string
	Status        *cronStatusResult // nil when the plan carries no status
	TooManyMissed bool
	Next          time.Time
	ActiveJobs    []string
	CaughtUp      bool
}

type cronStatusResult struct {
	Active                                    []string
	LastSchedule, LastSuccessful, LastFailure time.Time
}

func summarizeCron(p CronPlan) cronResult {
	r := cronResult{Scheduled: p.Scheduled, Action: p.Action, ReplaceJobs: p.ReplaceJobs, SuspendJobs: p.SuspendJobs, DeleteJobs: p.DeleteJobs,
		TooManyMissed: p.TooManyMissed, Next: p.Next, ActiveJobs: p.ActiveJobs, CaughtUp: p.CaughtUp}
	if p.Job != nil {
		r.Job = p.Job.GetMetadata().GetName()
	}
	for _, e := range p.Events {
		r.Events = append(r.Events, e.Type+" "+e.Reason+": "+e.Message)
	}
	if s := p.Status; s != nil {
		r.Status = &cronStatusResult{}
		for _, a := range s.Active {
			r.Status.Active = append(r.Status.Active, a.Name)
		}
		if s.LastScheduleTime != nil {
			r.Status.LastSchedule = s.LastScheduleTime.AsTime()
		}
		if s.LastSuccessfulTime != nil {
			r.Status.LastSuccessful = s.LastSuccessfulTime.AsTime()
		}
		if s.LastFailureTime != nil {
			r.Status.LastFailure = s.LastFailureTime.AsTime()
		}
	}
	return r
}

// createdEvent is the event for a Job named <cronjob>-<minutes or seconds
// since the epoch>; the message names its scheduled time.
func createdEvent(name string) string {
	n, _ := strconv.ParseInt(name[strings.LastIndex(name, "-")+1:], 10, 64)
	scheduled := time.Unix(n*60, 0)
	if n > 1e9 {
		scheduled = time.Unix(n, 0)
	}
	return "Normal SuccessfulCreate: Created job " + name + " for scheduled time " + scheduled.UTC().Format(time.RFC3339)
}

const tooManyEvent = "Warning TooManyMissedTimes: too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"

func TestReconcileCronJob(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	tokyo := mustZone(t, "Asia/Tokyo")
	at1205 := clock(12, 5, 0)
	for _, tc := range []struct {
		name string
		cj   *api.CronJob
		jobs []*api.Job
		pods []*api.Pod
		now  time.Time
		want cronResult

		lastDecided, leaderSince time.Time
	}{
		{name: "nothing due before the first time",
			cj: newCronJob("*/5 * * * *", createdOn(clock(12, 1, 0))), now: clock(12, 4, 59),
			want: cronResult{Next: at1205}},
		{name: "a due time creates its job",
			cj: newCronJob("*/5 * * * *"), now: clock(12, 5, 10),
			want: cronResult{Scheduled: at1205, Action: CronCreated, Job: minuteName(at1205), Events: []string{createdEvent(minuteName(at1205))},
				Status: &cronStatusResult{Active: []string{minuteName(at1205)}, LastSchedule: at1205}, Next: clock(12, 10, 0)}},
		{name: "a time already decided is not decided again",
			cj: newCronJob("*/5 * * * *", lastScheduled(at1205)), now: clock(12, 7, 0),
			want: cronResult{Next: clock(12, 10, 0)}},
		{name: "an existing job for the time is not created twice",
			cj: newCronJob("*/5 * * * *"), jobs: []*api.Job{ownedJob(minuteName(at1205), at1205, "")}, now: clock(12, 6, 0),
			want: cronResult{Status: &cronStatusResult{Active: []string{minuteName(at1205)}, LastSchedule: at1205}, Next: clock(12, 10, 0)}},
		{name: "a few missed times run only the latest",
			cj: newCronJob("*/2 * * * *", lastScheduled(clock(12, 0, 0))), now: clock(12, 10, 30),
			want: cronResult{Scheduled: clock(12, 10, 0), Action: CronCreated, Job: minuteName(clock(12, 10, 0)),
				Events: []string{createdEvent(minuteName(clock(12, 10, 0)))},
				Status: &cronStatusResult{Active: []string{minuteName(clock(12, 10, 0))}, LastSchedule: clock(12, 10, 0)}, Next: clock(12, 12, 0)}},
		{name: "long downtime runs only the latest time and warns",
			cj: newCronJob("* * * * *", lastScheduled(clock(10, 0, 0))), now: clock(14, 30, 30),
			want: cronResult{Scheduled: clock(14, 30, 0), Action: CronCreated, Job: minuteName(clock(14, 30, 0)), TooManyMissed: true,
				Events: []string{tooManyEvent, createdEvent(minuteName(clock(14, 30, 0)))},
				Status: &cronStatusResult{Active: []string{minuteName(clock(14, 30, 0))}, LastSchedule: clock(14, 30, 0)}, Next: clock(14, 31, 0)}},
		{name: "with startingDeadlineSeconds the oldest time within it runs first, the others follow",
			cj: newCronJob("* * * * *", lastScheduled(clock(10, 0, 0)), startingDeadline(300)), now: clock(14, 30, 30),
			want: cronResult{Scheduled: clock(14, 26, 0), Action: CronCreated, Job: minuteName(clock(14, 26, 0)),
				Events: []string{createdEvent(minuteName(clock(14, 26, 0)))},
				Status: &cronStatusResult{Active: []string{minuteName(clock(14, 26, 0))}, LastSchedule: clock(14, 26, 0)}, Next: clock(14, 27, 0)}},
		{name: "a time missed during a short outage is caught up within startingDeadlineSeconds",
			cj: newCronJob("* * * * * *", lastScheduled(clock(12, 0, 0)), startingDeadline(10)), now: clock(12, 0, 2).Add(400 * time.Millisecond),
			want: cronResult{Scheduled: clock(12, 0, 1), Action: CronCreated, Job: secondName(clock(12, 0, 1)),
				Events: []string{createdEvent(secondName(clock(12, 0, 1)))},
				Status: &cronStatusResult{Active: []string{secondName(clock(12, 0, 1))}, LastSchedule: clock(12, 0, 1)}, Next: clock(12, 0, 2)}},
		{name: "a time past startingDeadlineSeconds is missed",
			cj: newCronJob("0 * * * *", lastScheduled(clock(11, 0, 0)), startingDeadline(60)), now: clock(12, 5, 0),
			want: cronResult{Scheduled: clock(12, 0, 0), Action: CronMissSchedule,
				Events: []string{"Warning MissSchedule: Missed scheduled time to start a job: 2024-05-01T12:00:00Z"},
				Status: &cronStatusResult{LastSchedule: clock(12, 0, 0)}, Next: clock(13, 0, 0)}},
		{name: "a late time within startingDeadlineSeconds still runs",
			cj: newCronJob("0 * * * *", lastScheduled(clock(11, 0, 0)), startingDeadline(600)), now: clock(12, 5, 0),
			want: cronResult{Scheduled: clock(12, 0, 0), Action: CronCreated, Job: minuteName(clock(12, 0, 0)),
				Events: []string{createdEvent(minuteName(clock(12, 0, 0)))},
				Status: &cronStatusResult{Active: []string{minuteName(clock(12, 0, 0))}, LastSchedule: clock(12, 0, 0)}, Next: clock(13, 0, 0)}},
		{name: "Forbid with a running job skips the time",
			cj: newCronJob("*/5 * * * *", policy("Forbid"), listedActive("old")), jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, now: clock(12, 5, 0),
			want: cronResult{Scheduled: at1205, Action: CronJobAlreadyActive,
				Events: []string{"Normal JobAlreadyActive: Not starting job because prior execution is running and concurrency policy is Forbid (scheduled time " + at1205.UTC().Format(time.RFC3339) + ")"},
				Status: &cronStatusResult{Active: []string{"old"}, LastSchedule: at1205}, Next: clock(12, 10, 0), ActiveJobs: []string{"old"}}},
		{name: "Forbid with only finished jobs creates",
			cj: newCronJob("*/5 * * * *", policy("Forbid")), jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), api.JobComplete)}, now: clock(12, 5, 0),
			want: cronResult{Scheduled: at1205, Action: CronCreated, Job: minuteName(at1205), Events: []string{createdEvent(minuteName(at1205))},
				Status: &cronStatusResult{Active: []string{minuteName(at1205)}, LastSchedule: at1205, LastSuccessful: clock(12, 1, 0)},
				Next:   clock(12, 10, 0)}},
		{name: "Replace first suspends a running job and decides nothing yet",
			cj:   newCronJob("*/5 * * * *", policy("Replace"), listedActive("old")),
			jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, pods: []*api.Pod{podOfJob("old", api.PodRunning)}, now: clock(12, 5, 0),
			want: cronResult{SuspendJobs: []string{"old"},
				Events: []string{"Normal StoppingJob: Stopping job old to replace it (scheduled time 2024-05-01T12:05:00Z)"}, Next: clock(12, 10, 0)}},
		{name: "Replace suspends a job that has no pod yet, as one may start any moment",
			cj: newCronJob("*/5 * * * *", policy("Replace"), listedActive("old")), jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, now: clock(12, 5, 0),
			want: cronResult{SuspendJobs: []string{"old"},
				Events: []string{"Normal StoppingJob: Stopping job old to replace it (scheduled time 2024-05-01T12:05:00Z)"}, Next: clock(12, 10, 0)}},
		{name: "Replace waits while a suspended job's pod is still stopping",
			cj:   newCronJob("*/5 * * * *", policy("Replace"), listedActive("old")),
			jobs: []*api.Job{suspendedJob(ownedJob("old", clock(12, 0, 0), ""))}, pods: []*api.Pod{podOfJob("old", api.PodRunning, stopping)}, now: clock(12, 5, 0),
			want: cronResult{Next: clock(12, 10, 0)}},
		{name: "Replace deletes a suspended job whose pods ended and creates",
			cj:   newCronJob("*/5 * * * *", policy("Replace"), listedActive("old")),
			jobs: []*api.Job{suspendedJob(ownedJob("old", clock(12, 0, 0), ""))}, pods: []*api.Pod{podOfJob("old", api.PodFailed, stopping)}, now: clock(12, 5, 0),
			want: cronResult{Scheduled: at1205, Action: CronCreated, Job: minuteName(at1205), ReplaceJobs: []string{"old"},
				Events: []string{"Normal SuccessfulDelete: Deleted job old", createdEvent(minuteName(at1205))},
				Status: &cronStatusResult{Active: []string{minuteName(at1205)}, LastSchedule: at1205}, Next: clock(12, 10, 0)}},
		{name: "Replace that waited past the next time runs only the newest",
			cj:   newCronJob("*/5 * * * *", policy("Replace"), listedActive("old"), lastScheduled(clock(12, 0, 0))),
			jobs: []*api.Job{suspendedJob(ownedJob("old", clock(12, 0, 0), ""))}, pods: []*api.Pod{podOfJob("old", api.PodFailed, stopping)}, now: clock(12, 10, 1),
			want: cronResult{Scheduled: clock(12, 10, 0), Action: CronCreated, Job: minuteName(clock(12, 10, 0)), ReplaceJobs: []string{"old"},
				Events: []string{"Normal SuccessfulDelete: Deleted job old", createdEvent(minuteName(clock(12, 10, 0)))},
				Status: &cronStatusResult{Active: []string{minuteName(clock(12, 10, 0))}, LastSchedule: clock(12, 10, 0)}, Next: clock(12, 15, 0)}},
		{name: "Replace past startingDeadlineSeconds misses the time and leaves the running job alone",
			cj:   newCronJob("*/5 * * * *", policy("Replace"), listedActive("old"), startingDeadline(10)),
			jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, pods: []*api.Pod{podOfJob("old", api.PodRunning)}, now: clock(12, 5, 30),
			want: cronResult{Scheduled: at1205, Action: CronMissSchedule,
				Events: []string{"Warning MissSchedule: Missed scheduled time to start a job: 2024-05-01T12:05:00Z"},
				Status: &cronStatusResult{Active: []string{"old"}, LastSchedule: at1205}, Next: clock(12, 10, 0)}},
		{name: "Allow runs beside running jobs",
			cj: newCronJob("*/5 * * * *", listedActive("old")), jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, now: clock(12, 5, 0),
			want: cronResult{Scheduled: at1205, Action: CronCreated, Job: minuteName(at1205), Events: []string{createdEvent(minuteName(at1205))},
				Status: &cronStatusResult{Active: []string{"old", minuteName(at1205)}, LastSchedule: at1205}, Next: clock(12, 10, 0)}},
		{name: "a time passed while suspended is decided Suspended, and the next awaited",
			cj: newCronJob("*/5 * * * *", cronSuspended), now: clock(12, 5, 0),
			want: cronResult{Scheduled: at1205, Action: CronSuspended, Next: clock(12, 10, 0)}},
		{name: "suspended with startingDeadlineSeconds, the oldest missed time within it is decided first, leaving no gap",
			cj: newCronJob("* * * * * *", cronSuspended, startingDeadline(60)), lastDecided: clock(12, 0, 0), now: clock(12, 0, 5),
			want: cronResult{Scheduled: clock(12, 0, 1), Action: CronSuspended, Next: clock(12, 0, 2)}},
		{name: "suspended with startingDeadlineSeconds, a time older than the deadline is not decided",
			cj: newCronJob("* * * * * *", cronSuspended, startingDeadline(2)), lastDecided: clock(12, 0, 0), now: clock(12, 0, 5),
			want: cronResult{Scheduled: clock(12, 0, 3), Action: CronSuspended, Next: clock(12, 0, 4)}},
		{name: "suspended without startingDeadlineSeconds, only the most recent missed time is decided",
			cj: newCronJob("* * * * * *", cronSuspended), lastDecided: clock(12, 0, 0), now: clock(12, 0, 5),
			want: cronResult{Scheduled: clock(12, 0, 5), Action: CronSuspended, Next: clock(12, 0, 6)}},
		{name: "a time the ledger holds is not decided again, suspended or not",
			cj: newCronJob("*/5 * * * *"), lastDecided: at1205, now: clock(12, 7, 0),
			want: cronResult{Next: clock(12, 10, 0)}},
		{name: "a time due before the leader took office is caught up",
			cj: newCronJob("*/5 * * * *"), leaderSince: clock(12, 5, 2), now: clock(12, 5, 3),
			want: cronResult{Scheduled: at1205, Action: CronCreated, Job: minuteName(at1205), Events: []string{createdEvent(minuteName(at1205))},
				Status: &cronStatusResult{Active: []string{minuteName(at1205)}, LastSchedule: at1205}, Next: clock(12, 10, 0), CaughtUp: true}},
		{name: "a time due after the leader took office is on time",
			cj: newCronJob("*/5 * * * *"), leaderSince: clock(12, 0, 0), now: clock(12, 5, 3),
			want: cronResult{Scheduled: at1205, Action: CronCreated, Job: minuteName(at1205), Events: []string{createdEvent(minuteName(at1205))},
				Status: &cronStatusResult{Active: []string{minuteName(at1205)}, LastSchedule: at1205}, Next: clock(12, 10, 0)}},
		{name: "history limits delete the oldest finished jobs",
			cj: newCronJob("0 0 1 1 *", historyLimits(2, 1)),
			jobs: []*api.Job{ownedJob("s3", clock(3, 0, 0), api.JobComplete), ownedJob("s1", clock(1, 0, 0), api.JobComplete),
				ownedJob("s4", clock(4, 0, 0), api.JobComplete), ownedJob("s2", clock(2, 0, 0), api.JobComplete),
				ownedJob("f2", clock(2, 30, 0), api.JobFailed), ownedJob("f1", clock(1, 30, 0), api.JobFailed), ownedJob("r", clock(0, 0, 0), "")},
			now: clock(12, 5, 0),
			want: cronResult{DeleteJobs: []string{"s1", "f1", "s2"},
				Events: []string{"Normal SuccessfulDelete: Deleted job s1", "Normal SuccessfulDelete: Deleted job f1", "Normal SuccessfulDelete: Deleted job s2"},
				Status: &cronStatusResult{Active: []string{"r"}, LastSuccessful: clock(4, 1, 0), LastFailure: clock(2, 31, 0)}, Next: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "history limits of zero keep nothing",
			cj:   newCronJob("0 0 1 1 *", historyLimits(0, 0)),
			jobs: []*api.Job{ownedJob("s1", clock(1, 0, 0), api.JobComplete), ownedJob("f1", clock(1, 30, 0), api.JobFailed)}, now: clock(12, 5, 0),
			want: cronResult{DeleteJobs: []string{"s1", "f1"},
				Events: []string{"Normal SuccessfulDelete: Deleted job s1", "Normal SuccessfulDelete: Deleted job f1"},
				Status: &cronStatusResult{LastSuccessful: clock(1, 1, 0), LastFailure: clock(1, 31, 0)}, Next: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "default history keeps three successful and one failed job",
			cj: newCronJob("0 0 1 1 *"),
			jobs: []*api.Job{ownedJob("s1", clock(1, 0, 0), api.JobComplete), ownedJob("s2", clock(2, 0, 0), api.JobComplete),
				ownedJob("s3", clock(3, 0, 0), api.JobComplete), ownedJob("s4", clock(4, 0, 0), api.JobComplete),
				ownedJob("f1", clock(1, 30, 0), api.JobFailed), ownedJob("f2", clock(2, 30, 0), api.JobFailed)}, now: clock(12, 5, 0),
			want: cronResult{DeleteJobs: []string{"s1", "f1"},
				Events: []string{"Normal SuccessfulDelete: Deleted job s1", "Normal SuccessfulDelete: Deleted job f1"},
				Status: &cronStatusResult{LastSuccessful: clock(4, 1, 0), LastFailure: clock(2, 31, 0)}, Next: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "a finished job leaves the active list",
			cj:   newCronJob("0 0 1 1 *", listedActive("a", "gone")),
			jobs: []*api.Job{ownedJob("a", clock(11, 0, 0), api.JobFailed)}, now: clock(12, 5, 0),
			want: cronResult{Events: []string{"Normal SawCompletedJob: Saw completed job: a, status: Failed", "Normal MissingJob: Active job went missing: gone"},
				Status: &cronStatusResult{LastFailure: clock(11, 1, 0)}, Next: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "a time zone moves the schedule",
			cj: newCronJob("0 21 * * *", zone("Asia/Tokyo")), now: clock(12, 0, 30),
			want: cronResult{Scheduled: clock(12, 0, 0), Action: CronCreated, Job: minuteName(clock(12, 0, 0)), Events: []string{createdEvent(minuteName(clock(12, 0, 0)))},
				Status: &cronStatusResult{Active: []string{minuteName(clock(12, 0, 0))}, LastSchedule: clock(12, 0, 0)},
				Next:   time.Date(2024, 5, 2, 21, 0, 0, 0, tokyo)}},
		{name: "a time skipped by the spring-forward jump runs at the jump",
			cj: newCronJob("30 2 * * *", zone("America/New_York"), createdOn(time.Date(2024, 3, 1, 0, 0, 0, 0, ny)),
				lastScheduled(time.Date(2024, 3, 9, 2, 30, 0, 0, ny))),
			now: time.Date(2024, 3, 10, 3, 0, 30, 0, ny),
			want: cronResult{Scheduled: time.Date(2024, 3, 10, 3, 0, 0, 0, ny), Action: CronCreated, Job: minuteName(time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC)),
				Events: []string{createdEvent(minuteName(time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC)))},
				Status: &cronStatusResult{Active: []string{minuteName(time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC))}, LastSchedule: time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC)},
				Next:   time.Date(2024, 3, 11, 2, 30, 0, 0, ny)}},
		{name: "a time repeated by the fall-back does not run twice",
			cj: newCronJob("30 1 * * *", zone("America/New_York"), createdOn(time.Date(2024, 10, 1, 0, 0, 0, 0, ny)),
				lastScheduled(time.Date(2024, 11, 3, 5, 30, 0, 0, time.UTC))), // 01:30 EDT
			now:  time.Date(2024, 11, 3, 6, 45, 0, 0, time.UTC), // 01:45 EST
			want: cronResult{Next: time.Date(2024, 11, 4, 1, 30, 0, 0, ny)}},
		{name: "the 31st skips months without one",
			cj:   newCronJob("0 0 31 * *", createdOn(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)), lastScheduled(time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC))),
			now:  time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
			want: cronResult{Next: time.Date(2024, 5, 31, 0, 0, 0, 0, time.UTC)}},
		{name: "@every 30s counts from the creation time and names jobs by seconds",
			cj: newCronJob("@every 30s", createdOn(clock(12, 0, 10))), now: clock(12, 1, 15),
			want: cronResult{Scheduled: clock(12, 1, 10), Action: CronCreated, Job: secondName(clock(12, 1, 10)), Events: []string{createdEvent(secondName(clock(12, 1, 10)))},
				Status: &cronStatusResult{Active: []string{secondName(clock(12, 1, 10))}, LastSchedule: clock(12, 1, 10)}, Next: clock(12, 1, 40)}},
		{name: "a six-field schedule names jobs by seconds",
			cj: newCronJob("*/2 * * * * *", lastScheduled(clock(12, 1, 10))), now: clock(12, 1, 13),
			want: cronResult{Scheduled: clock(12, 1, 12), Action: CronCreated, Job: secondName(clock(12, 1, 12)), Events: []string{createdEvent(secondName(clock(12, 1, 12)))},
				Status: &cronStatusResult{Active: []string{secondName(clock(12, 1, 12))}, LastSchedule: clock(12, 1, 12)}, Next: clock(12, 1, 14)}},
		{name: "an unparseable schedule warns",
			cj: newCronJob("61 * * * *"), now: clock(12, 5, 0),
			want: cronResult{Events: []string{`Warning UnparseableSchedule: parse schedule "61 * * * *": end of range (61) above maximum (59): 61`}}},
		{name: "a CronJob without a spec only warns",
			cj: &api.CronJob{Metadata: &api.ObjectMeta{Name: "cj"}}, now: clock(12, 5, 0),
			want: cronResult{Events: []string{`Warning UnparseableSchedule: parse schedule "": empty spec string`}}},
		{name: "an unknown time zone warns",
			cj: newCronJob("* * * * *", zone("Mars/Olympus")), now: clock(12, 5, 0),
			want: cronResult{Events: []string{`Warning UnknownTimeZone: invalid timeZone "Mars/Olympus"`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := proto.Clone(tc.cj).(*api.CronJob)
			in := inputAt(cj, tc.now)
			in.Jobs, in.Pods = tc.jobs, tc.pods
			in.LastDecided, in.LeaderSince = tc.lastDecided, tc.leaderSince
			plan := ReconcileCronJob(in)
			if diff := cmp.Diff(tc.want, summarizeCron(plan)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.cj, cj, protocmp.Transform()); diff != "" {
				t.Errorf("input CronJob modified (-before +after):\n%s", diff)
			}
		})
	}
}

func TestCronJobFromTemplate(t *testing.T) {
	cj := newCronJob("0 21 * * *", zone("Asia/Tokyo"), func(c *api.CronJob) {
		c.Metadata.Namespace = "ns"
		c.Spec.JobTemplate.Metadata = &api.ObjectMeta{Labels: map[string]string{"app": "x"}, Annotations: map[string]string{"note": "y"}}
		c.Spec.JobTemplate.Spec.BackoffLimit = proto.Int32(2)
	})
	scheduled := clock(12, 0, 0)
	want := &api.Job{
		ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &api.ObjectMeta{
			Name: minuteName(scheduled), Namespace: "ns",
			Labels:      map[string]string{"app": "x"},
			Annotations: map[string]string{"note": "y", "batch.kubernetes.io/cronjob-scheduled-timestamp": "2024-05-01T21:00:00+09:00"},
			OwnerReferences: []*api.OwnerReference{{ApiVersion: "batch/v1", Kind: "CronJob", Name: "cj", Uid: "cj-uid",
				Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}},
		},
		Spec: proto.Clone(cj.Spec.JobTemplate.Spec).(*api.JobSpec),
	}
	// Whenever a pass happens, and whoever leads, one scheduled time gives
	// one and the same Job.
	for _, now := range []time.Time{clock(12, 0, 0), clock(12, 0, 1), clock(12, 59, 59)} {
		plan := ReconcileCronJob(inputAt(cj, now))
		if diff := cmp.Diff(want, plan.Job, protocmp.Transform()); diff != "" {
			t.Errorf("Job at %v (-want +got):\n%s", now, diff)
		}
	}
}

func TestJobFromTemplate(t *testing.T) {
	cj := newCronJob("@hourly", func(c *api.CronJob) {
		c.Metadata.Namespace = "default"
		c.Spec.JobTemplate.Spec.Template.Metadata = &api.ObjectMeta{Labels: map[string]string{
			"app": "x", api.LabelJobName: "stale", api.LabelBatchJobName: "stale",
		}}
	})
	want := &api.Job{
		ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &api.ObjectMeta{
			Name: "by-hand", Namespace: "default", Annotations: map[string]string{},
			OwnerReferences: []*api.OwnerReference{{ApiVersion: "batch/v1", Kind: "CronJob", Name: "cj", Uid: "cj-uid",
				Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}},
		},
		Spec: proto.Clone(cj.Spec.JobTemplate.Spec).(*api.JobSpec),
	}
	want.Spec.Template.Metadata.Labels = map[string]string{"app": "x"}
	before := proto.Clone(cj)
	got := JobFromTemplate(cj, "by-hand")
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("JobFromTemplate (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, cj, protocmp.Transform()); diff != "" {
		t.Errorf("input CronJob modified (-before +after):\n%s", diff)
	}
}

func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		spec        string
		wantSeconds bool
		wantErr     bool
	}{
		{spec: "*/5 * * * *"},
		{spec: "0 0 31 * *"},
		{spec: "@hourly"},
		{spec: "@every 2m"},
		{spec: "@every 30s", wantSeconds: true},
		{spec: "*/2 * * * * *", wantSeconds: true},
		{spec: "0 30 2 * * *", wantSeconds: true},
		{spec: "TZ=UTC * * * * *", wantErr: true},
		{spec: "CRON_TZ=UTC * * * * *", wantErr: true},
		{spec: "61 * * * *", wantErr: true},
		{spec: "* * * *", wantErr: true},
		{spec: "", wantErr: true},
		{spec: "@fortnightly", wantErr: true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, hasSeconds, err := ParseSchedule(tc.spec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSchedule(%q) error %v, want error %v", tc.spec, err, tc.wantErr)
			}
			if hasSeconds != tc.wantSeconds {
				t.Errorf("ParseSchedule(%q) hasSeconds %v, want %v", tc.spec, hasSeconds, tc.wantSeconds)
			}
		})
	}
}

func TestNextTimes(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	for _, tc := range []struct {
		name     string
		schedule string
		zone     string
		after    time.Time
		want     []time.Time
	}{
		{name: "spring-forward gap runs once at the jump", schedule: "30 2 * * *", zone: "America/New_York",
			after: time.Date(2024, 3, 9, 0, 0, 0, 0, ny),
			want:  []time.Time{time.Date(2024, 3, 9, 2, 30, 0, 0, ny), time.Date(2024, 3, 10, 3, 0, 0, 0, ny), time.Date(2024, 3, 11, 2, 30, 0, 0, ny)}},
		{name: "fall-back repeat runs once", schedule: "30 1 * * *", zone: "America/New_York",
			after: time.Date(2024, 11, 2, 0, 0, 0, 0, ny),
			want: []time.Time{time.Date(2024, 11, 2, 5, 30, 0, 0, time.UTC), time.Date(2024, 11, 3, 5, 30, 0, 0, time.UTC),
				time.Date(2024, 11, 4, 6, 30, 0, 0, time.UTC)}},
		{name: "hourly wildcard keeps real time across the fall-back", schedule: "0 * * * *", zone: "America/New_York",
			after: time.Date(2024, 11, 3, 4, 30, 0, 0, time.UTC),
			want: []time.Time{time.Date(2024, 11, 3, 5, 0, 0, 0, time.UTC), time.Date(2024, 11, 3, 6, 0, 0, 0, time.UTC),
				time.Date(2024, 11, 3, 7, 0, 0, 0, time.UTC)}},
		{name: "month ends", schedule: "0 0 31 * *",
			after: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			want: []time.Time{time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC),
				time.Date(2024, 5, 31, 0, 0, 0, 0, time.UTC), time.Date(2024, 7, 31, 0, 0, 0, 0, time.UTC)}},
		{name: "every 30 seconds", schedule: "@every 30s", after: clock(12, 0, 0),
			want: []time.Time{clock(12, 0, 30), clock(12, 1, 0), clock(12, 1, 30)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob(tc.schedule)
			if tc.zone != "" {
				zone(tc.zone)(cj)
			}
			loc, err := api.CronLocation(cj)
			if err != nil {
				t.Fatalf("CronLocation: %v", err)
			}
			got, err := NextTimes(cj, loc, tc.after, len(tc.want))
			if err != nil {
				t.Fatalf("NextTimes: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NextTimes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLastFireTimeMatchesWalk checks the bisection against walking every
// firing, for random schedules, zones and windows.
func TestLastFireTimeMatchesWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	specs := []string{"*/7 * * * *", "30 2 * * *", "30 1 * * *", "0 0 31 * *", "15 */3 * * 1-5", "*/13 * * * * *", "@every 90s", "@daily", "0 9 29 2 *"}
	zones := []string{"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe"}
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 200 {
		spec := specs[rng.IntN(len(specs))]
		loc := mustZone(t, zones[rng.IntN(len(zones))])
		sched, hasSeconds, err := ParseSchedule(spec)
		if err != nil {
			t.Fatal(err)
		}
		window := 10 * 24 * time.Hour
		if hasSeconds {
			window = 6 * time.Hour // keeps the walk short
		}
		after := base.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).In(loc)
		now := after.Add(time.Duration(rng.Int64N(int64(window))))
		var want time.Time
		for f := sched.Next(after); !f.IsZero() && !f.After(now); f = sched.Next(f) {
			want = f
		}
		if got := lastFireTime(sched, after, now); !got.Equal(want) {
			t.Errorf("case %d: %q in %v, window (%v, %v]: got %v, want %v", i, spec, loc, after, now, got, want)
		}
	}
}
