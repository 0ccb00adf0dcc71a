package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// policyJob is the part of a Job's JSON the policy tests read.
type policyJob struct {
	Status struct {
		Succeeded        int    `json:"succeeded"`
		Failed           int    `json:"failed"`
		CompletedIndexes string `json:"completedIndexes"`
		FailedIndexes    string `json:"failedIndexes"`
		Conditions       []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// finished returns the Complete or Failed condition once there is one.
func (j *policyJob) finished() (typ, reason, message string, ok bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == "Complete" || c.Type == "Failed") && c.Status == "True" {
			return c.Type, c.Reason, c.Message, true
		}
	}
	return "", "", "", false
}

// waitPolicyJob waits until the Job finishes and returns it.
func waitPolicyJob(t *testing.T, c *testcluster.Cluster, name string) *policyJob {
	t.Helper()
	var job policyJob
	wait.Within(t, 60*time.Second, "job "+name+" to finish", func() (bool, string) {
		job = policyJob{}
		if err := c.GetJSON(&job, "job", name); err != nil {
			return false, err.Error()
		}
		_, _, _, ok := job.finished()
		return ok, fmt.Sprintf("%+v", job.Status)
	})
	return &job
}

// TestJobPolicies runs the Job policies of current Kubernetes on a
// three-server cluster with real processes, killing the leader while the
// Count rule's retries are under way.
func TestJobPolicies(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2})

	// The example manifest: exit code 42 matches its FailJob rule.
	example, err := os.ReadFile(filepath.Join("..", "examples", "pod-failure-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c.Submit(strings.Replace(string(example), "sleep 120", "sleep 0.2", 1))

	runs := testcluster.NewRunLog(t)
	c.Submit(jobDoc("count-rule", "backoffLimit: 1\npodFailurePolicy:\n  rules:\n  - action: FailJob\n    onExitCodes:\n      operator: In\n      values: [42]\n  - action: Count\n    onExitCodes:\n      operator: In\n      values: [1]",
		"Never", runs.Script("exit 1")))
	c.Submit(jobDoc("per-index", "completionMode: Indexed\ncompletions: 4\nparallelism: 4\nbackoffLimitPerIndex: 1",
		"Never", `if [ "$JOB_COMPLETION_INDEX" = 2 ]; then exit 3; fi`))
	c.Submit(jobDoc("two-of-five", "completionMode: Indexed\ncompletions: 5\nparallelism: 5\nsuccessPolicy:\n  rules:\n  - succeededCount: 2",
		"Never", `if [ "$JOB_COMPLETION_INDEX" -lt 2 ]; then exit 0; fi; sleep 60`))

	// The Count rule's first failure starts a 10 s back-off; the leader
	// dies during it and the new one must neither retry early nor more
	// often than backoffLimit allows.
	wait.Within(t, 20*time.Second, "the first count-rule pod to fail", func() (bool, string) {
		var job policyJob
		if err := c.GetJSON(&job, "job", "count-rule"); err != nil {
			return false, err.Error()
		}
		return job.Status.Failed >= 1, fmt.Sprintf("%+v", job.Status)
	})
	leader := c.WaitForLeader()
	c.Kill(leader)
	if c.WaitForLeader() == leader {
		t.Fatalf("killed leader %s still leads", leader.Name)
	}

	t.Run("exit code 42 with a FailJob rule fails the Job at once", func(t *testing.T) {
		job := waitPolicyJob(t, c, "pod-failure-policy")
		typ, reason, message, _ := job.finished()
		if typ != "Failed" || reason != "PodFailurePolicy" || !strings.Contains(message, "failed with exit code 42 matching FailJob rule at index 0") {
			t.Errorf("finished %s %s %q; want Failed PodFailurePolicy naming exit code 42", typ, reason, message)
		}
		if job.Status.Failed > 2 {
			t.Errorf("%d pods failed; want no retries after the first exit code 42 (at most the two that ran at once)", job.Status.Failed)
		}
		out := c.MustCLI("describe", "job", "pod-failure-policy")
		for _, want := range []string{"FailJob on exit codes In [42] of container main", "matching FailJob rule at index 0"} {
			if !strings.Contains(out, want) {
				t.Errorf("describe job lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("exit code 1 with a Count rule retries up to backoffLimit across a leader kill", func(t *testing.T) {
		job := waitPolicyJob(t, c, "count-rule")
		typ, reason, _, _ := job.finished()
		if typ != "Failed" || reason != "BackoffLimitExceeded" || job.Status.Failed != 2 {
			t.Errorf("finished %s %s with %d failed; want Failed BackoffLimitExceeded after 2 failures", typ, reason, job.Status.Failed)
		}
		rs, err := runs.Runs()
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 {
			t.Errorf("%d runs of the count-rule pod; want 2 (one try, one retry)", len(rs))
		}
	})
	t.Run("an always-failing index fails alone while the others complete", func(t *testing.T) {
		job := waitPolicyJob(t, c, "per-index")
		typ, reason, _, _ := job.finished()
		if typ != "Failed" || reason != "FailedIndexes" || job.Status.FailedIndexes != "2" || job.Status.CompletedIndexes != "0,1,3" {
			t.Errorf("finished %s %s, failedIndexes %q, completedIndexes %q; want Failed FailedIndexes, 2, 0,1,3",
				typ, reason, job.Status.FailedIndexes, job.Status.CompletedIndexes)
		}
		if job.Status.Failed != 2 {
			t.Errorf("%d pods failed; want 2 (index 2 and its one retry)", job.Status.Failed)
		}
	})
	t.Run("a successPolicy of two of five indexes completes and stops the rest", func(t *testing.T) {
		job := waitPolicyJob(t, c, "two-of-five")
		typ, reason, message, _ := job.finished()
		if typ != "Complete" || reason != "SuccessPolicy" || message != "Matched rules at index 0" {
			t.Errorf("finished %s %s %q; want Complete SuccessPolicy", typ, reason, message)
		}
		var pods struct {
			Items []testcluster.Pod `json:"items"`
		}
		if err := c.GetJSON(&pods, "pods", "-l", "job-name=two-of-five"); err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Status.Phase != "Succeeded" && p.Status.Phase != "Failed" {
				t.Errorf("pod %s still %s after the Job completed", p.Metadata.Name, p.Status.Phase)
			}
		}
	})
}
