package procs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestStep(t *testing.T) {
	p := Policy{Interval: time.Second, Up: 0.5, Down: 0.2, Quiet: 3 * time.Second}
	narrow, wide := State{}, State{Wide: true}
	for _, tc := range []struct {
		name          string
		s             State
		used, elapsed time.Duration
		want          State
	}{
		{"narrow and idle stays narrow", narrow, 10 * time.Millisecond, time.Second, narrow},
		{"narrow under Up stays narrow", narrow, 499 * time.Millisecond, time.Second, narrow},
		{"narrow at Up widens", narrow, 500 * time.Millisecond, time.Second, wide},
		{"narrow on more than a core widens", narrow, 1500 * time.Millisecond, time.Second, wide},
		{"wide and busy stays wide", wide, 900 * time.Millisecond, time.Second, wide},
		{"wide and quiet starts counting", wide, 10 * time.Millisecond, time.Second, State{Wide: true, QuietFor: time.Second}},
		{"quiet long enough narrows", State{Wide: true, QuietFor: 2 * time.Second}, 10 * time.Millisecond, time.Second, narrow},
		{"busy again starts the count afresh", State{Wide: true, QuietFor: 2 * time.Second}, 300 * time.Millisecond, time.Second, wide},
		{"between Down and Up a wide process stays wide", State{Wide: true, QuietFor: 2 * time.Second}, 200 * time.Millisecond, time.Second, wide},
		{"no time elapsed decides nothing", State{Wide: true, QuietFor: 2 * time.Second}, 0, 0, State{Wide: true, QuietFor: 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Step(tc.s, tc.used, tc.elapsed); got != tc.want {
				t.Errorf("Step(%+v, %v, %v) = %+v, want %+v", tc.s, tc.used, tc.elapsed, got, tc.want)
			}
		})
	}
}

// TestRunAppliesChanges drives run with its own ticks and CPU readings: it
// applies each change of the decision once, and nothing in between.
func TestRunAppliesChanges(t *testing.T) {
	p := Policy{Up: 0.5, Down: 0.2, Quiet: 2 * time.Second}
	// CPU used in each second after the start. run reads the CPU once as
	// it starts and once at each tick.
	perSecond := []time.Duration{900 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 0, 600 * time.Millisecond, 0}
	readings := []time.Duration{0}
	for _, u := range perSecond {
		readings = append(readings, readings[len(readings)-1]+u)
	}
	cpu := func() time.Duration {
		r := readings[0]
		readings = readings[1:]
		return r
	}
	ticks := make(chan time.Time)
	var applied []bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx, p, time.Unix(0, 0), ticks, cpu, func(wide bool) { applied = append(applied, wide) })
	}()
	for i := range perSecond {
		ticks <- time.Unix(int64(i+1), 0)
	}
	cancel()
	<-done
	// It starts narrow: the busy first second widens it, two quiet ones
	// narrow it, an idle one changes nothing, and a busy one widens again.
	if want := []bool{true, false, true}; fmt.Sprint(applied) != fmt.Sprint(want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
}

// TestGovernFollowsTheProcessCPU runs Govern on this test process: it
// runs on one thread while the process idles, widens to the runtime's
// default while a goroutine keeps a thread busy, and restores the default
// when it stops.
func TestGovernFollowsTheProcessCPU(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	p := Policy{Interval: 50 * time.Millisecond, Up: 0.3, Down: 0.1, Quiet: 300 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Govern(ctx, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() {
		cancel()
		<-done
		if got := runtime.GOMAXPROCS(0); got != def {
			t.Errorf("GOMAXPROCS after Govern returned = %d, want the default %d", got, def)
		}
	}()
	if def <= 1 {
		<-done
		if got := runtime.GOMAXPROCS(0); got != def {
			t.Errorf("on one CPU Govern changed GOMAXPROCS to %d", got)
		}
		return
	}

	threads := func(want int) func() (bool, string) {
		return func() (bool, string) {
			got := runtime.GOMAXPROCS(0)
			return got == want, fmt.Sprintf("GOMAXPROCS %d", got)
		}
	}
	wait.For(t, "one thread while idle", threads(1))

	var stop atomic.Bool
	burned := make(chan struct{})
	go func() {
		defer close(burned)
		for !stop.Load() {
		}
	}()
	wait.For(t, "every thread while busy", threads(def))
	stop.Store(true)
	<-burned
	wait.For(t, "one thread once idle again", threads(1))
}
