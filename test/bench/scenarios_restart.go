package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

// serving is what one server answered to reads after a restart.
type serving struct {
	at     time.Duration // restart -> first read answered rightly, 0 until then
	wrong  int           // reads answered "not found", empty or short
	last   string        // the last answer, for errors
	sample string        // a wrong answer, for the log
}

// runRestartAll builds -finished-jobs finished Jobs (as the footprint
// scenario does, in the first repetition only), then kills every server
// at once with SIGKILL, as a power loss would, starts them again from
// their data and measures until each one answers reads rightly and until
// a new Job is accepted and its pod runs. A read answered as if the store
// were empty or short (a known Job "not found", fewer Jobs under a known
// label than there are) is counted: there must be none.
func runRestartAll(ctx context.Context, e *env) error {
	jobs := e.cfg.finishedJobs
	if jobs == 0 {
		e.logger.Info("skipped: -finished-jobs is 0")
		return nil
	}
	c := e.c
	if e.iteration == 0 {
		if err := buildFinishedJobs(ctx, e); err != nil {
			return err
		}
	}
	firstJob := finishedJobName(1, 1)
	lastBatch := finishedBatches(jobs)
	lastLabel, lastSize := finishedLabel(lastBatch), finishedBatchSize(jobs, lastBatch)

	// Every server holds all of it, and has had the chance to snapshot, as
	// in the footprint scenario's follower restart.
	for _, s := range c.servers {
		if err := c.waitCaughtUp(ctx, s); err != nil {
			return err
		}
	}
	if !e.cfg.smoke {
		if err := sleep(ctx, idleFor); err != nil {
			return err
		}
	}
	for _, s := range c.servers {
		size, err := dirBytes(s.raftDir())
		if err != nil {
			return err
		}
		e.add(fmt.Sprintf("Raft data dir before the restart, %d finished Jobs", jobs), "MiB", mib(size))
	}

	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	name := e.name("after-restart")
	objs, err := decode(jobParams{name: name, parallelism: 1, completions: 1, script: stampLine("start", dir, name)}.manifest())
	if err != nil {
		return err
	}

	e.logger.Info("killing every server")
	for _, s := range c.servers {
		if _, err := c.kill(s); err != nil {
			return err
		}
	}
	restarted := time.Now()
	for _, s := range c.servers {
		if err := c.start(s); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	// Each server is read on its own, concurrently, until all serve; a
	// wrong answer counts whenever it comes.
	results := make([]*serving, len(c.servers))
	var mu sync.Mutex
	allServing := make(chan struct{})
	var allOnce sync.Once
	pending := len(c.servers)
	var wg sync.WaitGroup
	for i, s := range c.servers {
		results[i] = &serving{}
		wg.Add(1)
		go func(r *serving, s *node) {
			defer wg.Done()
			for {
				ok, wrong, answer := readAfterRestart(wctx, c, s, firstJob, lastLabel, lastSize)
				mu.Lock()
				r.last = answer
				if wrong {
					r.wrong++
					r.sample = answer
				}
				if ok && r.at == 0 {
					r.at = time.Since(restarted)
					if pending--; pending == 0 {
						allOnce.Do(func() { close(allServing) })
					}
				}
				mu.Unlock()
				select {
				case <-allServing:
					return
				case <-wctx.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}(results[i], s)
	}

	var accepted time.Duration
	submitErr := poll(wctx, 10*time.Millisecond, "a server to accept job "+name, func() (bool, string) {
		err := c.client.submit(wctx, objs)
		if err == nil || alreadyExists(err) {
			accepted = time.Since(restarted)
			return true, ""
		}
		return false, err.Error()
	})
	wg.Wait()
	if submitErr != nil {
		return submitErr
	}
	var slowest time.Duration
	wrong := 0
	for i, s := range c.servers {
		r := results[i]
		if r.wrong > 0 {
			e.logger.Error("a server answered reads as if Jobs were missing after the restart", "node", s.name, "wrong", r.wrong, "answer", r.sample)
		}
		wrong += r.wrong
		if r.at == 0 {
			return fmt.Errorf("%s: no right answer to reads %s after the restart; last answer: %s", s.name, time.Since(restarted).Round(time.Second), r.last)
		}
		slowest = max(slowest, r.at)
		e.add(fmt.Sprintf("restart of every server -> that server serving reads, %d finished Jobs", jobs), "s", seconds(r.at))
	}
	e.add(fmt.Sprintf("restart of every server -> every server serving reads, %d finished Jobs", jobs), "s", seconds(slowest), below("max", 10))
	e.add("reads answered not found, empty or short after the restart", "count", float64(wrong), none())
	e.add(fmt.Sprintf("restart of every server -> new Job accepted, %d finished Jobs", jobs), "s", seconds(accepted), below("max", 10))
	lines, err := waitStampFile(wctx, filepath.Join(dir, name), 5*time.Millisecond)
	if err != nil {
		return fmt.Errorf("pod of job %s: %w (%s)", name, err, c.client.describeJob(ctx, name))
	}
	e.add(fmt.Sprintf("restart of every server -> new Job's pod started, %d finished Jobs", jobs), "s", seconds(lines[0].at.Sub(restarted)))
	e.logger.Info("every server serving after the restart", "slowest", slowest.Round(time.Millisecond), "accepted", accepted.Round(time.Millisecond))
	return c.client.delete(ctx, "job", name)
}

// readAfterRestart asks one server, and no other, for a known Job and for
// the Jobs of a known label. ok is both answered rightly; wrong is an
// answer that denies what the store holds. Errors (refused while catching
// up, not yet listening) are neither.
func readAfterRestart(ctx context.Context, c *cluster, s *node, job, label string, want int) (ok, wrong bool, answer string) {
	c.client.conns[s.rpcAddr].ResetConnectBackoff()
	cl := c.client.at(s.rpcAddr)
	actx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	obj, err := cl.Get(actx, &api.GetRequest{Kind: "job", Name: job})
	switch {
	case status.Code(err) == codes.NotFound:
		return false, true, fmt.Sprintf("get job %s: %v", job, err)
	case err != nil:
		return false, false, fmt.Sprintf("get job %s: %v", job, err)
	case obj.GetJob().GetMetadata().GetName() != job:
		return false, true, fmt.Sprintf("get job %s: answered %v", job, obj)
	}
	resp, err := cl.List(actx, &api.ListRequest{Kind: "job", LabelSelector: "bench=" + label})
	switch {
	case err != nil:
		return false, false, fmt.Sprintf("list jobs bench=%s: %v", label, err)
	case len(resp.GetItems()) < want:
		return false, true, fmt.Sprintf("list jobs bench=%s: %d of %d", label, len(resp.GetItems()), want)
	}
	return true, false, fmt.Sprintf("job %s and %d jobs bench=%s", job, len(resp.GetItems()), label)
}
