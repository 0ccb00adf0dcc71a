package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rssInterval is how often the RSS sampler reads every node's memory.
const rssInterval = 250 * time.Millisecond

// rssSampler reads the resident memory of every server and agent at a
// fixed interval and keeps each node's peak.
type rssSampler struct {
	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}

	mu   sync.Mutex
	peak map[*node]float64
}

func startRSSSampler(c *cluster) *rssSampler {
	r := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{}), peak: map[*node]float64{}}
	nodes := append(append([]*node{}, c.servers...), c.agents...)
	go func() {
		defer close(r.done)
		tick := time.NewTicker(rssInterval)
		defer tick.Stop()
		for {
			for _, n := range nodes {
				if pid := n.pid(); pid != 0 {
					if v, err := rssMiB(pid); err == nil {
						r.mu.Lock()
						r.peak[n] = max(r.peak[n], v)
						r.mu.Unlock()
					}
				}
			}
			select {
			case <-r.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return r
}

// stop ends the sampling; safe to call more than once.
func (r *rssSampler) stop() {
	r.stopOnce.Do(func() { close(r.stopc) })
	<-r.done
}

// peakOf is the highest RSS seen of one node, in MiB.
func (r *rssSampler) peakOf(n *node) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak[n]
}

// peakAmong is the highest RSS seen among nodes, in MiB.
func (r *rssSampler) peakAmong(nodes []*node) float64 {
	var m float64
	for _, n := range nodes {
		m = max(m, r.peakOf(n))
	}
	return m
}

// raftUsage is what a server had written for Raft at one moment.
type raftUsage struct {
	dirBytes   int64 // raft.db and snapshots on disk
	writeBytes int64 // written to storage by the process, all files
}

func readRaftUsage(n *node) (raftUsage, error) {
	var u raftUsage
	var err error
	if u.dirBytes, err = dirBytes(n.raftDir()); err != nil {
		return u, err
	}
	u.writeBytes, err = writeBytes(n.pid())
	return u, err
}

// smallResult is what became of the small Job submitted beside the huge
// one.
type smallResult struct {
	started, complete time.Duration
	err               error
}

// runHuge submits one Job of completions -huge-pods and twice that
// parallelism (200,000 at the default, the manifest that once wedged the
// cluster) whose pods run `true`, as a new user might, and measures what it costs the
// servers (peak RSS sampled every 250 ms from submit until the agents run
// no pod after the delete, Raft bytes written until every pod exists), how
// long until every pod exists, how soon a one-pod Job submitted once a
// quarter of them exist starts, and how long the delete of the huge Job
// takes to be accepted and to stop its pods.
func runHuge(ctx context.Context, e *env) error {
	c := e.c
	pods := e.cfg.hugePods
	name := e.name("huge")
	m := jobParams{name: name, parallelism: 2 * pods, completions: pods, command: []string{"true"}}.manifest()
	// The user's manifest names no backoffLimit: the default (6) applies.
	delete(m["spec"].(map[string]any), "backoffLimit")
	objs, err := decode(m)
	if err != nil {
		return err
	}
	leader, err := c.waitLeader(ctx)
	if err != nil {
		return err
	}
	before := map[*node]raftUsage{}
	for _, s := range c.servers {
		if before[s], err = readRaftUsage(s); err != nil {
			return err
		}
	}
	// The agents' guards run under them when idle; pods are the rest.
	idle := map[int]bool{}
	for _, a := range c.agents {
		for _, p := range descendants(a.pid()) {
			idle[p.pid] = true
		}
	}
	expiredBefore, err := leaseExpiries(c)
	if err != nil {
		return err
	}
	rss := startRSSSampler(c)
	leaders := watchLeaders(ctx, c)
	// The peaks and the disturbances are recorded even when a later step
	// fails: they are what explains the failure.
	defer func() {
		rss.stop()
		changes := leaders.stop()
		e.add("server peak RSS, submit -> pods stopped after delete: leader", "MiB", rss.peakOf(leader), below("max", 1024))
		e.add("server peak RSS, submit -> pods stopped after delete: max of 3 servers", "MiB", rss.peakAmong(c.servers), below("max", 1024))
		e.add("agent peak RSS, submit -> pods stopped after delete: max of 3 agents", "MiB", rss.peakAmong(c.agents))
		e.add("leader changes, submit -> pods stopped after delete", "count", float64(changes))
		if expired, err := leaseExpiries(c); err == nil {
			e.add("agent leases expired, submit -> pods stopped after delete", "count", float64(expired-expiredBefore))
		}
	}()

	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	start := time.Now()
	if err := c.client.submit(wctx, objs); err != nil {
		return err
	}
	e.logger.Info("huge job submitted", "name", name, "pods", pods, "leader", leader.name)

	var (
		small      chan smallResult
		smallName  = e.name("beside-huge")
		allCreated time.Duration
		stuck      error
		lastCount  = int32(-1)
		lastChange = time.Now()
		lastLog    = time.Now()
	)
	err = poll(wctx, 100*time.Millisecond, fmt.Sprintf("job %s to have %d pods", name, pods), func() (bool, string) {
		j, err := c.client.job(wctx, name)
		if err != nil {
			return false, err.Error()
		}
		st := j.GetStatus()
		created := st.GetActive() + st.GetSucceeded() + st.GetFailed()
		if cond := jobFinished(j); cond != nil && cond.GetType() == "Failed" {
			stuck = fmt.Errorf("job %s failed with %d of %d pods: %s: %s", name, created, pods, cond.GetReason(), cond.GetMessage())
			return true, ""
		}
		if small == nil && int(created) >= pods/4 {
			small = make(chan smallResult, 1)
			go func() { small <- runBesideHuge(wctx, e, smallName) }()
		}
		if int(created) >= pods {
			allCreated = time.Since(start)
			return true, ""
		}
		if created != lastCount {
			lastCount, lastChange = created, time.Now()
		} else if time.Since(lastChange) > time.Minute {
			stuck = fmt.Errorf("job %s: no new pod for a minute (active=%d succeeded=%d failed=%d of %d)", name, st.GetActive(), st.GetSucceeded(), st.GetFailed(), pods)
			return true, ""
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			e.logger.Info("huge job", "pods", created, "of", pods, "active", st.GetActive(), "succeeded", st.GetSucceeded(),
				"failed", st.GetFailed(), "leader_peak_rss_mib", int(rss.peakOf(leader)), "took", time.Since(start).Round(time.Second))
		}
		return false, fmt.Sprintf("pods=%d active=%d succeeded=%d failed=%d", created, st.GetActive(), st.GetSucceeded(), st.GetFailed())
	})
	if err == nil {
		err = stuck
	}
	if err != nil {
		return errors.Join(err, cleanUpHuge(ctx, e, name, smallName))
	}
	after := map[*node]raftUsage{}
	for _, s := range c.servers {
		if after[s], err = readRaftUsage(s); err != nil {
			return errors.Join(err, cleanUpHuge(ctx, e, name, smallName))
		}
	}
	e.logger.Info("every pod of the huge job exists", "took", allCreated.Round(time.Millisecond))
	e.add(fmt.Sprintf("%d-pod Job: submit -> every pod exists", pods), "s", seconds(allCreated))
	e.add("Raft data dir growth, submit -> every pod exists: leader", "MiB", mib(after[leader].dirBytes-before[leader].dirBytes))
	var dirGrowth, written float64
	for _, s := range c.servers {
		dirGrowth = max(dirGrowth, mib(after[s].dirBytes-before[s].dirBytes))
		written = max(written, mib(after[s].writeBytes-before[s].writeBytes))
	}
	e.add("Raft data dir growth, submit -> every pod exists: max of 3 servers", "MiB", dirGrowth)
	e.add("bytes written to disk, submit -> every pod exists: leader", "MiB", mib(after[leader].writeBytes-before[leader].writeBytes))
	e.add("bytes written to disk, submit -> every pod exists: max of 3 servers", "MiB", written)

	// The small Job was submitted once a quarter of the pods existed.
	if small == nil {
		return errors.Join(fmt.Errorf("small job %s was never submitted", smallName), cleanUpHuge(ctx, e, name, smallName))
	}
	res := <-small
	if res.err != nil {
		return errors.Join(res.err, cleanUpHuge(ctx, e, name, smallName))
	}
	e.add("small Job beside it: submit -> pod started", "s", seconds(res.started), below("max", 1))
	e.add("small Job beside it: submit -> Complete", "s", seconds(res.complete))

	addrs := []string{leader.rpcAddr}
	for _, s := range c.servers {
		if s != leader {
			addrs = append(addrs, s.rpcAddr)
		}
	}
	// The user's delete, as a process, under the load; meanwhile the Job
	// is read until it is gone.
	type cliResult struct {
		out []byte
		err error
		at  time.Duration
	}
	cli := make(chan cliResult, 1)
	delStart := time.Now()
	go func() {
		out, err := exec.CommandContext(wctx, c.bin, "delete", "job", name, "--addr", strings.Join(addrs, ",")).CombinedOutput()
		cli <- cliResult{out, err, time.Since(delStart)}
	}()
	var goneAt time.Duration
	err = poll(wctx, 50*time.Millisecond, "job "+name+" to be gone", func() (bool, string) {
		_, err := c.client.job(wctx, name)
		if status.Code(err) == codes.NotFound {
			goneAt = time.Since(delStart)
			return true, ""
		}
		return false, fmt.Sprint(err)
	})
	del := <-cli
	switch {
	case del.err != nil && bytes.Contains(del.out, []byte("NotFound")) && err == nil:
		// An attempt that timed out had gone through; the retry found
		// nothing to delete.
		e.logger.Warn("delete reported NotFound: an earlier attempt of the same command had deleted the Job", "output", strings.TrimSpace(string(del.out)), "took", del.at.Round(time.Millisecond))
	case del.err != nil:
		return errors.Join(fmt.Errorf("delete job %s: %w: %s", name, del.err, del.out), err, cleanUpHuge(ctx, e, name, smallName))
	}
	e.add("`jobcluster delete job` of the huge Job returned", "s", seconds(del.at), below("max", 5))
	if err != nil {
		return errors.Join(err, cleanUpHuge(ctx, e, name, smallName))
	}
	e.add("delete -> the huge Job gone from reads", "s", seconds(goneAt))
	if err := waitPodsStopped(wctx, e, idle); err != nil {
		return errors.Join(err, cleanUpHuge(ctx, e, name, smallName))
	}
	e.add("delete -> no pod process left on any agent", "s", seconds(time.Since(delStart)))
	// Agents keep a forgotten pod's directory (its logs) for a day.
	dirs, err := podDirs(e, name+"-")
	if err != nil {
		return err
	}
	e.add("pod directories of the deleted Job kept on the agents (logs)", "count", float64(dirs))
	return c.client.delete(ctx, "job", smallName)
}

// runBesideHuge submits a one-pod Job and measures from the start of the
// Submit call to the moment its pod's process wrote the time, and to the
// Job's Complete condition.
func runBesideHuge(ctx context.Context, e *env, name string) smallResult {
	dir, err := e.stampDir()
	if err != nil {
		return smallResult{err: err}
	}
	objs, err := decode(jobParams{name: name, parallelism: 1, completions: 1, script: stampLine("start", dir, name)}.manifest())
	if err != nil {
		return smallResult{err: err}
	}
	start := time.Now()
	if err := e.c.client.submit(ctx, objs); err != nil {
		return smallResult{err: err}
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	lines, err := waitStampFile(wctx, filepath.Join(dir, name), 5*time.Millisecond)
	if err != nil {
		return smallResult{err: fmt.Errorf("pod of job %s: %w (%s)", name, err, e.c.client.describeJob(ctx, name))}
	}
	var complete time.Time
	err = poll(wctx, 20*time.Millisecond, "job "+name+" to complete", func() (bool, string) {
		j, err := e.c.client.job(wctx, name)
		if err != nil {
			return false, err.Error()
		}
		cond := jobFinished(j)
		if cond == nil {
			return false, "not finished"
		}
		complete = cond.GetLastTransitionTime().AsTime()
		return true, ""
	})
	if err != nil {
		return smallResult{err: err}
	}
	e.logger.Info("small job beside the huge one", "started", lines[0].at.Sub(start).Round(time.Millisecond), "complete", complete.Sub(start).Round(time.Millisecond))
	return smallResult{started: lines[0].at.Sub(start), complete: complete.Sub(start)}
}

// waitPodsStopped waits until no process runs under the agents beyond
// those in idle (their guards).
func waitPodsStopped(ctx context.Context, e *env, idle map[int]bool) error {
	return poll(ctx, 50*time.Millisecond, "the agents to stop every pod", func() (bool, string) {
		left := map[string]int{}
		for _, a := range e.c.agents {
			for _, p := range descendants(a.pid()) {
				if !idle[p.pid] {
					left[a.name]++
				}
			}
		}
		return len(left) == 0, fmt.Sprintf("pod processes left: %v", left)
	})
}

// podDirs counts the pod directories whose name starts with prefix in
// every agent's data directory.
func podDirs(e *env, prefix string) (int, error) {
	total := 0
	for _, a := range e.c.agents {
		entries, err := os.ReadDir(filepath.Join(a.dataDir, "pods"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		for _, d := range entries {
			if d.IsDir() && strings.HasPrefix(d.Name(), prefix) {
				total++
			}
		}
	}
	return total, nil
}

// leaderWatch counts how often the leader changes.
type leaderWatch struct {
	cancel  context.CancelFunc
	done    chan struct{}
	changes int
}

// watchLeaders asks the servers who leads every rssInterval and counts
// each change of leader (a moment without one is not a change by itself).
func watchLeaders(ctx context.Context, c *cluster) *leaderWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &leaderWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var last *node
		for {
			if l := c.leader(ctx); l != nil {
				if last != nil && l != last {
					w.changes++
				}
				last = l
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(rssInterval):
			}
		}
	}()
	return w
}

// stop ends the watch and returns the number of changes seen.
func (w *leaderWatch) stop() int {
	w.cancel()
	<-w.done
	return w.changes
}

// leaseExpiries counts the agents' "lease expired" log lines so far.
func leaseExpiries(c *cluster) (int, error) {
	n := 0
	for _, a := range c.agents {
		b, err := os.ReadFile(a.logPath)
		if err != nil {
			return 0, fmt.Errorf("read log of %s: %w", a.name, err)
		}
		n += bytes.Count(b, []byte("lease expired"))
	}
	return n, nil
}

// cleanUpHuge deletes the huge and the small Job after a failure, so that
// a failed repetition leaves no load behind.
func cleanUpHuge(ctx context.Context, e *env, names ...string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	for _, n := range names {
		errs = append(errs, e.c.client.delete(ctx, "job", n))
	}
	return errors.Join(errs...)
}
