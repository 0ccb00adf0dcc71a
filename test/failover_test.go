package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestKilledAgentPodsRunElsewhere kills -9 the agent running two of a
// Job's three pods: replacements run on the other agents within seconds,
// the Job completes with exactly three successes, and the lost pods are
// reported NodeLost without counting against backoffLimit (0 here, so a
// counted failure would fail the Job).
func TestKilledAgentPodsRunElsewhere(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2})
	runs := testcluster.NewRunLog(t)
	c.Submit(jobDoc("lost", "completions: 3\nparallelism: 3\nbackoffLimit: 0", "Never", runs.Script("sleep 5")))

	first := waitRuns(t, runs, "the three pods to start", func(rs []testcluster.Run) bool { return len(rs) == 3 })
	byNode := map[string][]string{}
	for _, r := range first {
		byNode[r.Node] = append(byNode[r.Node], r.Pod)
	}
	victim := ""
	for node, pods := range byNode {
		if len(pods) == 2 {
			victim = node
		}
	}
	if victim == "" {
		t.Fatalf("pods by node %v: want two of the three on one of the two agents", byNode)
	}
	lost := byNode[victim]
	// A third agent joins only now, so that two pods share the victim and
	// the lost ones have room elsewhere.
	c.AddAgent("a3")
	c.WaitNodeReady("a3")

	killedAt := time.Now()
	c.Kill(agentNamed(t, c, victim))
	original := podNames(first)
	wait.Within(t, 20*time.Second, "replacements of the lost pods to run", func() (bool, string) {
		pods, err := c.Pods("lost")
		if err != nil {
			return false, err.Error()
		}
		var replacements []string
		running := 0
		for _, p := range pods {
			if slices.Contains(original, p.Metadata.Name) {
				continue
			}
			replacements = append(replacements, p.Metadata.Name+"="+p.Status.Phase)
			if p.Status.Phase == "Running" || p.Status.Phase == "Succeeded" {
				running++
			}
		}
		return len(replacements) == len(lost) && running == len(lost), fmt.Sprintf("replacements %v", replacements)
	})
	t.Logf("agent failover: %.2fs", time.Since(killedAt).Seconds())

	job := c.WaitJob("lost", 30*time.Second)
	if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != 3 || job.Status.Failed != 0 {
		t.Errorf("job ended %s with succeeded=%d failed=%d, want Complete with 3 and 0; conditions %+v",
			got, job.Status.Succeeded, job.Status.Failed, job.Status.Conditions)
	}
	pods, err := c.Pods("lost")
	if err != nil {
		t.Fatal(err)
	}
	gotStates := map[string]string{}
	wantStates := map[string]string{}
	for _, p := range pods {
		gotStates[p.Metadata.Name] = p.Status.Phase + " " + p.Status.Reason
		wantStates[p.Metadata.Name] = "Succeeded "
		if slices.Contains(lost, p.Metadata.Name) {
			wantStates[p.Metadata.Name] = "Failed NodeLost"
		}
	}
	if diff := cmp.Diff(wantStates, gotStates); diff != "" {
		t.Errorf("pod phase and reason by pod (-want +got):\n%s", diff)
	}

	all := readRuns(t, runs)
	for _, r := range all {
		switch {
		case slices.Contains(lost, r.Pod):
			if r.Ended {
				t.Errorf("lost pod %s ended on its own: the agent was killed too late to test anything", r.Pod)
			}
		case !slices.Contains(original, r.Pod):
			if r.Node == victim || !r.Ended || r.Start.Before(killedAt) {
				t.Errorf("replacement %s ran on %s from %s (ended %t), want on another agent after the kill at %s",
					r.Pod, r.Node, r.Start.Format(time.StampMilli), r.Ended, killedAt.Format(time.StampMilli))
			}
		}
	}
	if got := len(all); got != 3+len(lost) {
		t.Errorf("%d pod runs, want %d: %+v", got, 3+len(lost), all)
	}
	assertEachPodStartedOnce(t, all)

	if got := tableCell(t, c.MustCLI("get", "node", victim), victim, "STATUS"); got != "NotReady" {
		t.Errorf("get node %s: STATUS %s, want NotReady", victim, got)
	}
	describe := c.MustCLI("describe", "job", "lost")
	for _, pod := range lost {
		event := `Warning\s+NodeLost\s.*Pod ` + regexp.QuoteMeta(pod) + ` lost with node ` + regexp.QuoteMeta(victim)
		if !regexp.MustCompile(event).MatchString(describe) {
			t.Errorf("describe job lacks a NodeLost event for %s:\n%s", pod, describe)
		}
	}
}

// TestKilledAgentComesBackAndTakesWork kills the only agent a pod may run
// on: the pod is lost and its replacement waits until the agent, started
// again from its data directory, is Ready and runs it. The lost pod is
// never run again.
func TestKilledAgentComesBackAndTakesWork(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2})
	runs := testcluster.NewRunLog(t)
	c.Submit(pinned(jobDoc("pinned", "backoffLimit: 0", "Never", runs.Script("sleep 3")), "a1"))
	first := waitRuns(t, runs, "the pod to start", func(rs []testcluster.Run) bool { return len(rs) == 1 })

	a1 := agentNamed(t, c, "a1")
	c.Kill(a1)
	c.WaitNodeNotReady("a1")
	wait.Within(t, 20*time.Second, "the pod lost and a replacement waiting", func() (bool, string) {
		pods, err := c.Pods("pinned")
		if err != nil {
			return false, err.Error()
		}
		got := podStates(pods)
		return slices.Equal(got, []string{"Failed NodeLost", "Pending "}), fmt.Sprintf("%v", got)
	})
	c.Start(a1)
	c.WaitNodeReady("a1")

	job := c.WaitJob("pinned", 20*time.Second)
	if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != 1 || job.Status.Failed != 0 {
		t.Errorf("job ended %s with succeeded=%d failed=%d, want Complete with 1 and 0", got, job.Status.Succeeded, job.Status.Failed)
	}
	all := readRuns(t, runs)
	want := []string{first[0].Pod + " on a1 ended=false", "replacement on a1 ended=true"}
	var got []string
	for _, r := range all {
		name := r.Pod
		if name != first[0].Pod {
			name = "replacement"
		}
		got = append(got, fmt.Sprintf("%s on %s ended=%t", name, r.Node, r.Ended))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pod runs (-want +got):\n%s", diff)
	}
}

// TestLeaderKilledDuringJob kills -9 the leader while a Job runs: a new
// leader takes over, the Job completes with every pod run exactly once,
// and a Job submitted right after the kill is accepted.
func TestLeaderKilledDuringJob(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2})
	runs := testcluster.NewRunLog(t)
	c.Submit(jobDoc("steady", "completions: 20\nparallelism: 4", "Never", runs.Script("sleep 0.5")))
	waitRuns(t, runs, "a few pods to finish", func(rs []testcluster.Run) bool { return countEnded(rs) >= 4 })

	leader := c.WaitForLeader()
	killedAt := time.Now()
	c.Kill(leader)
	type submission struct {
		res testcluster.Result
		at  time.Time
	}
	submitted := make(chan submission, 1)
	go func() {
		r := c.CLIAt(c.Addrs(), jobDoc("after-kill", "", "Never", "true"), "submit", "-")
		submitted <- submission{r, time.Now()}
	}()
	newLeader := c.WaitForLeader()
	t.Logf("leader failover: %.2fs to a new leader (%s)", time.Since(killedAt).Seconds(), newLeader.Name)
	if newLeader == leader {
		t.Fatalf("killed leader %s still reported as leader", leader.Name)
	}
	s := <-submitted
	if s.res.Err != nil || strings.TrimSpace(s.res.Stdout) != "job.batch/after-kill created" {
		t.Fatalf("submit right after the leader's kill: err=%v stdout=%q stderr=%q", s.res.Err, s.res.Stdout, s.res.Stderr)
	}
	t.Logf("submit right after the kill accepted after %.2fs", s.at.Sub(killedAt).Seconds())

	for _, tc := range []struct {
		name      string
		succeeded int
	}{{"steady", 20}, {"after-kill", 1}} {
		job := c.WaitJob(tc.name, 30*time.Second)
		if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != tc.succeeded || job.Status.Failed != 0 {
			t.Errorf("job %s ended %s with succeeded=%d failed=%d, want Complete with %d and 0",
				tc.name, got, job.Status.Succeeded, job.Status.Failed, tc.succeeded)
		}
	}
	all := readRuns(t, runs)
	if got := len(podNames(all)); got != 20 {
		t.Errorf("%d pods ran, want 20", got)
	}
	afterKill := 0
	for _, r := range all {
		if r.Start.After(killedAt) {
			afterKill++
		}
	}
	if afterKill == 0 {
		t.Errorf("no pod started after the leader's kill: the job was over too soon to test anything")
	}
	assertEachPodStartedOnce(t, all)
	assertAllEnded(t, all)
}

// TestRollingRestartDuringJob stops (SIGTERM) and starts again every server
// and agent in turn while a Job runs: the Job completes with exactly its
// completions and no pod runs twice.
func TestRollingRestartDuringJob(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2})
	runs := testcluster.NewRunLog(t)
	c.Submit(jobDoc("rolling", "completions: 10\nparallelism: 2", "Never", runs.Script("sleep 2")))
	waitRuns(t, runs, "the first pod to start", func(rs []testcluster.Run) bool { return len(rs) > 0 })

	order := []*testcluster.Node{c.Agents[0], c.Servers[0], c.Agents[1], c.Servers[1], c.Servers[2]}
	for _, n := range order {
		job, err := c.GetJob("rolling")
		if err != nil {
			t.Fatal(err)
		}
		if got, done := job.Finished(); done {
			t.Fatalf("job ended %s before %s was restarted: the job is too short to test anything", got, n.Name)
		}
		applied := appliedIndex(t, c)
		c.Stop(n)
		if n.Role == "agent" {
			c.WaitNodeNotReady(n.Name)
		}
		c.Start(n)
		if n.Role == "agent" {
			c.WaitNodeReady(n.Name)
		} else {
			waitServerBack(t, c, n, applied)
		}
	}

	job := c.WaitJob("rolling", 30*time.Second)
	if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != 10 || job.Status.Failed != 0 {
		t.Errorf("job ended %s with succeeded=%d failed=%d, want Complete with 10 and 0; conditions %+v",
			got, job.Status.Succeeded, job.Status.Failed, job.Status.Conditions)
	}
	pods, err := c.Pods("rolling")
	if err != nil {
		t.Fatal(err)
	}
	// The pods a stopping agent had to stop are Failed NodeLost, the rest
	// succeeded.
	succeeded := 0
	for _, state := range podStates(pods) {
		switch state {
		case "Succeeded ":
			succeeded++
		case "Failed NodeLost":
		default:
			t.Errorf("a pod ended %q, want Succeeded or Failed NodeLost", state)
		}
	}
	if succeeded != 10 {
		t.Errorf("%d pods Succeeded, want 10", succeeded)
	}
	all := readRuns(t, runs)
	assertEachPodStartedOnce(t, all)
	if got := countEnded(all); got < 10 {
		t.Errorf("%d pod runs ended, want at least the 10 completions", got)
	}
}

// appliedIndex is the highest index any server's state machine applied.
func appliedIndex(t *testing.T, c *testcluster.Cluster) uint64 {
	t.Helper()
	leader := c.WaitForLeader()
	ms, err := c.Members(leader)
	if err != nil {
		t.Fatal(err)
	}
	var most uint64
	for _, m := range ms {
		most = max(most, m.AppliedIndex)
	}
	return most
}

// waitServerBack waits until a restarted server follows (or leads) a
// cluster with a leader and has applied at least up to index, so that it
// answers reads with what it knew before.
func waitServerBack(t *testing.T, c *testcluster.Cluster, n *testcluster.Node, index uint64) {
	t.Helper()
	wait.Within(t, 30*time.Second, n.Name+" back in a cluster with a leader", func() (bool, string) {
		ms, err := c.Members(n)
		if err != nil {
			return false, err.Error()
		}
		leader, state, applied := "", "", uint64(0)
		for _, m := range ms {
			if m.Role == "server" && m.Leader {
				leader = m.Name
			}
			if m.Name == n.Name {
				state, applied = m.RaftState, m.AppliedIndex
			}
		}
		return leader != "" && (state == "Follower" || state == "Leader") && applied >= index,
			fmt.Sprintf("leader %q, %s is %q with index %d of %d", leader, n.Name, state, applied, index)
	})
}

// TestKilledAgentsGuardHandsItsPodsOverAtOnce kills -9 an agent under a
// 30-second lease, on a cluster with mutual TLS and ACLs: its guard kills
// the agent's pods and tells the servers with the agent's certificate, so
// their replacements run within seconds rather than after the lease, the
// lost pods' processes are gone by then, and the node is NotReady saying
// why.
func TestKilledAgentsGuardHandsItsPodsOverAtOnce(t *testing.T) {
	lease := []string{"--lease-ttl", "30s"}
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, ServerArgs: lease, AgentArgs: lease, TLS: true, ACL: true})
	dir := t.TempDir()
	c.Submit(testcluster.ShellJob{Name: "handover", Parallelism: 2, Completions: 2, Script: fmt.Sprintf(
		"echo $JOBCLUSTER_NODE_NAME > %[1]s/$HOSTNAME.node; "+
			"sleep 60 & echo $$$$ $! > %[1]s/$HOSTNAME.tmp && mv %[1]s/$HOSTNAME.tmp %[1]s/$HOSTNAME.pid; wait", dir)}.YAML())
	waitPIDFiles(t, dir, 2)
	files, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	victim := strings.TrimSuffix(filepath.Base(files[0]), ".pid")
	node, err := os.ReadFile(filepath.Join(dir, victim+".node"))
	if err != nil {
		t.Fatal(err)
	}
	agent := agentNamed(t, c, strings.TrimSpace(string(node)))
	var lost []string
	var lostPIDs []int
	for _, f := range files {
		pod := strings.TrimSuffix(filepath.Base(f), ".pid")
		if b, _ := os.ReadFile(filepath.Join(dir, pod+".node")); strings.TrimSpace(string(b)) == agent.Name {
			lost = append(lost, pod)
			pids, err := testcluster.ReadPIDs(f)
			if err != nil {
				t.Fatal(err)
			}
			lostPIDs = append(lostPIDs, pids...)
		}
	}

	// Running as the servers see it: the agent's report went through,
	// and with it the agent process's name.
	wait.Within(t, 15*time.Second, "both pods reported Running", func() (bool, string) {
		pods, err := c.Pods("handover")
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		running := 0
		for _, p := range pods {
			seen = append(seen, p.Metadata.Name+"="+p.Status.Phase)
			if p.Status.Phase == "Running" {
				running++
			}
		}
		return running == 2, fmt.Sprintf("pods %v", seen)
	})

	killedAt := time.Now()
	c.Kill(agent)
	wait.Within(t, 15*time.Second, "replacements of the lost pods to run, long before the 30 s lease", func() (bool, string) {
		pods, err := c.Pods("handover")
		if err != nil {
			return false, err.Error()
		}
		running := 0
		var seen []string
		for _, p := range pods {
			seen = append(seen, p.Metadata.Name+"="+p.Status.Phase+"/"+p.Status.Reason)
			if !slices.Contains(lost, p.Metadata.Name) && p.Status.Phase == "Running" {
				running++
			}
		}
		return running == 2, fmt.Sprintf("pods %v", seen)
	})
	t.Logf("agent failover under a 30 s lease: %.2fs", time.Since(killedAt).Seconds())
	for _, pid := range lostPIDs {
		if testcluster.ProcessAlive(pid) {
			t.Errorf("process %d of a lost pod still runs beside its replacement", pid)
		}
	}
	pods, err := c.Pods("handover")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if slices.Contains(lost, p.Metadata.Name) && (p.Status.Phase != "Failed" || p.Status.Reason != "NodeLost" || !strings.Contains(p.Status.Message, "its guard killed its pods")) {
			t.Errorf("lost pod %s is %s/%s %q, want Failed/NodeLost saying its guard killed it", p.Metadata.Name, p.Status.Phase, p.Status.Reason, p.Status.Message)
		}
	}
	if got := tableCell(t, c.MustCLI("get", "node", agent.Name), agent.Name, "STATUS"); got != "NotReady" {
		t.Errorf("get node %s: STATUS %s, want NotReady", agent.Name, got)
	}
}
