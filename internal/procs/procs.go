// Package procs runs a server's Go code on one thread while it is nearly
// idle and on the runtime's default (a thread per CPU) once it is busy.
//
// An idle server wakes a hundred times a second for Raft's heartbeats,
// gossip and the agents' leases. With a thread per CPU, the runtime wakes
// an idle thread to look for work at each such wake, and on a virtual
// machine the switch costs more than the work. A busy server, applying a
// huge Job's pods, needs every CPU. So the process's own CPU time is
// sampled, and the decision (Policy.Step) widens at once when one thread
// is kept busy and narrows only after a quiet spell.
package procs

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"
)

// Policy says when to widen and narrow.
type Policy struct {
	// Interval is the time between two samples of the CPU time used.
	Interval time.Duration
	// Up is the CPU use of one interval, in cores, at or above which a
	// narrow process is widened.
	Up float64
	// Down is the CPU use under which a wide process counts as quiet.
	Down float64
	// Quiet is how long a wide process must stay quiet to be narrowed.
	Quiet time.Duration
}

// DefaultPolicy widens a process that kept one thread half busy for half
// a second, and narrows it after 10 s under a fifth of a core.
var DefaultPolicy = Policy{
	Interval: 500 * time.Millisecond,
	Up:       0.5,
	Down:     0.2,
	Quiet:    10 * time.Second,
}

// State is what the decision remembers between samples.
type State struct {
	// Wide is true while the process runs on the runtime's default.
	Wide bool
	// QuietFor is how long a wide process has stayed under Policy.Down.
	QuietFor time.Duration
}

// Step decides from one sample: used is the CPU time the process used
// over elapsed wall time.
func (p Policy) Step(s State, used, elapsed time.Duration) State {
	if elapsed <= 0 {
		return s
	}
	cores := used.Seconds() / elapsed.Seconds()
	if !s.Wide {
		if cores >= p.Up {
			return State{Wide: true}
		}
		return s
	}
	if cores >= p.Down {
		return State{Wide: true}
	}
	s.QuietFor += elapsed
	if s.QuietFor >= p.Quiet {
		return State{}
	}
	return s
}

// Govern applies p to this process until ctx is done, starting on one
// thread (a server that starts busy, restoring a large snapshot, is widened
// within an interval), and restores the runtime's default when it returns.
// It does nothing when GOMAXPROCS is set in the environment, which then
// stays the operator's choice, or when the runtime's default is one
// thread already.
func Govern(ctx context.Context, p Policy, logger *slog.Logger) {
	if os.Getenv("GOMAXPROCS") != "" || runtime.GOMAXPROCS(0) <= 1 {
		return
	}
	apply := func(wide bool) {
		if wide {
			runtime.SetDefaultGOMAXPROCS()
		} else {
			runtime.GOMAXPROCS(1)
		}
		logger.Debug("go threads set", "gomaxprocs", runtime.GOMAXPROCS(0))
	}
	apply(false)
	ticker := time.NewTicker(p.Interval)
	defer ticker.Stop()
	run(ctx, p, time.Now(), ticker.C, cpuTime, apply)
	runtime.SetDefaultGOMAXPROCS()
}

// run samples cpu from start and at each tick, and calls apply whenever
// the decision changes, starting narrow.
func run(ctx context.Context, p Policy, start time.Time, ticks <-chan time.Time, cpu func() time.Duration, apply func(wide bool)) {
	var s State
	last, lastCPU := start, cpu()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticks:
			used := cpu()
			next := p.Step(s, used-lastCPU, now.Sub(last))
			if next.Wide != s.Wide {
				apply(next.Wide)
			}
			s = next
			last, lastCPU = now, used
		}
	}
}

// cpuTime is the CPU time this process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
