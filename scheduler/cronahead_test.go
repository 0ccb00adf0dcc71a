package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// aheadResult is what deciding ahead changes in a plan, in comparable form.
type aheadResult struct {
	Scheduled time.Time
	Action    string
	Job       string
	NotBefore time.Time
	// PodNotBefore is the annotation the Job's pods inherit.
	PodNotBefore string
	Next         time.Time
	ActiveJobs   []string
}

func TestReconcileCronJobDecidesAhead(t *testing.T) {
	const lead = 500 * time.Millisecond
	at := clock(12, 5, 0)
	before := func(d time.Duration) time.Time { return at.Add(-d) }
	for _, tc := range []struct {
		name string
		cj   *api.CronJob
		jobs []*api.Job
		lead time.Duration
		now  time.Time
		want aheadResult
	}{
		{name: "outside the lead nothing is decided; the controller wakes at the lead",
			cj: newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0))), lead: lead, now: before(2 * time.Second),
			want: aheadResult{Next: before(lead)}},
		{name: "within the lead the run is decided, its pods to start at the time",
			cj: newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0))), lead: lead, now: before(400 * time.Millisecond),
			want: aheadResult{Scheduled: at, Action: CronCreated, Job: minuteName(at), NotBefore: at,
				PodNotBefore: "2024-05-01T12:05:00Z", Next: clock(12, 10, 0)}},
		{name: "without a lead nothing is decided before the time",
			cj: newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0))), now: before(400 * time.Millisecond),
			want: aheadResult{Next: at}},
		{name: "once due a run is decided as before, with no time to wait for",
			cj: newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0))), lead: lead, now: at.Add(time.Millisecond),
			want: aheadResult{Scheduled: at, Action: CronCreated, Job: minuteName(at), Next: clock(12, 10, 0)}},
		{name: "a run decided ahead is not decided again at its time",
			cj: newCronJob("*/5 * * * *", lastScheduled(at)), jobs: []*api.Job{ownedJob(minuteName(at), at, "")}, lead: lead, now: at.Add(time.Millisecond),
			want: aheadResult{Next: clock(12, 9, 59).Add(lead)}},
		{name: "a suspended CronJob decides nothing ahead",
			cj: newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0)), cronSuspended), lead: lead, now: before(400 * time.Millisecond),
			want: aheadResult{Next: at}},
		{name: "Forbid with an active job waits for the time: the job may end first",
			cj:   newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0)), policy("Forbid"), listedActive("old")),
			jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, lead: lead, now: before(400 * time.Millisecond),
			want: aheadResult{Next: at}},
		{name: "Forbid with an active job skips at the time, as before",
			cj:   newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0)), policy("Forbid"), listedActive("old")),
			jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, lead: lead, now: at,
			want: aheadResult{Scheduled: at, Action: CronJobAlreadyActive, Next: clock(12, 10, 0), ActiveJobs: []string{"old"}}},
		{name: "Forbid with only finished jobs decides ahead",
			cj:   newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0)), policy("Forbid")),
			jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), api.JobComplete)}, lead: lead, now: before(400 * time.Millisecond),
			want: aheadResult{Scheduled: at, Action: CronCreated, Job: minuteName(at), NotBefore: at,
				PodNotBefore: "2024-05-01T12:05:00Z", Next: clock(12, 10, 0)}},
		{name: "Replace with an active job waits for the time",
			cj:   newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0)), policy("Replace"), listedActive("old")),
			jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, lead: lead, now: before(400 * time.Millisecond),
			want: aheadResult{Next: at}},
		{name: "Allow with an active job decides ahead",
			cj:   newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0)), listedActive("old")),
			jobs: []*api.Job{ownedJob("old", clock(12, 0, 0), "")}, lead: lead, now: before(400 * time.Millisecond),
			want: aheadResult{Scheduled: at, Action: CronCreated, Job: minuteName(at), NotBefore: at,
				PodNotBefore: "2024-05-01T12:05:00Z", Next: clock(12, 10, 0)}},
		{name: "an every-second schedule decides the next second within the lead",
			cj: newCronJob("* * * * * *", lastScheduled(clock(12, 1, 10))), lead: lead, now: clock(12, 1, 10).Add(600 * time.Millisecond),
			want: aheadResult{Scheduled: clock(12, 1, 11), Action: CronCreated, Job: secondName(clock(12, 1, 11)), NotBefore: clock(12, 1, 11),
				PodNotBefore: "2024-05-01T12:01:11Z", Next: clock(12, 1, 12)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inputAt(proto.Clone(tc.cj).(*api.CronJob), tc.now)
			in.Jobs, in.Lead = tc.jobs, tc.lead
			plan := ReconcileCronJob(in)
			got := aheadResult{Scheduled: plan.Scheduled, Action: plan.Action, NotBefore: plan.NotBefore, Next: plan.Next, ActiveJobs: plan.ActiveJobs}
			if plan.Job != nil {
				got.Job = plan.Job.GetMetadata().GetName()
				got.PodNotBefore = plan.Job.GetSpec().GetTemplate().GetMetadata().GetAnnotations()[api.AnnotationNotBefore]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReconcileCronJobDecidesAheadAfterItsJitter(t *testing.T) {
	cj := newCronJob("*/5 * * * *", lastScheduled(clock(12, 0, 0)))
	cj.Metadata.Annotations = map[string]string{api.AnnotationJitter: "30s"}
	at := clock(12, 5, 0)
	jitter := JitterDelay(cj, at)
	if jitter == 0 {
		t.Fatal("the test needs a jitter delay above zero")
	}
	in := inputAt(cj, at.Add(jitter).Add(-100*time.Millisecond))
	in.Lead = 500 * time.Millisecond
	plan := ReconcileCronJob(in)
	if plan.Action != CronCreated || !plan.Scheduled.Equal(at) || !plan.NotBefore.Equal(at.Add(jitter)) {
		t.Fatalf("plan: action %q scheduled %v not before %v; want Created for %v, not before %v", plan.Action, plan.Scheduled, plan.NotBefore, at, at.Add(jitter))
	}
	in.Now = at.Add(jitter).Add(-time.Second)
	if plan := ReconcileCronJob(in); plan.Action != "" || !plan.Next.Equal(at.Add(jitter).Add(-500*time.Millisecond)) {
		t.Fatalf("a second early: action %q next %v; want nothing decided, next at the lead", plan.Action, plan.Next)
	}
}

func TestJobFromTemplateDropsNotBefore(t *testing.T) {
	cj := newCronJob("* * * * *")
	cj.Spec.JobTemplate.Spec.Template.Metadata = &api.ObjectMeta{Annotations: map[string]string{api.AnnotationNotBefore: "2030-01-01T00:00:00Z", "keep": "me"}}
	got := JobFromTemplate(cj, "manual").GetSpec().GetTemplate().GetMetadata().GetAnnotations()
	if diff := cmp.Diff(map[string]string{"keep": "me"}, got); diff != "" {
		t.Errorf("pod template annotations (-want +got):\n%s", diff)
	}
}

// aheadJob is a Job of "cj" decided ahead of at, in state "" (running),
// "Complete" or "Failed".
func aheadJob(name string, at time.Time, state string) *api.Job {
	j := ownedJob(name, at, state)
	j.Metadata.Uid = name + "-uid"
	j.Spec = &api.JobSpec{Template: &api.PodTemplateSpec{Metadata: &api.ObjectMeta{
		Annotations: map[string]string{api.AnnotationNotBefore: api.FormatNotBefore(at)}}}}
	return j
}

func TestReleaseCronRuns(t *testing.T) {
	at := clock(12, 5, 0)
	type result struct {
		Release, Withdraw, Events []string
		Next                      time.Time
	}
	for _, tc := range []struct {
		name     string
		cj       *api.CronJob
		jobs     []*api.Job
		pods     map[string][]*api.Pod
		released []string
		now      time.Time
		lead     time.Duration
		want     result
	}{
		{name: "a run before its time stays held; the leader wakes at it",
			cj: newCronJob("*/5 * * * *"), jobs: []*api.Job{aheadJob("j1", at, "")}, now: at.Add(-time.Millisecond),
			want: result{Next: at}},
		{name: "a run whose time came is released",
			cj: newCronJob("*/5 * * * *"), jobs: []*api.Job{aheadJob("j1", at, "")}, now: at,
			want: result{Release: []string{"j1"}}},
		{name: "a released run is not released again",
			cj: newCronJob("*/5 * * * *"), jobs: []*api.Job{aheadJob("j1", at, "")}, released: []string{"j1-uid"}, now: at.Add(time.Second)},
		{name: "a run of a CronJob suspended before its time is withdrawn",
			cj: newCronJob("*/5 * * * *", cronSuspended), jobs: []*api.Job{aheadJob("j1", at, "")},
			pods: map[string][]*api.Pod{"j1": {podOfJob("j1", api.PodPending)}}, now: at,
			want: result{Withdraw: []string{"j1"}, Events: []string{"Normal Withdrawn: Withdrew job j1, decided ahead of its time 2024-05-01T12:05:00Z: the cronjob was suspended before it"}}},
		{name: "a run already started is released though the CronJob is suspended now",
			cj: newCronJob("*/5 * * * *", cronSuspended), jobs: []*api.Job{aheadJob("j1", at, "")},
			pods: map[string][]*api.Pod{"j1": {podOfJob("j1", api.PodRunning)}}, now: at.Add(time.Second),
			want: result{Release: []string{"j1"}}},
		{name: "a suspended CronJob's run before its time waits for its time",
			cj: newCronJob("*/5 * * * *", cronSuspended), jobs: []*api.Job{aheadJob("j1", at, "")}, now: at.Add(-time.Millisecond),
			want: result{Next: at}},
		{name: "with a lead, a run is released that long before its time",
			cj: newCronJob("*/5 * * * *"), jobs: []*api.Job{aheadJob("j1", at, "")}, now: at.Add(-10 * time.Millisecond), lead: 10 * time.Millisecond,
			want: result{Release: []string{"j1"}}},
		{name: "with a lead, the leader wakes that long before the time",
			cj: newCronJob("*/5 * * * *"), jobs: []*api.Job{aheadJob("j1", at, "")}, now: at.Add(-11 * time.Millisecond), lead: 10 * time.Millisecond,
			want: result{Next: at.Add(-10 * time.Millisecond)}},
		{name: "with a lead, a run whose CronJob is suspended when it is released is withdrawn",
			cj: newCronJob("*/5 * * * *", cronSuspended), jobs: []*api.Job{aheadJob("j1", at, "")},
			pods: map[string][]*api.Pod{"j1": {podOfJob("j1", api.PodPending)}}, now: at.Add(-10 * time.Millisecond), lead: 10 * time.Millisecond,
			want: result{Withdraw: []string{"j1"}, Events: []string{"Normal Withdrawn: Withdrew job j1, decided ahead of its time 2024-05-01T12:05:00Z: the cronjob was suspended before it"}}},
		{name: "finished jobs and jobs decided at their time are left alone",
			cj:   newCronJob("*/5 * * * *"),
			jobs: []*api.Job{aheadJob("done", at, api.JobComplete), ownedJob("ontime", at, "")}, now: at},
	} {
		t.Run(tc.name, func(t *testing.T) {
			released := map[string]bool{}
			for _, uid := range tc.released {
				released[uid] = true
			}
			rel := ReleaseCronRuns(tc.cj, tc.jobs, func(j *api.Job) []*api.Pod { return tc.pods[j.GetMetadata().GetName()] },
				func(uid string) bool { return released[uid] }, tc.now, tc.lead)
			got := result{Next: rel.Next}
			for _, j := range rel.Release {
				got.Release = append(got.Release, j.GetMetadata().GetName())
			}
			for _, j := range rel.Withdraw {
				got.Withdraw = append(got.Withdraw, j.GetMetadata().GetName())
			}
			for _, e := range rel.Events {
				got.Events = append(got.Events, e.Type+" "+e.Reason+": "+e.Message)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("release (-want +got):\n%s", diff)
			}
		})
	}
}
