package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// onlyPod waits until the Job has exactly one pod and returns it once cond
// holds for it.
func onlyPod(t *testing.T, c *testcluster.Cluster, job string, timeout time.Duration, what string, cond func(p *testcluster.Pod) bool) testcluster.Pod {
	t.Helper()
	var pod testcluster.Pod
	wait.Within(t, timeout, "pod of "+job+" "+what, func() (bool, string) {
		pods, err := c.Pods(job)
		if err != nil {
			return false, err.Error()
		}
		if len(pods) != 1 {
			return false, fmt.Sprintf("%d pods", len(pods))
		}
		pod = pods[0]
		return cond(&pod), fmt.Sprintf("%s phase=%s reason=%s conditions=%+v containers=%+v",
			pod.Metadata.Name, pod.Status.Phase, pod.Status.Reason, pod.Status.Conditions, pod.Status.ContainerStatuses)
	})
	return pod
}

// tableRow returns the cells of the row whose first cell is name, keyed
// by the header's column names.
func tableRow(t *testing.T, table, name string) map[string]string {
	t.Helper()
	row, ok := testcluster.TableRow(table, name)
	if !ok {
		t.Fatalf("no row %s in table:\n%s", name, table)
	}
	return row
}

// podPhase is a condition for onlyPod.
func podPhase(phase string) func(p *testcluster.Pod) bool {
	return func(p *testcluster.Pod) bool { return p.Status.Phase == phase }
}

// TestAgentsRunPods runs single pods on real agents and checks what a user
// sees of them: status, node, logs, restarts, exit codes, environment, and
// that deleting a Job stops its processes.
func TestAgentsRunPods(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2, AgentArgs: []string{"--restart-backoff", "500ms"}})

	t.Run("batch-job example runs to completion", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("..", "examples", "batch-job.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "sleep 120") {
			t.Fatal("examples/batch-job.yaml no longer sleeps 120 s; update this test")
		}
		if got := c.Submit(strings.Replace(string(b), "sleep 120", "sleep 1", 1)); strings.TrimSpace(got) != "job.batch/batch-job created" {
			t.Fatalf("submit printed %q", got)
		}
		// A slow machine may see the one-second pod only once it ended; the
		// next case follows a pod that is sure to be running.
		started := onlyPod(t, c, "batch-job", 10*time.Second, "started", func(p *testcluster.Pod) bool {
			return p.Status.Phase == "Running" || p.Status.Phase == "Succeeded"
		})
		name := started.Metadata.Name
		follow := c.StartCLI("logs", "-f", name)

		c.WaitJob("batch-job", 20*time.Second)
		pod := onlyPod(t, c, "batch-job", 5*time.Second, "Succeeded", podPhase("Succeeded"))
		if err := follow.Wait(10 * time.Second); err != nil {
			t.Fatalf("logs -f %s started while it ran: %v; stderr %q", name, err, follow.Stderr())
		}
		for _, want := range []string{"Batch job starting", "Finished succesfully"} {
			if !strings.Contains(follow.Stdout(), want) {
				t.Errorf("logs -f %s printed %q, want a line %q", name, follow.Stdout(), want)
			}
		}

		row := tableRow(t, c.MustCLI("get", "jobs"), "batch-job")
		if diff := cmp.Diff(map[string]string{"STATUS": "Complete", "COMPLETIONS": "1/1"},
			map[string]string{"STATUS": row["STATUS"], "COMPLETIONS": row["COMPLETIONS"]}); diff != "" {
			t.Errorf("get jobs row (-want +got):\n%s", diff)
		}
		if pod.Spec.NodeName != "a1" && pod.Spec.NodeName != "a2" {
			t.Errorf("pod %s ran on node %q, want a1 or a2", name, pod.Spec.NodeName)
		}
		if got := tableRow(t, c.MustCLI("get", "pods", "-o", "wide"), name)["NODE"]; got != pod.Spec.NodeName {
			t.Errorf("get pods -o wide NODE = %q, want %q", got, pod.Spec.NodeName)
		}
		logs := c.MustCLI("logs", name)
		for _, want := range []string{"Batch job starting", "Finished succesfully"} {
			if !strings.Contains(logs, want) {
				t.Errorf("logs %s = %q, want a line %q", name, logs, want)
			}
		}
	})

	t.Run("logs -f follows a running pod until it ends", func(t *testing.T) {
		gate := filepath.Join(t.TempDir(), "gate")
		c.Submit(testcluster.ShellJob{Name: "follow", Script: fmt.Sprintf(
			"echo waiting; while [ ! -f %s ]; do sleep 0.1; done; echo released", gate)}.YAML())
		pod := onlyPod(t, c, "follow", 10*time.Second, "Running", podPhase("Running"))
		follow := c.StartCLI("logs", "-f", pod.Metadata.Name)
		wait.Within(t, 10*time.Second, "logs -f to print the first line", func() (bool, string) {
			return strings.Contains(follow.Stdout(), "waiting\n"), fmt.Sprintf("stdout %q", follow.Stdout())
		})
		if follow.Exited() {
			t.Fatalf("logs -f exited while the pod still runs: stdout %q stderr %q", follow.Stdout(), follow.Stderr())
		}
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := follow.Wait(10 * time.Second); err != nil {
			t.Fatalf("logs -f after the pod ended: %v; stderr %q", err, follow.Stderr())
		}
		if got, want := follow.Stdout(), "waiting\nreleased\n"; got != want {
			t.Errorf("logs -f printed %q, want %q", got, want)
		}
	})

	t.Run("OnFailure container restarts in place after failing once", func(t *testing.T) {
		dir := t.TempDir()
		runs, marker := filepath.Join(dir, "runs"), filepath.Join(dir, "marker")
		c.Submit(testcluster.ShellJob{Name: "flaky", RestartPolicy: "OnFailure", Script: fmt.Sprintf(
			"echo $JOBCLUSTER_NODE_NAME >> %s; if [ -f %s ]; then exit 0; else touch %s; exit 1; fi", runs, marker, marker)}.YAML())
		if status, _ := c.WaitJob("flaky", 20*time.Second).Finished(); status != "Complete" {
			t.Fatalf("job flaky ended %s, want Complete", status)
		}
		pod := onlyPod(t, c, "flaky", 5*time.Second, "Succeeded", podPhase("Succeeded"))
		if got := pod.RestartCount(); got != 1 {
			t.Errorf("restartCount = %d, want 1", got)
		}
		b, err := os.ReadFile(runs)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{pod.Spec.NodeName, pod.Spec.NodeName}
		if diff := cmp.Diff(want, strings.Fields(string(b))); diff != "" {
			t.Errorf("nodes the container ran on (-want +got):\n%s", diff)
		}
		if got := tableRow(t, c.MustCLI("get", "pods"), pod.Metadata.Name)["RESTARTS"]; !strings.HasPrefix(got, "1 ") {
			t.Errorf("get pods RESTARTS = %q, want 1 and when", got)
		}
	})

	t.Run("Never container's exit code fails the pod", func(t *testing.T) {
		zero := 0
		c.Submit(testcluster.ShellJob{Name: "exit3", BackoffLimit: &zero, Script: "exit 3"}.YAML())
		if status, _ := c.WaitJob("exit3", 20*time.Second).Finished(); status != "Failed" {
			t.Fatalf("job exit3 ended %s, want Failed", status)
		}
		pod := onlyPod(t, c, "exit3", 5*time.Second, "Failed", podPhase("Failed"))
		if len(pod.Status.ContainerStatuses) != 1 || pod.Status.ContainerStatuses[0].State.Terminated == nil {
			t.Fatalf("container statuses %+v, want one terminated", pod.Status.ContainerStatuses)
		}
		term := pod.Status.ContainerStatuses[0].State.Terminated
		if term.ExitCode != 3 || term.Reason != "Error" {
			t.Errorf("terminated exitCode=%d reason=%q, want 3 Error", term.ExitCode, term.Reason)
		}
	})

	t.Run("environment and working directory", func(t *testing.T) {
		dir, err := filepath.EvalSymlinks(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c.Submit(testcluster.ShellJob{
			Name:       "env",
			Env:        map[string]string{"GREETING": "hello world"},
			WorkingDir: dir,
			Script: `echo "host=$HOSTNAME"; echo "pod=$JOBCLUSTER_POD_NAME"; echo "job=$JOBCLUSTER_JOB_NAME"; ` +
				`echo "node=$JOBCLUSTER_NODE_NAME"; echo "greeting=$GREETING"; echo "pwd=$(pwd)"`,
		}.YAML())
		c.WaitJob("env", 20*time.Second)
		pod := onlyPod(t, c, "env", 5*time.Second, "Succeeded", podPhase("Succeeded"))
		name := pod.Metadata.Name
		want := strings.Join([]string{
			"host=" + name, "pod=" + name, "job=env", "node=" + pod.Spec.NodeName,
			"greeting=hello world", "pwd=" + dir,
		}, "\n") + "\n"
		if diff := cmp.Diff(want, c.MustCLI("logs", name)); diff != "" {
			t.Errorf("logs %s (-want +got):\n%s", name, diff)
		}
	})

	t.Run("delete job stops its running processes", func(t *testing.T) {
		dir := t.TempDir()
		c.Submit(testcluster.ShellJob{Name: "doomed", Parallelism: 2, Completions: 2, Script: fmt.Sprintf(
			"sleep 60 & echo $$$$ $! > %[1]s/$HOSTNAME.tmp && mv %[1]s/$HOSTNAME.tmp %[1]s/$HOSTNAME.pid; wait", dir)}.YAML())
		pids := waitPIDFiles(t, dir, 2)
		for _, pid := range pids {
			if !testcluster.ProcessAlive(pid) {
				t.Fatalf("process %d of a running pod is not alive", pid)
			}
		}
		if got := strings.TrimSpace(c.MustCLI("delete", "job", "doomed")); got != `job.batch "doomed" deleted` {
			t.Errorf("delete printed %q", got)
		}
		testcluster.WaitProcessesGone(t, 5*time.Second, "the deleted job's processes to end", pids)
	})
}

// waitPIDFiles waits until dir holds n *.pid files written by pods and
// returns all the PIDs in them.
func waitPIDFiles(t *testing.T, dir string, n int) []int {
	t.Helper()
	var pids []int
	wait.Within(t, 15*time.Second, fmt.Sprintf("%d pods to write their PIDs", n), func() (bool, string) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
		if len(files) < n {
			return false, fmt.Sprintf("pid files %v", files)
		}
		pids = nil
		for _, f := range files {
			p, err := testcluster.ReadPIDs(f)
			if err != nil {
				return false, err.Error()
			}
			pids = append(pids, p...)
		}
		return true, ""
	})
	return pids
}

// TestNodeSelectorWaitsForMatchingAgent submits a pod no agent can take:
// it stays Pending and says why until an agent with the label joins.
func TestNodeSelectorWaitsForMatchingAgent(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2})
	c.Submit(testcluster.ShellJob{Name: "needs-ssd", NodeSelector: map[string]string{"disk": "ssd"}, Script: "echo ran on $JOBCLUSTER_NODE_NAME"}.YAML())

	const why = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
	pod := onlyPod(t, c, "needs-ssd", 10*time.Second, "unschedulable", func(p *testcluster.Pod) bool {
		for _, cond := range p.Status.Conditions {
			if cond.Type == "PodScheduled" {
				return cond.Status == "False" && cond.Message == why
			}
		}
		return false
	})
	if pod.Status.Phase != "Pending" || pod.Spec.NodeName != "" {
		t.Fatalf("unschedulable pod phase=%s node=%q, want Pending on no node", pod.Status.Phase, pod.Spec.NodeName)
	}
	if out := c.MustCLI("describe", "pod", pod.Metadata.Name); !strings.Contains(out, why) {
		t.Errorf("describe pod %s does not say %q:\n%s", pod.Metadata.Name, why, out)
	}
	if got := tableRow(t, c.MustCLI("get", "pods"), pod.Metadata.Name)["STATUS"]; got != "Pending" {
		t.Errorf("get pods STATUS = %q, want Pending", got)
	}

	c.AddAgent("ssd", "--label", "disk=ssd")
	c.WaitJob("needs-ssd", 30*time.Second)
	done := onlyPod(t, c, "needs-ssd", 5*time.Second, "Succeeded", podPhase("Succeeded"))
	if done.Metadata.Name != pod.Metadata.Name || done.Spec.NodeName != "ssd" {
		t.Errorf("pod %s ran on %q, want the pending pod %s on ssd", done.Metadata.Name, done.Spec.NodeName, pod.Metadata.Name)
	}
	if got, want := c.MustCLI("logs", done.Metadata.Name), "ran on ssd\n"; got != want {
		t.Errorf("logs = %q, want %q", got, want)
	}
}

// TestResourceFitLimitsPodsPerAgent runs three pods that each need most of
// an agent's CPU on two agents: the third waits for a free agent.
func TestResourceFitLimitsPodsPerAgent(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2, AgentArgs: []string{"--cpu", "1"}})
	rec := testcluster.NewRecorder(t)
	c.Submit(testcluster.ShellJob{Name: "cpu-hungry", Parallelism: 3, Completions: 3, CPURequest: "800m", Script: rec.Wrap("sleep 2.5")}.YAML())

	const why = "0/2 nodes are available: 2 Insufficient cpu."
	wait.Within(t, 15*time.Second, "two pods running and one waiting for cpu", func() (bool, string) {
		pods, err := c.Pods("cpu-hungry")
		if err != nil {
			return false, err.Error()
		}
		var running, waiting []string
		for _, p := range pods {
			switch p.Status.Phase {
			case "Running":
				running = append(running, p.Spec.NodeName)
			case "Pending":
				for _, cond := range p.Status.Conditions {
					if cond.Type == "PodScheduled" && cond.Status == "False" && cond.Message == why {
						waiting = append(waiting, p.Metadata.Name)
					}
				}
			}
		}
		slices.Sort(running)
		return slices.Equal(running, []string{"a1", "a2"}) && len(waiting) == 1,
			fmt.Sprintf("running on %v, waiting with %q: %v (of %d pods)", running, why, waiting, len(pods))
	})

	if status, _ := c.WaitJob("cpu-hungry", 30*time.Second).Finished(); status != "Complete" {
		t.Fatalf("job ended %s, want Complete", status)
	}
	intervals, err := rec.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(testcluster.PodNames(intervals)); got != 3 {
		t.Errorf("%d pods ran, want 3: %+v", got, intervals)
	}
	if got := testcluster.MaxOverlap(intervals); got != 2 {
		t.Errorf("at most %d pods ran at once, want 2: %+v", got, intervals)
	}
	pods, err := c.Pods("cpu-hungry")
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string][]testcluster.Interval{}
	for _, p := range pods {
		for _, iv := range intervals {
			if iv.Pod == p.Metadata.Name {
				perNode[p.Spec.NodeName] = append(perNode[p.Spec.NodeName], iv)
			}
		}
	}
	for node, ivs := range perNode {
		if got := testcluster.MaxOverlap(ivs); got > 1 {
			t.Errorf("%d pods ran at once on %s, which fits one: %+v", got, node, ivs)
		}
	}
}

// TestKilledAgentNeverRunsPodTwice kills an agent while its pod runs and
// starts it again: the pod's process dies with the agent, the pod is never
// run a second time, and the Job completes with a replacement.
func TestKilledAgentNeverRunsPodTwice(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2})
	dir := t.TempDir()
	// Each pod records its start and node, then its shell's PID and that
	// of a background child, which must die with the agent too.
	c.Submit(testcluster.ShellJob{Name: "survivor", Parallelism: 2, Completions: 2, Script: fmt.Sprintf(
		"echo start $(date +%%s.%%N) $JOBCLUSTER_NODE_NAME >> %[1]s/$HOSTNAME.starts; "+
			"sleep 60 & echo $$$$ $! > %[1]s/$HOSTNAME.tmp && mv %[1]s/$HOSTNAME.tmp %[1]s/$HOSTNAME.pid; sleep 3", dir)}.YAML())
	waitPIDFiles(t, dir, 2)

	// The pod's own record names its node, so the kill comes well within
	// its three seconds.
	files, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	victim := strings.TrimSuffix(filepath.Base(files[0]), ".pid")
	b, err := os.ReadFile(filepath.Join(dir, victim+".starts"))
	if err != nil {
		t.Fatal(err)
	}
	var agent *testcluster.Node
	for _, a := range c.Agents {
		if strings.HasSuffix(strings.TrimSpace(string(b)), " "+a.Name) {
			agent = a
		}
	}
	if agent == nil {
		t.Fatalf("pod %s started on no agent of the cluster: %q", victim, b)
	}
	pidsOf := func(pod string) (shell, child int) {
		t.Helper()
		pids, err := testcluster.ReadPIDs(filepath.Join(dir, pod+".pid"))
		if err != nil || len(pids) != 2 {
			t.Fatalf("PIDs of %s: %v %v", pod, pids, err)
		}
		return pids[0], pids[1]
	}
	shell, child := pidsOf(victim)
	c.Kill(agent)
	testcluster.WaitProcessesGone(t, 2*time.Second, "the processes of "+victim+" to die with agent "+agent.Name, []int{shell, child})
	c.Start(agent)

	job := c.WaitJob("survivor", 30*time.Second)
	if status, _ := job.Finished(); status != "Complete" || job.Status.Succeeded != 2 || job.Status.Failed != 0 {
		t.Errorf("job ended %s with succeeded=%d failed=%d, want Complete 2 0", status, job.Status.Succeeded, job.Status.Failed)
	}
	pods, err := c.Pods("survivor")
	if err != nil {
		t.Fatal(err)
	}
	phases := map[string]string{}
	for _, p := range pods {
		phases[p.Metadata.Name] = p.Status.Phase + "/" + p.Status.Reason
		if p.Metadata.Name != victim {
			// A pod that ended normally takes its background child along.
			_, child := pidsOf(p.Metadata.Name)
			testcluster.WaitProcessesGone(t, 2*time.Second, "the background child of "+p.Metadata.Name, []int{child})
		}
	}
	if got := phases[victim]; got != "Failed/NodeLost" {
		t.Errorf("pod %s lost with its agent is %s, want Failed/NodeLost; all pods: %v", victim, got, phases)
	}
	if len(pods) != 3 {
		t.Errorf("%d pods, want 3 (two succeeded, one lost): %v", len(pods), phases)
	}
	starts, _ := filepath.Glob(filepath.Join(dir, "*.starts"))
	if len(starts) != 3 {
		t.Errorf("%d pods ran, want 3: %v", len(starts), starts)
	}
	for _, f := range starts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "start "); n != 1 {
			t.Errorf("pod %s started %d times:\n%s", strings.TrimSuffix(filepath.Base(f), ".starts"), n, b)
		}
	}
}
