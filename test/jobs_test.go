package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// jobsCluster is the cluster every Job test runs on: one server, two agents
// that restart a failed container after one second.
func jobsCluster(t *testing.T) *testcluster.Cluster {
	return testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2, AgentArgs: []string{"--restart-backoff", "1s"}})
}

// jobDoc is a Job manifest whose one container runs script with sh -c.
// spec holds extra lines of the Job's spec, unindented; script must not
// contain single quotes.
func jobDoc(name, spec, restartPolicy, script string) string {
	var extra strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(spec), "\n") {
		if line != "" {
			extra.WriteString("  " + line + "\n")
		}
	}
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
%s  template:
    spec:
      restartPolicy: %s
      containers:
      - name: main
        image: busybox
        command:
        - sh
        - -c
        - '%s'
`, name, extra.String(), restartPolicy, script)
}

// examplesScript matches the quoted shell line of an example manifest.
var examplesScript = regexp.MustCompile(`(?m)^(\s*- ')(.*sleep 120.*)'$`)

// exampleJob reads a manifest from examples/ and makes its command sleep
// shortly and record its run in rec.
func exampleJob(t *testing.T, file string, rec *testcluster.Recorder) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	if !examplesScript.Match(b) {
		t.Fatalf("%s has no `sleep 120` command line to shorten", file)
	}
	return examplesScript.ReplaceAllStringFunc(string(b), func(line string) string {
		m := examplesScript.FindStringSubmatch(line)
		return m[1] + rec.Wrap(strings.Replace(m[2], "sleep 120", "sleep 0.5", 1)) + "'"
	})
}

// TestExampleJobsRunToCompletion runs the example Jobs users copy, each
// with a short sleep, and checks what a user sees: the completions, how
// many pods ran at once, the table and describe output.
func TestExampleJobsRunToCompletion(t *testing.T) {
	c := jobsCluster(t)
	cases := []struct {
		file, name               string
		completions, parallelism int
		rec                      *testcluster.Recorder
	}{
		{file: "batch-job.yaml", name: "batch-job", completions: 1, parallelism: 1},
		{file: "multi-completion-batch-job.yaml", name: "multi-completion-batch-job", completions: 5, parallelism: 1},
		{file: "multi-completion-parallel-batch-job.yaml", name: "multi-completion-parallel-batch-job", completions: 5, parallelism: 2},
	}
	var docs []string
	for i := range cases {
		cases[i].rec = testcluster.NewRecorder(t)
		docs = append(docs, exampleJob(t, cases[i].file, cases[i].rec))
	}
	c.Submit(strings.Join(docs, "---\n"))

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := c.WaitJob(tc.name, 30*time.Second)
			if got, _ := job.Finished(); got != "Complete" {
				t.Fatalf("job ended %s, want Complete; conditions %+v", got, job.Status.Conditions)
			}
			if job.Status.Succeeded != tc.completions || job.Status.Failed != 0 {
				t.Errorf("succeeded=%d failed=%d, want %d and 0", job.Status.Succeeded, job.Status.Failed, tc.completions)
			}
			runs := finishedRuns(t, tc.rec)
			if got := len(testcluster.PodNames(runs)); got != tc.completions {
				t.Errorf("%d pods ran, want %d", got, tc.completions)
			}
			if got := testcluster.MaxOverlap(runs); got != tc.parallelism {
				t.Errorf("at most %d pods ran at once, want %d (parallelism)", got, tc.parallelism)
			}
			if diff := cmp.Diff(repeat("Succeeded", tc.completions), podPhases(t, c, tc.name)); diff != "" {
				t.Errorf("pod phases (-want +got):\n%s", diff)
			}
			want := fmt.Sprintf("%d/%d", tc.completions, tc.completions)
			if got := tableCell(t, c.MustCLI("get", "jobs"), tc.name, "COMPLETIONS"); got != want {
				t.Errorf("get jobs COMPLETIONS = %q, want %q", got, want)
			}
			describe := c.MustCLI("describe", "job", tc.name)
			wantStatuses := fmt.Sprintf("0 Active (0 Ready) / %d Succeeded / 0 Failed", tc.completions)
			if !regexp.MustCompile(`Pods Statuses:\s+` + regexp.QuoteMeta(wantStatuses)).MatchString(describe) {
				t.Errorf("describe job lacks `Pods Statuses: %s`:\n%s", wantStatuses, describe)
			}
			for _, pod := range testcluster.PodNames(runs) {
				if !regexp.MustCompile(`SuccessfulCreate\s.*Created pod: ` + regexp.QuoteMeta(pod) + `\n`).MatchString(describe) {
					t.Errorf("describe job lacks the SuccessfulCreate event `Created pod: %s`:\n%s", pod, describe)
				}
			}
		})
	}
}

// TestFailedPods checks how failures count: a container that fails once
// is restarted in place (OnFailure) or replaced (Never), and a Job whose
// pods always fail stops at its backoffLimit. The Never cases wait out the
// controller's 10 s failure back-off, so they share one cluster.
func TestFailedPods(t *testing.T) {
	c := jobsCluster(t)
	dir := t.TempDir()
	failOnce := func(marker string) string {
		return fmt.Sprintf("if [ -e %[1]s ]; then exit 0; fi; touch %[1]s; exit 1", filepath.Join(dir, marker))
	}
	cases := []struct {
		name, restartPolicy, spec, script string
		wantCondition, wantReason         string
		wantPhases                        []string // sorted
		wantFailed, wantSucceeded         int
		wantRestarts                      int
	}{
		{
			name: "fail-once-on-failure", restartPolicy: "OnFailure", script: failOnce("on-failure"),
			wantCondition: "Complete", wantReason: "CompletionsReached",
			wantPhases: []string{"Succeeded"}, wantSucceeded: 1, wantRestarts: 1,
		},
		{
			name: "fail-once-never", restartPolicy: "Never", script: failOnce("never"),
			wantCondition: "Complete", wantReason: "CompletionsReached",
			wantPhases: []string{"Failed", "Succeeded"}, wantFailed: 1, wantSucceeded: 1,
		},
		{
			name: "always-fail", restartPolicy: "Never", spec: "backoffLimit: 1", script: "exit 3",
			wantCondition: "Failed", wantReason: "BackoffLimitExceeded",
			wantPhases: []string{"Failed", "Failed"}, wantFailed: 2,
		},
	}
	var docs []string
	for _, tc := range cases {
		docs = append(docs, jobDoc(tc.name, tc.spec, tc.restartPolicy, tc.script))
	}
	c.Submit(strings.Join(docs, "---\n"))

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := c.WaitJob(tc.name, 30*time.Second)
			got, _ := job.Finished()
			_, reason := job.Condition(got)
			if got != tc.wantCondition || reason != tc.wantReason {
				t.Errorf("job ended %s (%s), want %s (%s)", got, reason, tc.wantCondition, tc.wantReason)
			}
			if job.Status.Failed != tc.wantFailed || job.Status.Succeeded != tc.wantSucceeded {
				t.Errorf("failed=%d succeeded=%d, want %d and %d", job.Status.Failed, job.Status.Succeeded, tc.wantFailed, tc.wantSucceeded)
			}
			pods, err := c.Pods(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			restarts := 0
			for _, p := range pods {
				restarts += p.RestartCount()
			}
			if restarts != tc.wantRestarts {
				t.Errorf("pods restarted %d times in place, want %d", restarts, tc.wantRestarts)
			}
			if diff := cmp.Diff(tc.wantPhases, podPhases(t, c, tc.name)); diff != "" {
				t.Errorf("pod phases (-want +got):\n%s", diff)
			}
		})
	}
}

// TestActiveDeadlineStopsTheJob gives a long pod a 2 s deadline: the Job
// fails at it and the pod's processes are gone.
func TestActiveDeadlineStopsTheJob(t *testing.T) {
	c := jobsCluster(t)
	pidFile := filepath.Join(t.TempDir(), "pids")
	submitted := time.Now()
	// The shell's and the sleep's PIDs; $$$$ is $$ once the agent has
	// expanded the command as Kubernetes does.
	c.Submit(jobDoc("deadline", "activeDeadlineSeconds: 2", "Never",
		fmt.Sprintf("sleep 60 & echo $$$$ $! > %s; wait", pidFile)))

	var pids []int
	wait.Within(t, 10*time.Second, "the pod to write its PIDs", func() (bool, string) {
		pids = readPIDs(pidFile)
		return len(pids) == 2, fmt.Sprintf("pids %v", pids)
	})
	job := c.WaitJob("deadline", 10*time.Second)
	failedAfter := time.Since(submitted)
	if got, reason := job.Condition("Failed"); got != "True" || reason != "DeadlineExceeded" {
		t.Errorf("Failed condition = %q reason %q, want True DeadlineExceeded; conditions %+v", got, reason, job.Status.Conditions)
	}
	const wantMessage = "Job was active longer than specified deadline"
	for _, cond := range job.Status.Conditions {
		if cond.Type == "Failed" && cond.Message != wantMessage {
			t.Errorf("Failed message = %q, want %q", cond.Message, wantMessage)
		}
	}
	if failedAfter > 6*time.Second {
		t.Errorf("job failed %s after submit, want within a few seconds of its 2s deadline", failedAfter)
	}
	waitGone(t, pids)
}

// TestIndexedJobRunsEachIndexOnce runs an Indexed Job: every index runs
// exactly once, in a pod named after it.
func TestIndexedJobRunsEachIndexOnce(t *testing.T) {
	c := jobsCluster(t)
	log := filepath.Join(t.TempDir(), "indexes")
	c.Submit(jobDoc("indexed", "completionMode: Indexed\ncompletions: 3\nparallelism: 3", "Never",
		fmt.Sprintf("echo $JOB_COMPLETION_INDEX $HOSTNAME >> %s", log)))
	job := c.WaitJob("indexed", 30*time.Second)
	if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != 3 {
		t.Fatalf("job ended %s with %d succeeded, want Complete with 3", got, job.Status.Succeeded)
	}
	if job.Status.CompletedIndexes != "0-2" {
		t.Errorf("completedIndexes = %q, want 0-2", job.Status.CompletedIndexes)
	}

	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]string{} // pod -> index it logged
	var indexes []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("log line %q: want INDEX POD", line)
		}
		ran[f[1]] = f[0]
		indexes = append(indexes, f[0])
	}
	slices.Sort(indexes)
	if diff := cmp.Diff([]string{"0", "1", "2"}, indexes); diff != "" {
		t.Errorf("indexes logged (-want +got):\n%s", diff)
	}

	pods, err := c.Pods("indexed")
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`^indexed-(\d+)-[a-z0-9]+$`)
	got := map[string]string{}
	for _, p := range pods {
		m := named.FindStringSubmatch(p.Metadata.Name)
		if m == nil {
			t.Errorf("pod %s is not named indexed-<index>-<suffix>", p.Metadata.Name)
			continue
		}
		if label := p.Metadata.Labels["batch.kubernetes.io/job-completion-index"]; label != m[1] {
			t.Errorf("pod %s has index label %q, want %q", p.Metadata.Name, label, m[1])
		}
		got[p.Metadata.Name] = m[1]
	}
	if diff := cmp.Diff(got, ran); diff != "" {
		t.Errorf("index each pod logged, by pod (-from its name +from JOB_COMPLETION_INDEX):\n%s", diff)
	}
}

// finishedRuns reads a recorder's runs and fails the test if one never
// ended.
func finishedRuns(t *testing.T, rec *testcluster.Recorder) []testcluster.Interval {
	t.Helper()
	runs, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.End == 0 {
			t.Errorf("pod %s started at %d and never ended", r.Pod, r.Start)
		}
	}
	return runs
}

// podPhases lists the phases of a Job's pods, sorted.
func podPhases(t *testing.T, c *testcluster.Cluster, job string) []string {
	t.Helper()
	pods, err := c.Pods(job)
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, p := range pods {
		phases = append(phases, p.Status.Phase)
	}
	slices.Sort(phases)
	return phases
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// tableCell returns the cell of a CLI table in the row whose first column
// is name and the column headed column.
func tableCell(t *testing.T, table, name, column string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	col := slices.Index(strings.Fields(lines[0]), column)
	if col < 0 {
		t.Fatalf("table has no %s column:\n%s", column, table)
	}
	for _, line := range lines[1:] {
		if f := strings.Fields(line); len(f) > col && f[0] == name {
			return f[col]
		}
	}
	t.Fatalf("table has no row %s:\n%s", name, table)
	return ""
}

// readPIDs reads the whitespace-separated PIDs a pod wrote.
func readPIDs(path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGone waits until no process of pids runs any more.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	wait.Within(t, 5*time.Second, "the pod's processes to be gone", func() (bool, string) {
		for _, pid := range pids {
			if alive(pid) {
				return false, fmt.Sprintf("process %d still runs", pid)
			}
		}
		return true, ""
	})
}

// alive is kill -0 that treats a zombie (ended, not yet reaped by
// whoever adopted it) as gone.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	rest := stat[strings.LastIndexByte(string(stat), ')')+1:]
	return !strings.HasPrefix(strings.TrimSpace(string(rest)), "Z")
}
