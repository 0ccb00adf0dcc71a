package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// outcome is how a fake server handles one heartbeat.
type outcome int

const (
	// renews: the leader renews the lease (directly or forwarded).
	renews outcome = iota
	// fails at once, as a server with no leader or a refused connection.
	fails
	// hangs until the caller gives up, as a server that went silent.
	hangs
)

// answerer decides how server handles a heartbeat sent at the given time
// since the start.
type answerer func(server string, at time.Duration) outcome

const testTTL = 3 * time.Second

func TestLease(t *testing.T) {
	tests := []struct {
		name   string
		answer answerer
		// granted is the lease duration the servers grant, zero for the
		// agent's own.
		granted time.Duration
		want    []string
		// maxGap bounds the time between two renewals, when set.
		maxGap time.Duration
	}{
		{
			name:   "heartbeats keep the lease",
			answer: everyone(renews),
			want:   nil,
			maxGap: renewEvery(testTTL),
		},
		{
			name: "an election of 1.3 s with heartbeats failing meanwhile",
			// The leader s1 dies just after a renewal and stays silent;
			// the others have no leader to forward to until the election
			// ends.
			answer: func(server string, at time.Duration) outcome {
				switch {
				case at <= 2*time.Second:
					return renews
				case server == "s1":
					return hangs
				case at < 3300*time.Millisecond:
					return fails
				}
				return renews
			},
			want: nil,
		},
		{
			name: "a 2.9 s outage right after a renewal, a success just before expiry",
			answer: func(_ string, at time.Duration) outcome {
				if at > 2*time.Second && at < 4900*time.Millisecond {
					return fails
				}
				return renews
			},
			want: nil,
		},
		{
			name:   "a partition runs the lease out a TTL after the last successful heartbeat was sent",
			answer: failsFrom(1500*time.Millisecond, time.Hour, fails),
			want:   []string{"lost at 4s"},
		},
		{
			name:   "a partition where heartbeats hang runs the lease out as well",
			answer: failsFrom(1500*time.Millisecond, time.Hour, hangs),
			want:   []string{"lost at 4s"},
		},
		{
			name:   "lease is held again when heartbeats succeed again",
			answer: failsFrom(1500*time.Millisecond, 6*time.Second, fails),
			want:   []string{"lost at 4s", "renewed at 6s"},
		},
		{
			name: "a server that hangs does not delay renewal when another answers",
			answer: func(server string, at time.Duration) outcome {
				if server == "s1" {
					return hangs
				}
				return renews
			},
			want: nil,
			// The first attempt waits one hedge delay for s1; every later
			// one asks s2, which answered, first.
			maxGap: renewEvery(testTTL) + hedgeAfter(testTTL),
		},
		{
			name: "the server that answered goes silent",
			answer: func(server string, at time.Duration) outcome {
				if server == "s1" && at > 2*time.Second {
					return hangs
				}
				return renews
			},
			want:   nil,
			maxGap: renewEvery(testTTL) + hedgeAfter(testTTL),
		},
		{
			name:    "lease duration from the server replaces the default",
			answer:  failsFrom(time.Second, time.Hour, fails),
			granted: 600 * time.Millisecond,
			want:    []string{"lost at 1.5s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				since := func() time.Duration { return time.Since(start) }
				var mu sync.Mutex
				var events []string
				var lostAt, renewals []time.Duration
				record := func(what string) {
					mu.Lock()
					defer mu.Unlock()
					// To a tenth of a second: retries after a failure come
					// at fractions of what is left of the lease. The exact
					// time of a loss is checked below.
					events = append(events, fmt.Sprintf("%s at %s", what, since().Round(100*time.Millisecond)))
					if what == "lost" {
						lostAt = append(lostAt, since())
					}
				}
				l := &lease{
					servers: func() []string { return []string{"s3", "s1", "s2"} },
					heartbeat: func(ctx context.Context, server string) (time.Duration, error) {
						if err := ctx.Err(); err != nil {
							return 0, err
						}
						switch tt.answer(server, since()) {
						case fails:
							return 0, errors.New("no leader")
						case hangs:
							<-ctx.Done()
							return 0, ctx.Err()
						}
						mu.Lock()
						renewals = append(renewals, since())
						mu.Unlock()
						return tt.granted, nil
					},
					ttl:     testTTL,
					lost:    func() { record("lost") },
					renewed: func() { record("renewed") },
					logger:  testLogger(t),
				}
				runLease(l, 10*time.Second)

				if diff := cmp.Diff(tt.want, events); diff != "" {
					t.Errorf("lease events (-want +got):\n%s", diff)
				}
				ttl := testTTL
				if tt.granted > 0 {
					ttl = tt.granted
				}
				// The servers give the node up (leaseMargin) after its last
				// renewal; the agent must have fenced itself by then, and
				// not before its own lease ran out.
				for _, at := range lostAt {
					i, _ := slices.BinarySearch(renewals, at)
					if i == 0 {
						t.Fatalf("lost at %s before any renewal", at)
					}
					if last := renewals[i-1]; at != last+ttl {
						t.Errorf("lost at %s, want exactly one lease (%s) after the last renewal at %s", at, ttl, last)
					}
				}
				if tt.maxGap > 0 {
					// The lease starts out held, as if renewed at the start.
					held := append([]time.Duration{0}, renewals...)
					for i := 1; i < len(held); i++ {
						if gap := held[i] - held[i-1]; gap > tt.maxGap {
							t.Errorf("renewals at %s and %s: %s apart, want at most %s", held[i-1], held[i], gap, tt.maxGap)
						}
					}
				}
			})
		})
	}
}

// Once a heartbeat's answer named the leader, renewals go to it first.
func TestLeaseRenewsWithTheLeaderFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var asked []string
		l := &lease{
			servers: func() []string { return []string{"s1", "s2", "s3"} },
			heartbeat: func(ctx context.Context, server string) (time.Duration, error) {
				mu.Lock()
				defer mu.Unlock()
				asked = append(asked, server)
				return 0, nil
			},
			leader:  func() string { return "s2" },
			ttl:     testTTL,
			lost:    func() {},
			renewed: func() {},
			logger:  testLogger(t),
		}
		runLease(l, 3*time.Second)
		if len(asked) < 5 || asked[0] != "s1" || slices.ContainsFunc(asked[1:], func(s string) bool { return s != "s2" }) {
			t.Errorf("servers asked %v, want s1 (the first known) and then the leader s2 only", asked)
		}
	})
}

// runLease runs l for d of (synctest's) time.
func runLease(l *lease, d time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx)
	}()
	time.Sleep(d)
	cancel()
	<-done
}

// everyone answers every heartbeat with o.
func everyone(o outcome) answerer {
	return func(string, time.Duration) outcome { return o }
}

// failsFrom answers heartbeats sent in [from, to) with o and renews the
// others.
func failsFrom(from, to time.Duration, o outcome) answerer {
	return func(_ string, at time.Duration) outcome {
		if at >= from && at < to {
			return o
		}
		return renews
	}
}

func TestServerOrder(t *testing.T) {
	tests := []struct {
		name      string
		servers   []string
		preferred string
		want      []string
	}{
		{"no server answered yet", []string{"b", "c", "a"}, "", []string{"a", "b", "c"}},
		{"the one that answered first, then the ones after it", []string{"b", "c", "a"}, "b", []string{"b", "c", "a"}},
		{"the one that answered is gone", []string{"b", "c", "a"}, "d", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, serverOrder(tt.servers, tt.preferred)); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}
