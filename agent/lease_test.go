package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLease(t *testing.T) {
	tests := []struct {
		name string
		// answer is the server's answer to a heartbeat sent at the given
		// time since start: a lease duration, or an error.
		answer func(at time.Duration) (time.Duration, error)
		// slow makes failing heartbeats hang until their deadline.
		slow bool
		want []string
	}{
		{
			name:   "heartbeats keep the lease",
			answer: func(time.Duration) (time.Duration, error) { return 0, nil },
			want:   nil,
		},
		{
			name:   "lease runs out a TTL after the last successful heartbeat was sent",
			answer: failBetween(1500*time.Millisecond, time.Hour, 0),
			want:   []string{"lost at 4s"},
		},
		{
			name:   "lease is held again when heartbeats succeed again",
			answer: failBetween(1500*time.Millisecond, 6*time.Second, 0),
			want:   []string{"lost at 4s", "renewed at 6s"},
		},
		{
			name:   "heartbeats that hang count as failed",
			answer: failBetween(1500*time.Millisecond, time.Hour, 0),
			slow:   true,
			want:   []string{"lost at 4s"},
		},
		{
			name:   "lease duration from the server replaces the default",
			answer: failBetween(time.Second, time.Hour, 600*time.Millisecond),
			want:   []string{"lost at 1.4s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var mu sync.Mutex
				var events []string
				record := func(what string) {
					mu.Lock()
					defer mu.Unlock()
					events = append(events, fmt.Sprintf("%s at %s", what, time.Since(start)))
				}
				l := &lease{
					heartbeat: func(ctx context.Context) (time.Duration, error) {
						d, err := tt.answer(time.Since(start))
						if err != nil && tt.slow {
							<-ctx.Done()
							return 0, ctx.Err()
						}
						return d, err
					},
					ttl:     3 * time.Second,
					lost:    func() { record("lost") },
					renewed: func() { record("renewed") },
					logger:  testLogger(t),
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					l.run(ctx)
				}()
				time.Sleep(10 * time.Second)
				cancel()
				<-done
				if diff := cmp.Diff(tt.want, events); diff != "" {
					t.Errorf("lease events (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// failBetween answers heartbeats sent in [from, to) with an error and the
// others with the lease duration d.
func failBetween(from, to, d time.Duration) func(time.Duration) (time.Duration, error) {
	return func(at time.Duration) (time.Duration, error) {
		if at >= from && at < to {
			return 0, errors.New("unreachable")
		}
		return d, nil
	}
}
