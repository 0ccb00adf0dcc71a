package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestLeasesResetOnlyDelaysExpiry(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name    string
		renewed []time.Duration
		reset   time.Duration
		want    time.Duration
	}{
		{"never renewed counts from the reset", nil, time.Second, time.Second},
		{"a renewal before the reset counts from the reset", []time.Duration{500 * time.Millisecond}, time.Second, time.Second},
		{"a renewal after the reset counts from the renewal", []time.Duration{2 * time.Second}, time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLeases(time.Second)
			for _, r := range tt.renewed {
				if r < tt.reset {
					l.renew("a1", "", at(r))
				}
			}
			l.reset(at(tt.reset))
			for _, r := range tt.renewed {
				if r >= tt.reset {
					l.renew("a1", "", at(r))
				}
			}
			if got := l.lastRenewal("a1"); !got.Equal(at(tt.want)) {
				t.Errorf("lastRenewal = %s after start, want %s", got.Sub(t0), tt.want)
			}
		})
	}
}

// A dead agent's guard stops its node only if that very agent process
// made the last renewal: a notice from an older process, from an agent
// that never said which it was, or one a later renewal overtook, changes
// nothing, so it cannot fail the pods of an agent started since.
func TestLeasesStopOnlyForTheIncarnationThatRenewedLast(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		stop              bool
		incarnation       string
		at                time.Duration
		wantStopCountsFor bool
	}
	tests := []struct {
		name        string
		steps       []step
		wantStopped bool
	}{
		{"the renewing process died", []step{{false, "i1", 0, false}, {true, "i1", time.Second, true}}, true},
		{"an earlier process's notice after a restart", []step{{false, "i1", 0, false}, {false, "i2", time.Second, false}, {true, "i1", 2 * time.Second, false}}, false},
		{"a renewal after the notice undoes it", []step{{false, "i1", 0, false}, {true, "i1", time.Second, true}, {false, "i2", 2 * time.Second, false}}, false},
		{"an agent that names no incarnation", []step{{false, "", 0, false}, {true, "", time.Second, false}}, false},
		{"never renewed with this leader", []step{{true, "i1", time.Second, false}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLeases(time.Second)
			l.reset(t0)
			for _, s := range tt.steps {
				if !s.stop {
					l.renew("a1", s.incarnation, t0.Add(s.at))
					continue
				}
				if got := l.stop("a1", s.incarnation, t0.Add(s.at)); got != s.wantStopCountsFor {
					t.Errorf("stop by %q at %v counted = %v, want %v", s.incarnation, s.at, got, s.wantStopCountsFor)
				}
			}
			if _, got := l.stoppedNodes()["a1"]; got != tt.wantStopped {
				t.Errorf("a1 stopped = %v, want %v", got, tt.wantStopped)
			}
		})
	}
}

func TestLeasesWakeTheNodeControllerWhenARenewalUndoesAStop(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLeases(time.Second)
	l.reset(t0)
	l.renew("a1", "i1", t0)
	steps := []struct {
		what      string
		do        func()
		wantWoken bool
	}{
		{"a renewal soon after the last", func() { l.renew("a1", "i1", t0.Add(100*time.Millisecond)) }, false},
		{"a stop", func() { l.stop("a1", "i1", t0.Add(200*time.Millisecond)) }, true},
		{"a renewal that undoes the stop, soon after the last", func() { l.renew("a1", "i1", t0.Add(300*time.Millisecond)) }, true},
		{"the next renewal", func() { l.renew("a1", "i1", t0.Add(400*time.Millisecond)) }, false},
	}
	for _, st := range steps {
		ch := l.renewedAfterGap.wait()
		st.do()
		select {
		case <-ch:
			if !st.wantWoken {
				t.Errorf("%s woke the node controller", st.what)
			}
		default:
			if st.wantWoken {
				t.Errorf("%s did not wake the node controller: the node would read stopped until its next wake", st.what)
			}
		}
	}
}

// TestHeartbeatRenewsOnlyOnTheLeader checks what an agent's successful
// heartbeat means: whichever server it asked, the leader renewed the lease
// after the request was sent; a server that does not lead never renews in
// its own name.
func TestHeartbeatRenewsOnlyOnTheLeader(t *testing.T) {
	servers, _ := startServers(t, 3)
	leader := leaderOf(t, servers)
	var follower *Server
	for _, s := range servers {
		if s != leader {
			follower = s
		}
	}
	wait.For(t, "the follower to know the leader", func() (bool, string) {
		addr, _ := follower.raft.LeaderWithID()
		return addr != "", "no leader known"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	sent := time.Now()
	resp, err := client(t, follower).Heartbeat(ctx, &api.HeartbeatRequest{Node: "a1"})
	if err != nil {
		t.Fatalf("heartbeat through a follower: %v", err)
	}
	if got := time.Duration(resp.GetLeaseMillis()) * time.Millisecond; got != leader.timing.LeaseTTL {
		t.Errorf("lease granted %s, want the leader's %s", got, leader.timing.LeaseTTL)
	}
	if got := leader.leases.lastRenewal("a1"); got.Before(sent) {
		t.Errorf("leader's last renewal of a1 %s before the heartbeat was sent", sent.Sub(got))
	}
	if renewed(follower, "a1") {
		t.Errorf("the follower recorded a renewal of its own")
	}

	// A request already forwarded once, reaching a server that does not
	// lead, fails rather than being answered or forwarded again.
	fwd := metadata.AppendToOutgoingContext(ctx, forwardedKey, "elsewhere")
	_, err = client(t, follower).Heartbeat(fwd, &api.HeartbeatRequest{Node: "a2"})
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), ErrNotLeader.Error()) {
		t.Errorf("forwarded heartbeat to a follower: err = %v, want Unavailable %q", err, ErrNotLeader)
	}
	if renewed(leader, "a2") {
		t.Errorf("a2 renewed on the leader, though its heartbeat failed")
	}
}

// renewed tells whether s recorded a renewal of node's lease.
func renewed(s *Server, node string) bool {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	_, ok := s.leases.last[node]
	return ok
}
