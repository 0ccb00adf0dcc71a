package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/jobcluster/jobcluster/api"
)

// starBit marks a robfig/cron field written as "*".
const starBit = 1 << 63

// ParseSchedule parses a CronJob schedule like Kubernetes does (five fields
// or a robfig/cron descriptor such as "@hourly" or "@every 30s"), and also
// six fields with leading seconds. hasSeconds reports whether the schedule
// can fire more than once a minute (six fields, or @every not a whole number
// of minutes), so its Jobs are named by seconds. Times are computed in the
// location of the time handed to Next.
//
// A schedule at fixed wall-clock times (no wildcard in its minute or hour
// field) keeps to cron's daylight-saving rule, unlike plain robfig/cron: a
// time skipped when clocks spring forward fires at the jump, and a time
// repeated when they fall back fires once.
func ParseSchedule(spec string) (cron.Schedule, bool, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, false, fmt.Errorf("parse schedule %q: TZ is not supported, use spec.timeZone", spec)
	}
	fields := strings.Fields(spec)
	sched, err := api.ParseSchedule(spec)
	if err != nil {
		return nil, false, err
	}
	hasSeconds := len(fields) == 6 && !strings.HasPrefix(spec, "@")
	switch s := sched.(type) {
	case cron.ConstantDelaySchedule:
		hasSeconds = s.Delay%time.Minute != 0
	case *cron.SpecSchedule:
		if fixedWallClock(s, fields) {
			sched = wallClock{s}
		}
	}
	return sched, hasSeconds, nil
}

// fixedWallClock reports whether a schedule fires at fixed wall-clock times:
// neither its minute nor its hour field is a wildcard ("*", "*/5", "?").
func fixedWallClock(s *cron.SpecSchedule, fields []string) bool {
	if strings.HasPrefix(fields[0], "@") {
		return s.Minute&starBit == 0 && s.Hour&starBit == 0
	}
	minute, hour := fields[0], fields[1]
	if len(fields) == 6 {
		minute, hour = fields[1], fields[2]
	}
	wild := func(f string) bool { return strings.HasPrefix(f, "*") || strings.HasPrefix(f, "?") }
	return !wild(minute) && !wild(hour)
}

// wallClock is a fixed-time schedule that neither misses nor doubles a run
// across daylight-saving changes, like Vixie cron.
type wallClock struct{ spec *cron.SpecSchedule }

// Next returns the first firing after t.
func (w wallClock) Next(t time.Time) time.Time {
	for {
		next := w.spec.Next(t)
		if jump := w.skippedFiring(t, next); !jump.IsZero() {
			return jump
		}
		if next.IsZero() || !repeatedWallClock(next) {
			return next
		}
		t = next
	}
}

// skippedFiring returns the instant clocks sprang forward, between t and
// next, when the schedule matches a wall-clock time that the jump skipped.
func (w wallClock) skippedFiring(t, next time.Time) time.Time {
	if next.IsZero() {
		return time.Time{}
	}
	for cur := t; ; {
		_, end := cur.ZoneBounds()
		if end.IsZero() || end.After(next) {
			return time.Time{}
		}
		_, before := end.Add(-time.Nanosecond).Zone()
		_, after := end.Zone()
		if after > before {
			// The skipped wall-clock times are the instants [end,
			// end+jump) read with the offset in force before the jump.
			old := *w.spec
			old.Location = time.FixedZone("", before)
			jump := time.Duration(after-before) * time.Second
			if f := old.Next(end.Add(-time.Nanosecond)); !f.IsZero() && f.Before(end.Add(jump)) {
				return end
			}
		}
		cur = end
	}
}

// repeatedWallClock reports whether t's wall-clock time already happened
// once, earlier, before clocks fell back.
func repeatedWallClock(t time.Time) bool {
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, before := start.Add(-time.Nanosecond).Zone()
	_, offset := t.Zone()
	return before > offset && t.Sub(start) < time.Duration(before-offset)*time.Second
}

// lastFireTime returns the latest time the schedule fires in (after, now],
// or zero. It bisects rather than walking every missed time, so long
// downtimes of frequent schedules stay cheap.
func lastFireTime(s cron.Schedule, after, now time.Time) time.Time {
	if d, ok := s.(cron.ConstantDelaySchedule); ok {
		// @every counts from the earliest time: after+d, after+2d, ...
		first := d.Next(after)
		if first.After(now) {
			return time.Time{}
		}
		return first.Add(now.Sub(first) / d.Delay * d.Delay)
	}
	due := func(t time.Time) bool {
		n := s.Next(t)
		return !n.IsZero() && !n.After(now)
	}
	if !due(after) {
		return time.Time{}
	}
	lo, hi := after, now // due(lo) holds, due(hi) does not
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if due(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	last := s.Next(lo)
	for due(last) {
		last = s.Next(last)
	}
	return last
}

// missedMoreThan reports whether the schedule fires more than limit times
// in (after, now].
func missedMoreThan(s cron.Schedule, after, now time.Time, limit int) bool {
	t := after
	for range limit + 1 {
		if t = s.Next(t); t.IsZero() || t.After(now) {
			return false
		}
	}
	return true
}
