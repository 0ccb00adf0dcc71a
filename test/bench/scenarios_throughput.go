package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// runThroughput runs one Job of many `true` pods to completion, then many
// one-pod Jobs submitted in one call, and measures how fast they finish.
func runThroughput(ctx context.Context, e *env) error {
	if err := bigJob(ctx, e); err != nil {
		return err
	}
	return manyJobs(ctx, e)
}

// bigJob measures pods completed per second from the start of the Submit
// call to the Job's Complete condition.
func bigJob(ctx context.Context, e *env) error {
	name := e.name("big")
	objs, err := decode(jobParams{name: name, parallelism: e.cfg.parallelism, completions: e.cfg.pods, command: []string{"true"}}.manifest())
	if err != nil {
		return err
	}
	cpuBefore, err := e.c.readCPU()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := e.c.client.submit(ctx, objs); err != nil {
		return err
	}
	var done time.Time
	lastCount, lastChange, lastLog := int32(-1), time.Now(), time.Now()
	err = poll(ctx, 100*time.Millisecond, "job "+name+" to complete", func() (bool, string) {
		j, err := e.c.client.job(ctx, name)
		if err != nil {
			return false, err.Error()
		}
		st := j.GetStatus()
		if cond := jobFinished(j); cond != nil {
			done = cond.GetLastTransitionTime().AsTime()
			return true, ""
		}
		if n := st.GetSucceeded(); n != lastCount {
			lastCount, lastChange = n, time.Now()
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			e.logger.Info("big job", "succeeded", st.GetSucceeded(), "active", st.GetActive(), "of", e.cfg.pods,
				"per_second", float64(st.GetSucceeded())/time.Since(start).Seconds())
		}
		if time.Since(lastChange) > time.Minute {
			done = time.Time{}
			return true, ""
		}
		return false, fmt.Sprintf("succeeded=%d active=%d failed=%d", st.GetSucceeded(), st.GetActive(), st.GetFailed())
	})
	if err != nil {
		return err
	}
	if done.IsZero() {
		return fmt.Errorf("job %s: no pod succeeded for a minute (%d of %d succeeded)", name, lastCount, e.cfg.pods)
	}
	if j, err := e.c.client.job(ctx, name); err == nil {
		if c := jobFinished(j); c.GetType() != "Complete" {
			return fmt.Errorf("job %s: %s %s: %s", name, c.GetType(), c.GetReason(), c.GetMessage())
		}
	}
	cpuAfter, err := e.c.readCPU()
	if err != nil {
		return err
	}
	took := done.Sub(start)
	e.add(fmt.Sprintf("%d-pod Job, parallelism %d", e.cfg.pods, e.cfg.parallelism), "pods/s", float64(e.cfg.pods)/took.Seconds(), atLeast("median", 500))
	e.add(fmt.Sprintf("%d-pod Job: submit -> Complete", e.cfg.pods), "s", seconds(took))
	e.addCPU(cpuBefore, cpuAfter, float64(e.cfg.pods), "pod")
	return e.c.client.delete(ctx, "job", name)
}

// manyJobs submits one-pod Jobs in a single Submit call and measures the
// time until every one of them is Complete.
func manyJobs(ctx context.Context, e *env) error {
	label := e.name("many")
	objs, names, err := oneLabelJobs(label, e.cfg.jobs)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := e.c.client.submit(ctx, objs); err != nil {
		return err
	}
	accepted := time.Since(start)
	last, err := e.c.client.waitJobsComplete(ctx, "bench="+label, e.cfg.jobs, time.Minute, func(done int) {
		e.logger.Debug("one-pod jobs", "complete", done, "of", e.cfg.jobs)
	})
	if err != nil {
		return err
	}
	took := last.Sub(start)
	e.add(fmt.Sprintf("%d one-pod Jobs in one call: all Complete", e.cfg.jobs), "s", seconds(took))
	e.add(fmt.Sprintf("%d one-pod Jobs in one call", e.cfg.jobs), "jobs/s", float64(e.cfg.jobs)/took.Seconds())
	e.add(fmt.Sprintf("Submit call of %d Jobs returned", e.cfg.jobs), "ms", millis(accepted))
	return e.c.client.deleteAll(ctx, "job", names)
}

// oneLabelJobs makes n one-pod Jobs of `true`, named <label>-1 ... <label>-n
// and labelled bench=<label>.
func oneLabelJobs(label string, n int) ([]*api.Object, []string, error) {
	var manifests []map[string]any
	var names []string
	for i := range n {
		name := fmt.Sprintf("%s-%d", label, i+1)
		names = append(names, name)
		manifests = append(manifests, jobParams{name: name, labels: map[string]string{"bench": label},
			parallelism: 1, completions: 1, command: []string{"true"}}.manifest())
	}
	objs, err := decode(manifests...)
	return objs, names, err
}
