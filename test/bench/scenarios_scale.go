package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"time"
)

// scaleSizes runs the scale scenario on the reference 3x3 cluster first,
// then on the large one, so that every figure has its 3x3 twin in the
// same run.
func scaleSizes(cfg config) []clusterSize {
	return []clusterSize{{3, 3}, {cfg.scaleServers, cfg.scaleAgents}}
}

// scaleParallelism is the 10,000-pod Job's parallelism at every size: 100
// pods per agent of the 3x3 cluster (its default --max-pods), spread over
// every agent of the large one. All 10,000 at once on 100 agents would
// measure the two cores' fork storm, which starves the servers' Raft
// (elections, expired leases), not placement.
const scaleParallelism = 300

// runScale measures what grows with the number of agents: gossip
// convergence and readiness at start, the agents' memory, placing and
// starting -scale-pods pods across every agent, listing them, and a
// leader failover.
func runScale(ctx context.Context, e *env) error {
	c := e.c
	members := len(c.servers) + len(c.agents)
	if e.iteration == 0 {
		e.add(fmt.Sprintf("last process started -> all %d members alive on every server", members), "s", seconds(c.converged), below("max", 5))
		e.add("last process started -> every agent a Ready node", "s", seconds(c.ready))
	}
	idle := agentRSS(c)
	e.add("agent RSS, idle (median of agents)", "MiB", median(idle))
	e.add("agent RSS, idle (largest agent)", "MiB", slices.Max(idle))

	if err := placeAndStart(ctx, e); err != nil {
		return err
	}
	return runLeaderFailover(ctx, e)
}

// placeAndStart submits one Job of -scale-pods short pods, scaleParallelism
// at once, and measures until every
// pod's process has started and until the Job is Complete; then lists the
// pods through the CLI as a user would.
func placeAndStart(ctx context.Context, e *env) error {
	c := e.c
	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	pods := e.cfg.scalePods
	parallelism := min(pods, scaleParallelism)
	name := e.name("scale")
	// One stamp file per node: appends of one short line are atomic, and
	// the benchmark reads a hundred files rather than ten thousand.
	objs, err := decode(jobParams{name: name, parallelism: parallelism, completions: pods,
		script: stampLine("start", dir, "${JOBCLUSTER_NODE_NAME}")}.manifest())
	if err != nil {
		return err
	}
	rss := startRSSSampler(c)
	defer rss.stop()
	start := time.Now()
	if err := c.client.submit(ctx, objs); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var lastStart time.Time
	perNode := map[string]int{}
	_, err = waitStamps(wctx, dir, 250*time.Millisecond, fmt.Sprintf("%d pods started", pods), func(m map[string][]stamp) (bool, string) {
		n := 0
		for node, lines := range m {
			perNode[node] = len(lines)
			n += len(lines)
			for _, l := range lines {
				if l.at.After(lastStart) {
					lastStart = l.at
				}
			}
		}
		return n >= pods, fmt.Sprintf("%d of %d started on %d agents", n, pods, len(m))
	})
	if err != nil {
		if j, jerr := c.client.job(ctx, name); jerr == nil {
			st := j.GetStatus()
			err = fmt.Errorf("%w (job %s: active=%d succeeded=%d failed=%d)", err, name, st.GetActive(), st.GetSucceeded(), st.GetFailed())
		}
		return err
	}
	var done time.Time
	err = poll(wctx, 100*time.Millisecond, "job "+name+" to complete", func() (bool, string) {
		j, err := c.client.job(wctx, name)
		if err != nil {
			return false, err.Error()
		}
		if cond := jobFinished(j); cond != nil {
			done = cond.GetLastTransitionTime().AsTime()
			return true, ""
		}
		st := j.GetStatus()
		return false, fmt.Sprintf("succeeded=%d active=%d failed=%d", st.GetSucceeded(), st.GetActive(), st.GetFailed())
	})
	if err != nil {
		return err
	}
	rss.stop()
	counts := make([]int, 0, len(perNode))
	for _, n := range perNode {
		counts = append(counts, n)
	}
	e.logger.Info("pods per agent", "agents", len(perNode), "least", slices.Min(counts), "most", slices.Max(counts))
	e.add(fmt.Sprintf("%d-pod Job, parallelism %d: submit -> every pod's process started", pods, parallelism), "s", seconds(lastStart.Sub(start)), below("max", 60))
	e.add(fmt.Sprintf("%d-pod Job, parallelism %d: submit -> Complete", pods, parallelism), "s", seconds(done.Sub(start)))
	e.add(fmt.Sprintf("%d-pod Job: pods/s", pods), "pods/s", float64(pods)/done.Sub(start).Seconds())
	e.add(fmt.Sprintf("agents that ran pods of the %d-pod Job", pods), "agents", float64(len(perNode)))
	e.add(fmt.Sprintf("server peak RSS during the %d-pod Job", pods), "MiB", rss.peakAmong(c.servers), below("max", 200))
	e.add(fmt.Sprintf("agent peak RSS during the %d-pod Job (largest agent)", pods), "MiB", rss.peakAmong(c.agents))

	if err := listPods(ctx, e, pods); err != nil {
		return err
	}
	return c.client.delete(ctx, "job", name)
}

// listPods times `jobcluster get pods` against a follower, three times,
// and checks that it printed every pod.
func listPods(ctx context.Context, e *env, pods int) error {
	c := e.c
	if e.cfg.secure {
		return nil // the CLI would need the client certificate and token
	}
	leader, err := c.waitLeader(ctx)
	if err != nil {
		return err
	}
	addr := c.servers[0].rpcAddr
	if leader == c.servers[0] {
		addr = c.servers[1].rpcAddr
	}
	for range 3 {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		cmd := exec.CommandContext(cctx, c.bin, "get", "pods", "--addr", addr)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		cancel()
		if err != nil {
			return fmt.Errorf("get pods: %w: %s", err, stderr.String())
		}
		if lines := bytes.Count(out.Bytes(), []byte("\n")) - 1; lines < pods {
			return fmt.Errorf("get pods printed %d pods, want at least %d", lines, pods)
		}
		e.add(fmt.Sprintf("jobcluster get pods of %d pods (a follower)", pods), "s", seconds(took), below("median", 5))
	}
	return nil
}

// agentRSS is every running agent's resident memory, in MiB.
func agentRSS(c *cluster) []float64 {
	var out []float64
	for _, a := range c.agents {
		if pid := a.pid(); pid != 0 {
			if v, err := rssMiB(pid); err == nil {
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		out = append(out, 0)
	}
	return out
}

// median of values (not empty).
func median(values []float64) float64 {
	s := slices.Clone(values)
	slices.Sort(s)
	return s[len(s)/2]
}
