package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// idleFor is how long the cluster idles before its memory is read.
const idleFor = 10 * time.Second

// holdingSettle is how long a cluster that has just finished many Jobs
// is left before its idle CPU is measured, over holdingIdleFor: past the
// minute after which agents forget the pods they ran, and a window longer
// than the 30 s an agent may wait between two questions about a pod the
// servers hold.
const (
	holdingSettle  = 70 * time.Second
	holdingIdleFor = 40 * time.Second
)

// runFootprint measures the CPU the whole cluster uses while idle, reads
// the servers' and agents' memory after they idled,
// counts the processes under the agents while pods run, and on the last
// repetition, with -finished-jobs, measures a server holding many finished
// Jobs.
func runFootprint(ctx context.Context, e *env) error {
	idle, err := clusterCPU(ctx, e, idleFor)
	if err != nil {
		return err
	}
	e.add(fmt.Sprintf("idle CPU, %d servers and %d agents together (%% of one core)", len(e.c.servers), len(e.c.agents)), "%",
		idle, below("median", 3))
	for _, s := range e.c.servers {
		rss, err := rssMiB(s.pid())
		if err != nil {
			return err
		}
		e.add("idle server RSS", "MiB", rss, below("max", 50))
	}
	for _, a := range e.c.agents {
		rss, err := rssMiB(a.pid())
		if err != nil {
			return err
		}
		e.add("idle agent RSS", "MiB", rss)
	}
	if err := agentProcesses(ctx, e); err != nil {
		return err
	}
	if e.cfg.finishedJobs > 0 && e.iteration == e.cfg.n-1 {
		return finishedJobs(ctx, e)
	}
	return nil
}

// holdingIdleCPU measures the idle CPU of the cluster holding
// -finished-jobs finished Jobs, once it settled. Agents keep each finished
// pod's logs while the servers hold it, and ask the servers whether they
// still do.
func holdingIdleCPU(ctx context.Context, e *env) error {
	if err := sleep(ctx, holdingSettle-idleFor); err != nil {
		return err
	}
	idle, err := clusterCPU(ctx, e, holdingIdleFor)
	if err != nil {
		return err
	}
	e.add(fmt.Sprintf("idle CPU holding %d finished Jobs (%% of one core)", e.cfg.finishedJobs), "%", idle)
	return nil
}

// clusterCPU is the CPU the whole cluster uses over d, servers, agents
// and the agents' guards, in % of one core.
func clusterCPU(ctx context.Context, e *env, d time.Duration) (float64, error) {
	var pids []int
	for _, n := range append(append([]*node{}, e.c.servers...), e.c.agents...) {
		pids = append(pids, n.pid())
		for _, p := range descendants(n.pid()) {
			pids = append(pids, p.pid)
		}
	}
	used := func() float64 {
		total := 0.0
		for _, pid := range pids {
			if s, err := cpuSeconds(pid); err == nil {
				total += s
			}
		}
		return total
	}
	before, start := used(), time.Now()
	if err := sleep(ctx, d); err != nil {
		return 0, err
	}
	return (used() - before) / time.Since(start).Seconds() * 100, nil
}

// agentProcesses runs 20 pods that exec a sleep and counts every process
// below each agent: beyond what an idle agent has (its guard), each pod
// must be exactly its own process, with no helper (shim, monitor) per pod.
func agentProcesses(ctx context.Context, e *env) error {
	const pods = 20
	idle := map[int]bool{}
	for _, a := range e.c.agents {
		for _, p := range descendants(a.pid()) {
			idle[p.pid] = true
		}
	}
	e.add("processes under agents, idle", "count", float64(len(idle)))
	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	name := e.name("footprint")
	script := stampLine("start", dir, "${HOSTNAME}") + "; exec sleep 60"
	objs, err := decode(jobParams{name: name, parallelism: pods, completions: pods, script: script}.manifest())
	if err != nil {
		return err
	}
	if err := e.c.client.submit(ctx, objs); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stamps, err := waitStamps(wctx, dir, 20*time.Millisecond, fmt.Sprintf("%d pods started", pods), func(m map[string][]stamp) (bool, string) {
		return len(m) >= pods, fmt.Sprintf("%d started", len(m))
	})
	if err != nil {
		return err
	}
	podPIDs := map[int]string{}
	for pod, lines := range stamps {
		podPIDs[lines[0].pgid] = pod
	}
	// The pods' shells exec sleep right after writing their stamp.
	if err := poll(wctx, 10*time.Millisecond, "pods to exec sleep", func() (bool, string) {
		for pid, pod := range podPIDs {
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err != nil || strings.TrimSpace(string(comm)) != "sleep" {
				return false, fmt.Sprintf("pod %s (pid %d) runs %q", pod, pid, strings.TrimSpace(string(comm)))
			}
		}
		return true, ""
	}); err != nil {
		return err
	}
	total, extra := 0, 0
	var helpers []string
	for _, a := range e.c.agents {
		for _, p := range descendants(a.pid()) {
			total++
			if _, ok := podPIDs[p.pid]; !ok && !idle[p.pid] {
				extra++
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.pid))
				helpers = append(helpers, fmt.Sprintf("%s: pid %d %s", a.name, p.pid, strings.TrimSpace(string(comm))))
			}
		}
	}
	if extra > 0 {
		e.logger.Warn("processes under the agents that are not pods", "processes", helpers)
	}
	e.add(fmt.Sprintf("processes under agents, %d pods running", pods), "count", float64(total))
	e.add("processes under agents beyond the idle ones and the pods' own", "count", float64(extra), none())
	return e.c.client.delete(ctx, "job", name)
}

// finishedJobs accumulates -finished-jobs finished one-pod Jobs, then
// reads the servers' memory and measures how long a follower restarted
// from its data takes to catch up with the leader.
func finishedJobs(ctx context.Context, e *env) error {
	c := e.c
	if err := buildFinishedJobs(ctx, e); err != nil {
		return err
	}
	if err := sleep(ctx, idleFor); err != nil {
		return err
	}
	metric := fmt.Sprintf("server RSS, %d finished Jobs", e.cfg.finishedJobs)
	for _, s := range c.servers {
		rss, err := rssMiB(s.pid())
		if err != nil {
			return err
		}
		e.add(metric, "MiB", rss, below("max", 1024))
	}
	if err := holdingIdleCPU(ctx, e); err != nil {
		return err
	}

	leader, err := c.waitLeader(ctx)
	if err != nil {
		return err
	}
	if err := getOneJob(ctx, e, leader, finishedJobName(finishedBatches(e.cfg.finishedJobs), 1)); err != nil {
		return err
	}
	var follower *node
	for _, s := range c.servers {
		if s != leader {
			follower = s
			break
		}
	}
	lm, err := c.client.member(ctx, leader.rpcAddr)
	if err != nil {
		return err
	}
	target := lm.GetAppliedIndex()
	if _, err := c.kill(follower); err != nil {
		return err
	}
	restarted := time.Now()
	if err := c.start(follower); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := poll(wctx, 10*time.Millisecond, follower.name+" to catch up", func() (bool, string) {
		m, err := c.client.member(wctx, follower.rpcAddr)
		if err != nil {
			return false, err.Error()
		}
		return m.GetAppliedIndex() >= target, fmt.Sprintf("applied %d of %d", m.GetAppliedIndex(), target)
	}); err != nil {
		return err
	}
	e.add(fmt.Sprintf("follower restart -> caught up, %d finished Jobs", e.cfg.finishedJobs), "s", seconds(time.Since(restarted)), below("max", 10))
	rss, err := rssMiB(follower.pid())
	if err != nil {
		return err
	}
	e.add(fmt.Sprintf("restarted follower RSS, %d finished Jobs", e.cfg.finishedJobs), "MiB", rss)
	return nil
}

// getOneJob reads one Job among the many finished ones, as a user does:
// `jobcluster get job NAME` as a process (start, dial, read, print), and
// the Get call alone; then the Jobs of one batch by their label, and all.
func getOneJob(ctx context.Context, e *env, leader *node, name string) error {
	const runs = 20
	for range runs {
		start := time.Now()
		out, err := exec.CommandContext(ctx, e.c.bin, "get", "job", name, "--addr", leader.rpcAddr).CombinedOutput()
		if err != nil {
			return fmt.Errorf("get job %s: %w: %s", name, err, out)
		}
		e.add(fmt.Sprintf("`jobcluster get job NAME`, %d finished Jobs", e.cfg.finishedJobs), "ms", millis(time.Since(start)), below("median", 50))
		if !strings.Contains(string(out), name) {
			return fmt.Errorf("get job %s printed %q", name, out)
		}
	}
	cl := e.c.client.at(leader.rpcAddr)
	for range runs {
		start := time.Now()
		if _, err := cl.Get(ctx, &api.GetRequest{Kind: "job", Name: name}); err != nil {
			return fmt.Errorf("get job %s: %w", name, err)
		}
		e.add(fmt.Sprintf("Get of one Job (RPC), %d finished Jobs", e.cfg.finishedJobs), "ms", millis(time.Since(start)))
	}
	// The Jobs of the last call share one label, as a user's batch does.
	selector := "bench=" + strings.TrimSuffix(name, "-1")
	for range 5 {
		start := time.Now()
		resp, err := cl.List(ctx, &api.ListRequest{Kind: "job", LabelSelector: selector})
		if err != nil {
			return fmt.Errorf("list jobs %s: %w", selector, err)
		}
		e.add(fmt.Sprintf("List of %d Jobs by label (RPC), %d finished Jobs", len(resp.GetItems()), e.cfg.finishedJobs), "ms", millis(time.Since(start)))
	}
	// Every Job, as a plain `jobcluster get jobs` asks.
	for range 3 {
		start := time.Now()
		resp, err := cl.List(ctx, &api.ListRequest{Kind: "job"})
		if err != nil {
			return fmt.Errorf("list jobs: %w", err)
		}
		e.add(fmt.Sprintf("List of all %d Jobs (RPC)", len(resp.GetItems())), "ms", millis(time.Since(start)))
	}
	// The same in pages of 500, as the CLI and kubectl read it: each page
	// is one call.
	for range 3 {
		start := time.Now()
		var token string
		n := 0
		for {
			pageStart := time.Now()
			resp, err := cl.List(ctx, &api.ListRequest{Kind: "job", Limit: 500, Continue: token})
			if err != nil {
				return fmt.Errorf("list jobs, a page after %q: %w", token, err)
			}
			e.add(fmt.Sprintf("List of a page of 500 of %d finished Jobs (RPC)", e.cfg.finishedJobs), "ms", millis(time.Since(pageStart)))
			n += len(resp.GetItems())
			if token = resp.GetContinue(); token == "" {
				break
			}
		}
		e.add(fmt.Sprintf("List of all %d Jobs in pages of 500 (RPC)", n), "ms", millis(time.Since(start)))
	}
	// And `jobcluster get jobs` itself, given every server as a user's
	// JOBCLUSTER_ADDR does: it lists in pages of 500.
	var addrs []string
	for _, s := range e.c.servers {
		addrs = append(addrs, s.rpcAddr)
	}
	for range 3 {
		start := time.Now()
		out, err := exec.CommandContext(ctx, e.c.bin, "get", "jobs", "-o", "name", "--addr", strings.Join(addrs, ",")).Output()
		if err != nil {
			return fmt.Errorf("get jobs: %w", err)
		}
		took := time.Since(start)
		if n := strings.Count(string(out), "\n"); n < e.cfg.finishedJobs {
			return fmt.Errorf("get jobs printed %d Jobs, want at least %d", n, e.cfg.finishedJobs)
		}
		e.add(fmt.Sprintf("`jobcluster get jobs -o name`, %d finished Jobs", e.cfg.finishedJobs), "s", seconds(took))
	}
	return nil
}

// finishedPerCall is how many finished Jobs one Submit call creates.
const finishedPerCall = 1000

// buildFinishedJobs accumulates -finished-jobs finished one-pod Jobs, in
// calls of up to finishedPerCall, each waited for until its Jobs are
// Complete. Batch b (from 1) is labelled bench=finished-b and its Jobs are
// named finished-b-1, finished-b-2 and so on.
func buildFinishedJobs(ctx context.Context, e *env) error {
	start := time.Now()
	for done := 0; done < e.cfg.finishedJobs; done += finishedPerCall {
		n := min(finishedPerCall, e.cfg.finishedJobs-done)
		label := finishedLabel(done/finishedPerCall + 1)
		objs, _, err := oneLabelJobs(label, n)
		if err != nil {
			return err
		}
		if err := e.c.client.submit(ctx, objs); err != nil {
			return err
		}
		if _, err := e.c.client.waitJobsComplete(ctx, "bench="+label, n, 2*time.Minute, nil); err != nil {
			return err
		}
		e.logger.Info("finished jobs", "done", done+n, "of", e.cfg.finishedJobs, "took", time.Since(start).Round(time.Second))
	}
	return nil
}

// finishedBatches is how many calls buildFinishedJobs makes for n Jobs.
func finishedBatches(n int) int { return (n + finishedPerCall - 1) / finishedPerCall }

// finishedBatchSize is how many Jobs batch b (from 1) of n holds.
func finishedBatchSize(n, b int) int { return min(finishedPerCall, n-(b-1)*finishedPerCall) }

func finishedLabel(batch int) string { return fmt.Sprintf("finished-%d", batch) }

func finishedJobName(batch, i int) string { return fmt.Sprintf("%s-%d", finishedLabel(batch), i) }
