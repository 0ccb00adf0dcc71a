package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// runCron runs an every-second CronJob (six fields) for -cron-seconds, then
// another across a leader kill halfway through.
func runCron(ctx context.Context, e *env) error {
	if err := cronPhase(ctx, e, false); err != nil {
		return err
	}
	return cronPhase(ctx, e, true)
}

// cronPhase measures, for each second the CronJob fired, from the
// scheduled second (the Job's name is <cronjob>-<seconds since epoch>) to
// the moment its pod's process started, and counts the seconds of the run
// that fired not at all or more than once.
func cronPhase(ctx context.Context, e *env, killLeader bool) error {
	c := e.c
	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	name, suffix := e.name("every-second"), ""
	if killLeader {
		name, suffix = e.name("every-second-kill"), " across leader kill"
	}
	tmpl := jobParams{parallelism: 1, completions: 1, script: stampLine("start", dir, "${JOBCLUSTER_JOB_NAME}")}
	objs, err := decode(cronManifest(name, "* * * * * *", false, tmpl))
	if err != nil {
		return err
	}
	created := time.Now()
	if err := c.client.submit(ctx, objs); err != nil {
		return err
	}
	run := time.Duration(e.cfg.cronSeconds) * time.Second
	var killed *node
	if killLeader {
		if err := sleep(ctx, run/2); err != nil {
			return err
		}
		leader, err := c.waitLeader(ctx)
		if err != nil {
			return err
		}
		e.logger.Info("killing leader", "node", leader.name)
		if _, err := c.kill(leader); err != nil {
			return err
		}
		killed = leader
		if err := sleep(ctx, run-run/2); err != nil {
			return err
		}
	} else if err := sleep(ctx, run); err != nil {
		return err
	}
	stopped := time.Now()
	suspended, err := decode(cronManifest(name, "* * * * * *", true, tmpl))
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := poll(wctx, 50*time.Millisecond, "suspend cronjob "+name, func() (bool, string) {
		err := c.client.apply(wctx, suspended)
		return err == nil, fmt.Sprint(err)
	}); err != nil {
		return err
	}

	// The window leaves out the seconds around creation and suspension.
	firstSec, lastSec := created.Unix()+2, stopped.Unix()-1
	lastJob := fmt.Sprintf("%s-%d", name, lastSec)
	if _, err := waitStampFile(wctx, dir+"/"+lastJob, 10*time.Millisecond); err != nil {
		e.logger.Warn("last second of the window did not fire", "job", lastJob, "err", err)
	}
	stamps, err := readStamps(dir)
	if err != nil {
		return err
	}
	fired := map[int64]int{}
	for job, lines := range stamps {
		sec, err := strconv.ParseInt(strings.TrimPrefix(job, name+"-"), 10, 64)
		if err != nil {
			return fmt.Errorf("job %s: not named <cronjob>-<seconds>: %w", job, err)
		}
		fired[sec] += len(lines)
		late := lines[0].at.Sub(time.Unix(sec, 0))
		if killLeader {
			e.add("scheduled second -> pod started"+suffix, "ms", millis(late))
		} else {
			e.add("scheduled second -> pod started", "ms", millis(late), below("median", 20), below("p99", 50))
		}
	}
	missed, doubled := 0, 0
	var missedSecs []int64
	for sec := firstSec; sec <= lastSec; sec++ {
		switch n := fired[sec]; {
		case n == 0:
			missed++
			missedSecs = append(missedSecs, sec)
		case n > 1:
			doubled++
		}
	}
	if missed > 0 {
		e.logger.Warn("seconds that did not fire", "cronjob", name, "seconds", missedSecs)
	}
	e.add("missed seconds"+suffix, "count", float64(missed), none())
	e.add("doubled seconds"+suffix, "count", float64(doubled), none())
	e.logger.Info("cron run", "cronjob", name, "window", lastSec-firstSec+1, "fired", len(fired), "missed", missed, "doubled", doubled)

	if err := c.client.delete(wctx, "cronjob", name); err != nil {
		return err
	}
	if killed == nil {
		return nil
	}
	if err := c.start(killed); err != nil {
		return err
	}
	return c.waitCaughtUp(wctx, killed)
}

// sleep waits for d or until ctx ends. The scenarios use it only to let
// time pass that is itself measured (a CronJob running, a server idling).
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
