package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownTimeout bounds a daemon's clean stop: past it, or on a second
// SIGINT or SIGTERM, the process exits at once. Nothing acknowledged is
// lost either way: Raft's log and the agent's journal are synced before
// anything is acknowledged.
const shutdownTimeout = 5 * time.Second

// stopWithin runs stop and returns when it has finished, when a second
// signal arrives, or after timeout, whichever comes first.
func stopWithin(timeout time.Duration, logger *slog.Logger, stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop()
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
	case s := <-sig:
		logger.Warn("second signal: stopping at once", "signal", s.String())
	case <-timer.C:
		logger.Warn("clean stop took too long: stopping at once", "timeout", timeout)
	}
}
