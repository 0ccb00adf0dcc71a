package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestSuspendAndResumeJob walks one Job through suspension: submitted
// suspended it starts nothing until resumed; suspended while running its
// pods stop without counting as failures; resumed again it completes.
func TestSuspendAndResumeJob(t *testing.T) {
	c := jobsCluster(t)
	dir := t.TempDir()
	rec := &testcluster.Recorder{Path: filepath.Join(dir, "runs")}
	pidFile, resumed := filepath.Join(dir, "pids"), filepath.Join(dir, "resumed")
	// The first pods sleep until stopped; once the test has created the
	// marker, pods finish at once. $$$$ is the shell's PID ($$) after the
	// agent's Kubernetes-style expansion.
	script := fmt.Sprintf("if [ -e %s ]; then sleep 0.2; else sleep 30 & echo $$$$ $! >> %s; wait; fi", resumed, pidFile)
	c.Submit(jobDoc("pausable", "suspend: true\ncompletions: 2\nparallelism: 2", "Never", rec.Wrap(script)))

	// Nothing may start while the Job is suspended: watch for a while.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		pods, err := c.Pods("pausable")
		if err != nil {
			t.Fatal(err)
		}
		if len(pods) > 0 {
			t.Fatalf("suspended job has pods: %s", pods[0].Metadata.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if job, err := c.GetJob("pausable"); err != nil {
		t.Fatal(err)
	} else if s, reason := job.Condition("Suspended"); s != "True" {
		t.Errorf("submitted suspended: Suspended condition %q (%s), want True", s, reason)
	}

	if got := strings.TrimSpace(c.MustCLI("resume", "job", "pausable")); got != "job.batch/pausable resumed" {
		t.Errorf("resume printed %q, want job.batch/pausable resumed", got)
	}
	var pids []int
	wait.Within(t, 10*time.Second, "both pods to run after resume", func() (bool, string) {
		pids = readPIDs(pidFile)
		return len(pids) == 4, fmt.Sprintf("pids %v", pids)
	})

	if got := strings.TrimSpace(c.MustCLI("suspend", "job", "pausable")); got != "job.batch/pausable suspended" {
		t.Errorf("suspend printed %q, want job.batch/pausable suspended", got)
	}
	waitGone(t, pids)
	wait.Within(t, 10*time.Second, "the suspended job to settle", func() (bool, string) {
		job, err := c.GetJob("pausable")
		if err != nil {
			return false, err.Error()
		}
		s, _ := job.Condition("Suspended")
		why := fmt.Sprintf("Suspended=%q active=%d failed=%d", s, job.Status.Active, job.Status.Failed)
		return s == "True" && job.Status.Active == 0, why
	})
	if job, err := c.GetJob("pausable"); err != nil {
		t.Fatal(err)
	} else if job.Status.Failed != 0 {
		t.Errorf("suspended job counts %d failed pods, want 0", job.Status.Failed)
	}

	if err := os.WriteFile(resumed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.MustCLI("resume", "job", "pausable")
	job := c.WaitJob("pausable", 20*time.Second)
	if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != 2 || job.Status.Failed != 0 {
		t.Errorf("job ended %s succeeded=%d failed=%d, want Complete 2 0", got, job.Status.Succeeded, job.Status.Failed)
	}
	if n := len(testcluster.PodNames(mustRuns(t, rec))); n != 4 {
		t.Errorf("%d pods ran, want 4 (2 stopped by the suspension, 2 after)", n)
	}
	describe := c.MustCLI("describe", "job", "pausable")
	for _, event := range []string{`Normal\s+Suspended\s.*Job suspended`, `Normal\s+Resumed\s.*Job resumed`} {
		if !regexp.MustCompile(event).MatchString(describe) {
			t.Errorf("describe job lacks an event matching %q:\n%s", event, describe)
		}
	}
}

// TestFinishedJobDeletedAfterTTL checks ttlSecondsAfterFinished: the Job
// and its pods go away shortly after it finished.
func TestFinishedJobDeletedAfterTTL(t *testing.T) {
	c := jobsCluster(t)
	rec := testcluster.NewRecorder(t)
	c.Submit(jobDoc("short-lived", "ttlSecondsAfterFinished: 1", "Never", rec.Wrap("true")))

	var gone time.Time
	wait.Within(t, 15*time.Second, "the job to finish and be deleted", func() (bool, string) {
		r := c.CLI("get", "job", "short-lived", "-o", "json")
		gone = time.Now()
		if r.Err != nil {
			return strings.Contains(r.Stderr, `jobs.batch "short-lived" not found`), r.Stderr
		}
		return false, "still there: " + r.Stdout
	})
	runs := mustRuns(t, rec)
	if len(runs) != 1 || runs[0].End == 0 {
		t.Fatalf("pod runs %+v, want one that finished", runs)
	}
	// The Job completed after its pod ended, and the deletion was seen
	// after it happened: it may not come sooner than 1s after the pod's
	// end, and should come within a few seconds.
	if after := gone.Sub(time.Unix(0, runs[0].End)); after < time.Second || after > 6*time.Second {
		t.Errorf("job seen deleted %s after its pod ended, want 1s to a few seconds (ttlSecondsAfterFinished: 1)", after.Round(time.Millisecond))
	}
	if pods, err := c.Pods("short-lived"); err != nil || len(pods) != 0 {
		t.Errorf("pods of the deleted job: %d (err %v), want none", len(pods), err)
	}
}

// TestApplyChangesOnlyMutableFields changes a running Job with apply:
// parallelism takes effect, completions is refused and changes nothing.
func TestApplyChangesOnlyMutableFields(t *testing.T) {
	c := jobsCluster(t)
	rec := testcluster.NewRecorder(t)
	manifest := func(parallelism, completions int) string {
		return jobDoc("tunable", fmt.Sprintf("completions: %d\nparallelism: %d", completions, parallelism), "Never", rec.Wrap("sleep 1"))
	}
	c.Submit(manifest(1, 4))
	wait.Within(t, 10*time.Second, "the first pod to start", func() (bool, string) {
		runs := mustRuns(t, rec)
		return len(runs) > 0, fmt.Sprintf("%d runs", len(runs))
	})

	// A refused change changes nothing, not even its mutable part.
	r := c.CLIAt(c.Addrs(), manifest(3, 5), "apply", "-")
	if r.Err == nil || !strings.Contains(r.Stderr, "field is immutable") {
		t.Errorf("apply with completions 5: err=%v stdout=%q stderr=%q, want refused with field is immutable", r.Err, r.Stdout, r.Stderr)
	}
	if job, err := c.GetJob("tunable"); err != nil {
		t.Fatal(err)
	} else if got, want := deref(job.Spec.Parallelism)+"/"+deref(job.Spec.Completions), "1/4"; got != want {
		t.Errorf("after the refused apply, spec parallelism/completions = %s, want %s", got, want)
	}
	r = c.CLIAt(c.Addrs(), manifest(2, 4), "apply", "-")
	if r.Err != nil || strings.TrimSpace(r.Stdout) != "job.batch/tunable configured" {
		t.Errorf("apply with parallelism 2: err=%v stdout=%q stderr=%q, want job.batch/tunable configured", r.Err, r.Stdout, r.Stderr)
	}

	job := c.WaitJob("tunable", 20*time.Second)
	if got, want := deref(job.Spec.Parallelism)+"/"+deref(job.Spec.Completions), "2/4"; got != want {
		t.Errorf("spec parallelism/completions = %s, want %s", got, want)
	}
	if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != 4 {
		t.Errorf("job ended %s with %d succeeded, want Complete with 4", got, job.Status.Succeeded)
	}
	runs := mustRuns(t, rec)
	if n := len(testcluster.PodNames(runs)); n != 4 {
		t.Errorf("%d pods ran, want 4", n)
	}
	if got := testcluster.MaxOverlap(runs); got != 2 {
		t.Errorf("at most %d pods ran at once, want 2 after parallelism was raised", got)
	}
}

func deref(p *int) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

// mustRuns reads a recorder's runs.
func mustRuns(t *testing.T, rec *testcluster.Recorder) []testcluster.Interval {
	t.Helper()
	runs, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	return runs
}
