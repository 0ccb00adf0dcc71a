package test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/cluster"
	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// cronJob is a CronJob manifest whose pods run script with sh.
type cronJob struct {
	name, schedule, policy string
	// successful and failed are the history limits.
	successful, failed int
	// startingDeadline is startingDeadlineSeconds, left out when 0.
	startingDeadline int
	script           string
}

func (c cronJob) yaml() string {
	policy := c.policy
	if policy == "" {
		policy = "Allow"
	}
	deadline := ""
	if c.startingDeadline > 0 {
		deadline = fmt.Sprintf("\n  startingDeadlineSeconds: %d", c.startingDeadline)
	}
	return fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata:
  name: %s
spec:
  schedule: %q
  concurrencyPolicy: %s%s
  successfulJobsHistoryLimit: %d
  failedJobsHistoryLimit: %d
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", %q]
`, c.name, c.schedule, policy, deadline, c.successful, c.failed, c.script)
}

func cronCluster(t *testing.T) *testcluster.Cluster {
	return testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2, AgentArgs: []string{"--restart-backoff", "1s"}})
}

// cronRuns polls until the CronJob has at least n Jobs and returns them.
func cronRuns(t *testing.T, c *testcluster.Cluster, cron string, n int, timeout time.Duration) []testcluster.CronRun {
	t.Helper()
	var runs []testcluster.CronRun
	wait.Within(t, timeout, fmt.Sprintf("%d jobs of cronjob %s", n, cron), func() (bool, string) {
		var err error
		if runs, err = c.CronRuns(cron); err != nil {
			return false, err.Error()
		}
		return len(runs) >= n, fmt.Sprintf("%d jobs: %v", len(runs), runNames(runs))
	})
	return runs
}

func runNames(runs []testcluster.CronRun) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Name)
	}
	return out
}

// lateness is how long after its scheduled time each Job was created.
func lateness(runs []testcluster.CronRun) []time.Duration {
	var out []time.Duration
	for _, r := range runs {
		if !r.Scheduled.IsZero() {
			out = append(out, r.Created.Sub(r.Scheduled))
		}
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// jobOfPod is the Job a pod belongs to: its name without the random suffix.
func jobOfPod(pod string) string { return pod[:strings.LastIndex(pod, "-")] }

// TestCronSecondsScheduleFiresOnTime runs a six-field schedule: a Job every
// two seconds, each named by its scheduled second, created from the
// cron lead before it (decided ahead) to a second after it, its pod's
// process started not before it, none missed or doubled.
func TestCronSecondsScheduleFiresOnTime(t *testing.T) {
	c := cronCluster(t)
	rec := testcluster.NewRecorder(t)
	submitted := time.Now()
	c.Submit(cronJob{name: "tick", schedule: "*/2 * * * * *", successful: 20, failed: 20, script: rec.Wrap("true")}.yaml())
	runs := cronRuns(t, c, "tick", 5, 20*time.Second)
	if first := runs[0].Scheduled; first.Before(submitted.Truncate(time.Second)) || first.After(submitted.Add(3*time.Second)) {
		t.Errorf("first scheduled time %v, want the first even second after the submit at %v", first, submitted)
	}
	seen := map[time.Time]string{}
	for i, r := range runs {
		if want := "tick-" + strconv.FormatInt(r.Scheduled.Unix(), 10); r.Name != want {
			t.Errorf("job %s: want the name %s from its scheduled time %v", r.Name, want, r.Scheduled)
		}
		if r.Scheduled.Unix()%2 != 0 || r.Scheduled.Nanosecond() != 0 {
			t.Errorf("job %s: scheduled at %v, not an even second", r.Name, r.Scheduled)
		}
		if other, dup := seen[r.Scheduled]; dup {
			t.Errorf("jobs %s and %s have the same scheduled time %v", other, r.Name, r.Scheduled)
		}
		seen[r.Scheduled] = r.Name
		if i > 0 && r.Scheduled.Sub(runs[i-1].Scheduled) != 2*time.Second {
			t.Errorf("jobs %s then %s: scheduled %v apart, want 2s (a time missed or doubled)", runs[i-1].Name, r.Name, r.Scheduled.Sub(runs[i-1].Scheduled))
		}
		if late := r.Created.Sub(r.Scheduled); late < -cluster.DefaultCronLead || late >= time.Second {
			t.Errorf("job %s created %v after its scheduled time, want within [-%v, 1s)", r.Name, late, cluster.DefaultCronLead)
		}
	}
	late := lateness(runs)
	t.Logf("creation lateness of %d jobs: %v (median %v)", len(late), late, median(late))

	// What the user waits for: the pod's process started after the
	// scheduled second.
	intervals, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	scheduled := map[string]time.Time{}
	for at, job := range seen {
		scheduled[job] = at
	}
	var started []time.Duration
	for _, iv := range intervals {
		if at, ok := scheduled[jobOfPod(iv.Pod)]; ok {
			started = append(started, time.Unix(0, iv.Start).Sub(at))
			if time.Unix(0, iv.Start).Before(at) {
				t.Errorf("pod %s started at %v, before its scheduled time %v", iv.Pod, time.Unix(0, iv.Start).Format(time.StampMicro), at.Format(time.StampMicro))
			}
		}
	}
	t.Logf("scheduled time to pod process start: %v (median %v)", started, median(started))

	// lastScheduleTime is the newest Job's scheduled time once it stops.
	c.MustCLI("suspend", "cronjob", "tick")
	wait.Within(t, 10*time.Second, "lastScheduleTime of the newest job", func() (bool, string) {
		cj, err := c.GetCronJob("tick")
		if err != nil {
			return false, err.Error()
		}
		runs, err := c.CronRuns("tick")
		if err != nil || len(runs) == 0 {
			return false, fmt.Sprintf("jobs: %v %v", runs, err)
		}
		last, err := time.Parse(time.RFC3339, cj.Status.LastScheduleTime)
		newest := runs[len(runs)-1].Scheduled
		return err == nil && last.Equal(newest), fmt.Sprintf("lastScheduleTime %q, newest job scheduled %v", cj.Status.LastScheduleTime, newest)
	})
}

// TestCronForbidSkipsWhileAJobRuns fires every second a Job that runs five:
// under Forbid no two of its Jobs, nor their pods, ever run at once, and the
// skipped times show as JobAlreadyActive events.
func TestCronForbidSkipsWhileAJobRuns(t *testing.T) {
	c := cronCluster(t)
	rec := testcluster.NewRecorder(t)
	c.Submit(cronJob{name: "slow", schedule: "* * * * * *", policy: "Forbid", successful: 10, failed: 10,
		script: rec.Wrap("sleep 5")}.yaml())
	wait.Within(t, 25*time.Second, "two jobs of slow complete", func() (bool, string) {
		runs, err := c.CronRuns("slow")
		if err != nil {
			return false, err.Error()
		}
		var active []string
		complete := 0
		for _, r := range runs {
			switch r.Finished {
			case "":
				active = append(active, r.Name)
			case "Complete":
				complete++
			}
		}
		if len(active) > 1 {
			t.Fatalf("under Forbid, jobs %v are active at once", active)
		}
		return complete >= 2, fmt.Sprintf("%d complete, active %v", complete, active)
	})
	intervals, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	if n := testcluster.MaxOverlap(intervals); n != 1 {
		t.Errorf("pods of slow ran %d at once, want 1: %+v", n, intervals)
	}
	out := c.MustCLI("describe", "cronjob", "slow")
	if !strings.Contains(out, "JobAlreadyActive") {
		t.Errorf("describe cronjob slow shows no JobAlreadyActive event:\n%s", out)
	}
}

// TestCronReplaceNeverOverlaps fires every second a Job that runs five
// under Replace: each new run replaces the running one, and the pods' own
// start and end times show the old process ended before the new one began.
func TestCronReplaceNeverOverlaps(t *testing.T) {
	c := cronCluster(t)
	rec := testcluster.NewRecorder(t)
	c.Submit(cronJob{name: "swap", schedule: "* * * * * *", policy: "Replace", successful: 10, failed: 10,
		script: rec.WrapStoppable("sleep 5", 500*time.Millisecond)}.yaml())
	wait.Within(t, 20*time.Second, "five runs of swap", func() (bool, string) {
		runs, err := c.CronRuns("swap")
		if err != nil {
			return false, err.Error()
		}
		// A replaced Job is deleted in the step that creates its successor.
		if len(runs) > 1 {
			t.Fatalf("jobs %v of swap exist at once, want the replaced ones deleted", runNames(runs))
		}
		intervals, err := rec.Intervals()
		if err != nil {
			return false, err.Error()
		}
		return len(testcluster.PodNames(intervals)) >= 5, fmt.Sprintf("%d pods ran, jobs %v", len(testcluster.PodNames(intervals)), runNames(runs))
	})
	c.MustCLI("suspend", "cronjob", "swap")
	intervals, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(intervals, func(i, k int) bool { return intervals[i].Start < intervals[k].Start })
	var gaps []time.Duration
	for i, iv := range intervals {
		if i == 0 {
			continue
		}
		prev := intervals[i-1]
		if prev.End == 0 || prev.End > iv.Start {
			t.Errorf("pod %s started at %d while %s still ran (ended %d)", iv.Pod, iv.Start, prev.Pod, prev.End)
			continue
		}
		gaps = append(gaps, time.Duration(iv.Start-prev.End))
	}
	if n := testcluster.MaxOverlap(intervals); n != 1 {
		t.Errorf("pods of swap ran %d at once, want 1: %+v", n, intervals)
	}
	t.Logf("old pod's end to new pod's start: %v", gaps)
}

// TestCronHistoryLimitsKeepTheNewest runs quick Jobs every second, every
// third one failing: once stopped, exactly the three newest succeeded and
// the newest failed Job remain, and the pods of the others went with them.
func TestCronHistoryLimitsKeepTheNewest(t *testing.T) {
	c := cronCluster(t)
	rec := testcluster.NewRecorder(t)
	// The Job's name ends in its scheduled second; every third one fails.
	c.Submit(cronJob{name: "hist", schedule: "* * * * * *", successful: 3, failed: 1,
		script: rec.Wrap(`n=${JOBCLUSTER_JOB_NAME##*-}; [ $((n % 3)) -ne 0 ]`)}.yaml())
	wait.Within(t, 20*time.Second, "eight runs of hist", func() (bool, string) {
		intervals, err := rec.Intervals()
		if err != nil {
			return false, err.Error()
		}
		ended := 0
		for _, iv := range intervals {
			if iv.End != 0 {
				ended++
			}
		}
		return ended >= 8, fmt.Sprintf("%d runs ended", ended)
	})
	c.MustCLI("suspend", "cronjob", "hist")
	var runs []testcluster.CronRun
	wait.Within(t, 10*time.Second, "three succeeded and one failed job of hist", func() (bool, string) {
		var err error
		if runs, err = c.CronRuns("hist"); err != nil {
			return false, err.Error()
		}
		count := map[string]int{}
		for _, r := range runs {
			count[r.Finished]++
		}
		return len(runs) == 4 && count["Complete"] == 3 && count["Failed"] == 1, fmt.Sprintf("jobs by outcome %v: %v", count, runNames(runs))
	})
	for _, r := range runs {
		failing := r.Scheduled.Unix()%3 == 0
		if (r.Finished == "Failed") != failing {
			t.Errorf("job %s ended %s, want it to fail exactly when its second divides by 3", r.Name, r.Finished)
		}
	}
	kept := map[string]bool{}
	for _, r := range runs {
		kept[r.Name] = true
	}
	var list struct {
		Items []testcluster.Pod `json:"items"`
	}
	if err := c.GetJSON(&list, "pods"); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, p := range list.Items {
		if job := p.Metadata.Labels["job-name"]; strings.HasPrefix(job, "hist-") {
			left = append(left, p.Metadata.Name)
			if !kept[job] {
				t.Errorf("pod %s of deleted job %s is still listed", p.Metadata.Name, job)
			}
		}
	}
	if len(left) != len(runs) {
		t.Errorf("pods %v left for the %d jobs kept, want one each", left, len(runs))
	}
}

// TestCronLeaderKillAcrossAFireTime kills the leader just before a
// scheduled time: the new leader runs that time late rather than never, and
// no time runs twice.
func TestCronLeaderKillAcrossAFireTime(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, AgentArgs: []string{"--restart-backoff", "1s"}})
	c.Submit(cronJob{name: "beat", schedule: "*/3 * * * * *", successful: 50, failed: 50, script: "true"}.yaml())
	cronRuns(t, c, "beat", 1, 10*time.Second)

	// Kill the leader 300 ms before the next fire time at least a second away.
	leader := c.WaitForLeader()
	secs := time.Now().Add(time.Second).Unix()
	fire := time.Unix((secs/3+1)*3, 0)
	time.Sleep(time.Until(fire.Add(-300 * time.Millisecond)))
	killed := time.Now()
	c.Kill(leader)
	if !time.Now().Before(fire) {
		t.Fatalf("killing the leader took until %v, past the fire time %v", time.Now(), fire)
	}
	c.WaitForLeader()
	t.Logf("killed leader %s %v before the fire time %v; a new leader after %v", leader.Name, fire.Sub(killed), fire.Format(time.TimeOnly), time.Since(killed))

	var runs []testcluster.CronRun
	wait.Within(t, 20*time.Second, "three fire times after the kill", func() (bool, string) {
		var err error
		if runs, err = c.CronRuns("beat"); err != nil {
			return false, err.Error()
		}
		last := runs[len(runs)-1].Scheduled
		return !last.Before(fire.Add(9 * time.Second)), fmt.Sprintf("newest job scheduled %v", last)
	})
	// The new leader took over when it created its first Job.
	var takeover time.Time
	got := map[time.Time]string{}
	for _, r := range runs {
		if other, dup := got[r.Scheduled]; dup {
			t.Errorf("jobs %s and %s for the same scheduled time %v", other, r.Name, r.Scheduled)
		}
		got[r.Scheduled] = r.Name
		if !r.Scheduled.Before(fire) && (takeover.IsZero() || r.Created.Before(takeover)) {
			takeover = r.Created
		}
	}
	// Every time from the first to the newest has its Job, except a time
	// that a later one, also missed during the election, superseded (only
	// the most recent missed time runs).
	for at := runs[0].Scheduled; !at.After(runs[len(runs)-1].Scheduled); at = at.Add(3 * time.Second) {
		if _, ok := got[at]; !ok && at.Add(3*time.Second).After(takeover) {
			t.Errorf("no job for the scheduled time %v (the new leader took over at %v)", at.Format(time.TimeOnly), takeover.Format(time.StampMilli))
		}
	}
	for _, r := range runs {
		if !r.Scheduled.Before(fire) {
			t.Logf("first job after the kill: %s scheduled %v, created %v late", r.Name, r.Scheduled.Format(time.TimeOnly), r.Created.Sub(r.Scheduled))
			break
		}
	}
	t.Logf("lateness of all jobs: %v", lateness(runs))
}

// TestCronExampleIsAcceptedAndDescribed submits the example CronJob users
// copy (batch/v1beta1) and reads it back as kubectl shows it.
func TestCronExampleIsAcceptedAndDescribed(t *testing.T) {
	c := cronCluster(t)
	path, err := filepath.Abs(filepath.Join("..", "examples", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := c.MustCLI("submit", path)
	if got, want := strings.TrimSpace(out), "cronjob.batch/batch-job-every-fifteen-minutes created"; got != want {
		t.Errorf("submit printed %q, want %q", got, want)
	}

	lines := strings.Split(strings.TrimSpace(c.MustCLI("get", "cronjobs")), "\n")
	if got, want := strings.Fields(lines[0]), strings.Fields("NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE"); !slices.Equal(got, want) {
		t.Errorf("get cronjobs header %q, want %q", lines[0], want)
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "batch-job-every-fifteen-minutes") || !strings.Contains(lines[1], "0,15,30,45 * * * *") {
		t.Errorf("get cronjobs rows %q, want the CronJob with its schedule", lines[1:])
	}

	before := time.Now()
	out = c.MustCLI("describe", "cronjob", "batch-job-every-fifteen-minutes")
	after := time.Now()
	var next []string
	if _, rest, ok := strings.Cut(out, "Next Schedule Times:\n"); ok {
		for _, l := range strings.Split(rest, "\n")[:5] {
			next = append(next, strings.TrimSpace(l))
		}
	}
	quarters := func(from time.Time) []string {
		var out []string
		for at := from.UTC().Truncate(15 * time.Minute); len(out) < 5; {
			at = at.Add(15 * time.Minute)
			out = append(out, at.Format(time.RFC3339))
		}
		return out
	}
	if !slices.Equal(next, quarters(before)) && !slices.Equal(next, quarters(after)) {
		t.Errorf("describe shows next times %q, want the next five quarter hours in UTC %q\n%s", next, quarters(before), out)
	}
}

// TestCronCreateJobFromCronJob runs a CronJob's template by hand: it runs
// at once, and under Forbid a second one is refused while the first runs
// unless forced.
func TestCronCreateJobFromCronJob(t *testing.T) {
	c := cronCluster(t)
	rec := testcluster.NewRecorder(t)
	c.Submit(cronJob{name: "yearly", schedule: "0 0 1 1 *", policy: "Forbid", successful: 5, failed: 5, script: rec.Wrap("sleep 2")}.yaml())

	if out := strings.TrimSpace(c.MustCLI("create", "job", "manual-1", "--from=cronjob/yearly")); out != "job.batch/manual-1 created" {
		t.Errorf("create job printed %q, want job.batch/manual-1 created", out)
	}
	r := c.CLI("create", "job", "manual-2", "--from=cronjob/yearly")
	if r.Err == nil || !strings.Contains(r.Stderr, "Forbid") || !strings.Contains(r.Stderr, "--force") {
		t.Errorf("second job while manual-1 runs under Forbid: err=%v stdout=%q stderr=%q, want a refusal naming Forbid and --force", r.Err, r.Stdout, r.Stderr)
	}
	if _, err := c.GetJob("manual-2"); err == nil {
		t.Errorf("refused job manual-2 exists")
	}
	c.MustCLI("create", "job", "manual-2", "--from=cronjob/yearly", "--force")
	for _, name := range []string{"manual-1", "manual-2"} {
		if cond, _ := c.WaitJob(name, 20*time.Second).Finished(); cond != "Complete" {
			t.Errorf("job %s ended %s, want Complete", name, cond)
		}
	}
	intervals, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, iv := range intervals {
		if iv.End != 0 {
			jobs = append(jobs, jobOfPod(iv.Pod))
		}
	}
	slices.Sort(jobs)
	if want := []string{"manual-1", "manual-2"}; !slices.Equal(jobs, want) {
		t.Errorf("pods that ran to their end belong to %v, want %v", jobs, want)
	}
	runs, err := c.CronRuns("yearly")
	if err != nil {
		t.Fatal(err)
	}
	if got := runNames(runs); !slices.Equal(got, []string{"manual-1", "manual-2"}) {
		t.Errorf("jobs owned by cronjob yearly: %v, want manual-1 and manual-2", got)
	}
}

// TestCronSuspendAndResume suspends an every-second CronJob: no Job starts
// while it is suspended, and on resume it runs on without a burst of the
// missed times (at most the most recent one runs).
func TestCronSuspendAndResume(t *testing.T) {
	c := cronCluster(t)
	rec := testcluster.NewRecorder(t)
	c.Submit(cronJob{name: "pause", schedule: "* * * * * *", successful: 100, failed: 100, script: rec.Wrap("true")}.yaml())
	cronRuns(t, c, "pause", 2, 10*time.Second)
	if out := strings.TrimSpace(c.MustCLI("suspend", "cronjob", "pause")); out != "cronjob.batch/pause suspended" {
		t.Errorf("suspend printed %q", out)
	}
	suspended := time.Now()
	// Suspended for three seconds, checking all along that nothing is
	// decided: a run decided ahead before the suspend, within the cron
	// lead, exists until its time, when it is withdrawn unrun.
	for time.Since(suspended) < 3*time.Second {
		runs, err := c.CronRuns("pause")
		if err != nil {
			t.Fatal(err)
		}
		if last := runs[len(runs)-1]; last.Scheduled.After(suspended.Add(cluster.DefaultCronLead)) {
			t.Fatalf("job %s scheduled %v created while the CronJob was suspended (since %v)", last.Name, last.Scheduled, suspended)
		}
		time.Sleep(200 * time.Millisecond)
	}
	runs, err := c.CronRuns("pause")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Scheduled.After(suspended) {
			t.Errorf("job %s scheduled %v, after the suspend at %v, was not withdrawn", r.Name, r.Scheduled, suspended)
		}
	}
	intervals, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	for _, iv := range intervals {
		secs, err := strconv.ParseInt(strings.TrimPrefix(jobOfPod(iv.Pod), "pause-"), 10, 64)
		if err != nil {
			t.Fatalf("pod %s: not of a job pause-<seconds>: %v", iv.Pod, err)
		}
		if scheduled := time.Unix(secs, 0); scheduled.After(suspended) {
			t.Errorf("pod %s of the time %v, after the suspend at %v, ran at %v", iv.Pod, scheduled, suspended, time.Unix(0, iv.Start))
		}
	}
	resumed := time.Now()
	c.MustCLI("resume", "cronjob", "pause")
	wait.Within(t, 10*time.Second, "two jobs after resume", func() (bool, string) {
		runs, err := c.CronRuns("pause")
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, r := range runs {
			if r.Scheduled.After(resumed) {
				n++
			}
		}
		return n >= 2, fmt.Sprintf("%d jobs scheduled after the resume", n)
	})
	runs, err = c.CronRuns("pause")
	if err != nil {
		t.Fatal(err)
	}
	var missed []string
	for _, r := range runs {
		if r.Scheduled.After(suspended) && !r.Scheduled.After(resumed) {
			missed = append(missed, r.Name)
			if r.Scheduled.Before(resumed.Add(-time.Second)) {
				t.Errorf("job %s runs the time %v missed while suspended, not the most recent one", r.Name, r.Scheduled)
			}
		}
	}
	if len(missed) > 1 {
		t.Errorf("on resume the missed times %v all ran, want at most the most recent", missed)
	}
	t.Logf("missed times run on resume: %v", missed)
}
