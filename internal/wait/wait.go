// Package wait is the one way tests wait for a condition: poll until it
// holds or a deadline passes, then fail with the last reason observed.
// Tests never sleep and then assert.
package wait

import (
	"testing"
	"time"
)

// Default is the deadline of For: long enough for a loaded 2-core machine
// running the race detector, short enough to fail a hung test quickly.
const Default = 20 * time.Second

// interval is how often the condition is polled.
const interval = 10 * time.Millisecond

// For polls cond until it holds, failing t after Default with the last
// reason cond gave.
func For(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	Within(t, Default, what, cond)
}

// Within polls cond until it holds, failing t after timeout with the last
// reason cond gave.
func Within(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if err := Until(time.Now().Add(timeout), cond); err != nil {
		t.Fatalf("timed out after %s waiting for %s; last observed: %v", timeout, what, err)
	}
}

// Until polls cond until it holds or deadline passes; it returns nil once
// cond holds, else an error carrying cond's last reason. It suits code
// that is not a test (a benchmark, a helper returning errors).
func Until(deadline time.Time, cond func() (bool, string)) error {
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		if !time.Now().Before(deadline) {
			return &TimeoutError{Last: why}
		}
		time.Sleep(interval)
	}
}

// TimeoutError reports a condition that did not hold in time.
type TimeoutError struct {
	// Last is the reason the condition gave on its final poll.
	Last string
}

func (e *TimeoutError) Error() string { return e.Last }
