package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// runSubmit submits one-pod Jobs one after another, each once the previous
// one's pod has started (and -submit-gap after it), and measures from the
// start of the Submit call to the moment the pod's own process wrote the
// time.
func runSubmit(ctx context.Context, e *env) error {
	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	var names []string
	for i := range e.cfg.submitJobs {
		name := fmt.Sprintf("submit-%d-%d", e.iteration+1, i+1)
		objs, err := decode(jobParams{name: name, parallelism: 1, completions: 1, script: stampLine("start", dir, name)}.manifest())
		if err != nil {
			return err
		}
		if err := sleep(ctx, e.cfg.submitGap); err != nil {
			return err
		}
		start := time.Now()
		if err := e.c.client.submit(ctx, objs); err != nil {
			return err
		}
		accepted := time.Since(start)
		names = append(names, name)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		lines, err := waitStampFile(wctx, filepath.Join(dir, name), time.Millisecond)
		cancel()
		if err != nil {
			return fmt.Errorf("pod of job %s: %w (%s)", name, err, e.c.client.describeJob(ctx, name))
		}
		e.add("submit -> pod started", "ms", millis(lines[0].at.Sub(start)), below("median", 50))
		e.add("submit call returned", "ms", millis(accepted))
	}
	if err := addAgentStarts(ctx, e, names); err != nil {
		return err
	}
	return e.c.client.deleteAll(ctx, "job", names)
}

// addAgentStarts adds, for each Job's pod, the time from its agent taking
// it (the pod's startTime) to its container starting (the container's
// startedAt), both on the agent's clock: the agent's share of "submit ->
// pod started", less the command's own. It waits for the pods' final
// status, which carries both.
func addAgentStarts(ctx context.Context, e *env, names []string) error {
	for _, name := range names {
		var took, started time.Time
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := poll(wctx, 20*time.Millisecond, "the final status of job "+name+"'s pod", func() (bool, string) {
			pods, err := e.c.client.list(wctx, "pod", api.LabelJobName+"="+name)
			if err != nil {
				return false, err.Error()
			}
			for _, o := range pods {
				st := o.GetPod().GetStatus()
				if cs := st.GetContainerStatuses(); len(cs) > 0 && cs[0].GetState().GetTerminated() != nil {
					took, started = st.GetStartTime().AsTime(), cs[0].GetState().GetTerminated().GetStartedAt().AsTime()
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d pods, none finished", len(pods))
		})
		cancel()
		if err != nil {
			return err
		}
		e.add("agent took the pod -> container started", "ms", millis(started.Sub(took)))
	}
	return nil
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func seconds(d time.Duration) float64 { return d.Seconds() }
