package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// runSubmit submits one-pod Jobs one after another, each once the previous
// one's pod has started, and measures from the start of the Submit call to
// the moment the pod's own process wrote the time.
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
	return e.c.client.deleteAll(ctx, "job", names)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func seconds(d time.Duration) float64 { return d.Seconds() }
