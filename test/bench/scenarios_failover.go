package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// lostPod is a pod that ran on the killed agent.
type lostPod struct {
	name      string
	pgid      int
	goneAt    time.Time // first scan that found no process of its group
	lastAlive time.Time // last scan that found one
}

// runAgentFailover kills (SIGKILL) the agent running the most pods of a
// six-pod Job of long sleeps and measures until every lost pod has a
// replacement whose process started on another agent. It also watches the
// lost pods' process groups: a process of an original still alive when a
// replacement started is two copies at once.
func runAgentFailover(ctx context.Context, e *env) error { return agentFailover(ctx, e, false) }

// runMachineLoss stops (SIGSTOP) that agent, its guard and its pods at
// once, as a machine that hangs or `docker pause` would: nothing there can
// tell the servers, which place the pods elsewhere once the lease
// expired. The frozen pods run nothing meanwhile.
func runMachineLoss(ctx context.Context, e *env) error { return agentFailover(ctx, e, true) }

func agentFailover(ctx context.Context, e *env, freeze bool) error {
	c := e.c
	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	const pods = 6
	name := e.name("failover")
	script := stampLine("start", dir, "${HOSTNAME}") + "; sleep 60; " + stampLine("end", dir, "${HOSTNAME}")
	objs, err := decode(jobParams{name: name, parallelism: pods, completions: pods, script: script}.manifest())
	if err != nil {
		return err
	}
	if err := c.client.submit(ctx, objs); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	before, err := waitStamps(wctx, dir, 20*time.Millisecond, fmt.Sprintf("%d pods started", pods), func(m map[string][]stamp) (bool, string) {
		return len(m) >= pods, fmt.Sprintf("%d started", len(m))
	})
	cancel()
	if err != nil {
		return err
	}
	perNode := map[string]int{}
	for _, lines := range before {
		perNode[lines[0].node]++
	}
	// The agent with the most pods; among equals, a different one each
	// repetition.
	var victim *node
	for i := range c.agents {
		a := c.agents[(i+e.iteration)%len(c.agents)]
		if victim == nil || perNode[a.name] > perNode[victim.name] {
			victim = a
		}
	}
	var lost []*lostPod
	for pod, lines := range before {
		if lines[0].node == victim.name {
			lost = append(lost, &lostPod{name: pod, pgid: lines[0].pgid})
		}
	}
	e.logger.Info("killing agent", "node", victim.name, "pods", len(lost), "spread", perNode)

	var frozen []int
	killedAt := time.Now()
	if freeze {
		if frozen, err = c.freeze(victim); err != nil {
			return err
		}
	} else if killedAt, err = c.kill(victim); err != nil {
		return err
	}
	var replacements []time.Time
	// failedAt is when every server's gossip first saw the frozen agent
	// failed.
	var failedAt time.Time
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, all := time.Now(), procs()
		if freeze && failedAt.IsZero() && c.client.allSeeFailed(ctx, c.servers, victim.name) {
			failedAt = now
		}
		for _, p := range lost {
			switch {
			case freeze:
			case p.goneAt.IsZero() && len(podProcesses(all, p.pgid, p.name)) > 0:
				p.lastAlive = now
			case p.goneAt.IsZero():
				p.goneAt = now
			}
		}
		stamps, err := readStamps(dir)
		if err != nil {
			return err
		}
		replacements = replacements[:0]
		for pod, lines := range stamps {
			s, ok := first(lines, "start")
			if _, original := before[pod]; !original && ok && s.node != victim.name {
				replacements = append(replacements, s.at)
			}
		}
		if len(replacements) >= len(lost) && (freeze && !failedAt.IsZero() || !freeze && settled(lost, replacements)) {
			break
		}
		if now.After(deadline) {
			err := fmt.Errorf("30s after killing %s: %d of %d lost pods running elsewhere", victim.name, len(replacements), len(lost))
			if freeze && failedAt.IsZero() {
				err = fmt.Errorf("%w, and not every server's gossip sees it failed", err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	slices.SortFunc(replacements, func(a, b time.Time) int { return a.Compare(b) })
	firstReplacement, allReplaced := replacements[0], replacements[len(lost)-1]
	if freeze {
		e.add("agent's machine frozen -> lost pods running elsewhere", "s", seconds(allReplaced.Sub(killedAt)), below("max", 5))
		e.add("agent's machine frozen -> every server's gossip sees it failed", "s", seconds(failedAt.Sub(killedAt)))
		if err := c.client.delete(ctx, "job", name); err != nil {
			return err
		}
		for _, pid := range frozen {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if _, err := c.kill(victim); err != nil {
			return err
		}
		if err := c.start(victim); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return c.client.waitNodeReady(wctx, victim.name)
	}
	e.add("agent kill -> lost pods running elsewhere", "s", seconds(allReplaced.Sub(killedAt)), below("max", 5))
	overlapping, gone := 0, time.Duration(0)
	var survivors []string
	all := procs()
	for _, p := range lost {
		if !p.lastAlive.Before(firstReplacement) {
			overlapping++
		}
		if p.goneAt.IsZero() {
			survivors = append(survivors, fmt.Sprintf("%s (group %d: pids %v)", p.name, p.pgid, podProcesses(all, p.pgid, p.name)))
		} else {
			gone = max(gone, p.goneAt.Sub(killedAt))
		}
	}
	e.add("lost pods still running when replacements started", "pods", float64(overlapping), none())
	if len(survivors) == 0 {
		e.add("agent kill -> lost pods' processes gone", "ms", millis(gone))
	} else {
		e.logger.Warn("processes of pods of the killed agent still run", "node", victim.name, "pods", survivors)
	}

	// Put the cluster back as it was for the next repetition.
	if err := c.client.delete(ctx, "job", name); err != nil {
		return err
	}
	for _, p := range lost {
		killPod(all, p.pgid, p.name)
	}
	if err := c.start(victim); err != nil {
		return err
	}
	wctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.client.waitNodeReady(wctx, victim.name)
}

// settled reports whether, for every lost pod, it is known whether it
// overlapped the first replacement: gone, or seen alive after it started.
func settled(lost []*lostPod, replacements []time.Time) bool {
	firstStart := slices.MinFunc(replacements, func(a, b time.Time) int { return a.Compare(b) })
	for _, p := range lost {
		if p.goneAt.IsZero() && p.lastAlive.Before(firstStart) {
			return false
		}
	}
	return true
}

// runLeaderFailover kills (SIGKILL) the leader, then submits a new Job,
// retrying through the other servers until one accepts it, and measures
// from the kill to the moment the Job's pod process started.
func runLeaderFailover(ctx context.Context, e *env) error {
	c := e.c
	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	leader, err := c.waitLeader(ctx)
	if err != nil {
		return err
	}
	name := e.name("after-leader-kill")
	objs, err := decode(jobParams{name: name, parallelism: 1, completions: 1, script: stampLine("start", dir, name)}.manifest())
	if err != nil {
		return err
	}
	e.logger.Info("killing leader", "node", leader.name)
	killedAt, err := c.kill(leader)
	if err != nil {
		return err
	}
	var accepted time.Time
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = poll(wctx, 10*time.Millisecond, "a server to accept job "+name, func() (bool, string) {
		err := c.client.submit(wctx, objs)
		if err == nil || alreadyExists(err) {
			accepted = time.Now()
			return true, ""
		}
		return false, err.Error()
	})
	if err != nil {
		return err
	}
	lines, err := waitStampFile(wctx, filepath.Join(dir, name), 5*time.Millisecond)
	if err != nil {
		return fmt.Errorf("pod of job %s: %w (%s)", name, err, c.client.describeJob(ctx, name))
	}
	e.add("leader kill -> new Job's pod started", "s", seconds(lines[0].at.Sub(killedAt)), below("max", 3))
	e.add("leader kill -> new Job accepted", "s", seconds(accepted.Sub(killedAt)))

	if err := c.client.delete(ctx, "job", name); err != nil {
		return err
	}
	if err := c.start(leader); err != nil {
		return err
	}
	if err := c.waitCaughtUp(wctx, leader); err != nil {
		return err
	}
	for _, a := range c.agents {
		if err := c.client.waitNodeReady(wctx, a.name); err != nil {
			return err
		}
	}
	return nil
}
