package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestHeartbeatTimeout(t *testing.T) {
	const base = 500 * time.Millisecond
	for _, tc := range []struct {
		name    string
		current time.Duration
		leader  string
		want    time.Duration
	}{
		{"this server leads", base, "s1", 750 * time.Millisecond},
		{"it still leads", 750 * time.Millisecond, "s1", 750 * time.Millisecond},
		{"another server leads", base, "s2", base},
		{"another leads after this one", 750 * time.Millisecond, "s2", base},
		{"no leader after this one led", 750 * time.Millisecond, "", 750 * time.Millisecond},
		{"no leader after another led", base, "", base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := heartbeatTimeout(base, tc.current, "s1", tc.leader); got != tc.want {
				t.Errorf("heartbeatTimeout(%v, %v, s1, %q) = %v, want %v", base, tc.current, tc.leader, got, tc.want)
			}
		})
	}
}

// TestLeaderPacesHeartbeatsSlower checks that the leader sends Raft's
// heartbeats at its longer pace while its followers keep the configured
// timeout, and that both move with leadership.
func TestLeaderPacesHeartbeatsSlower(t *testing.T) {
	servers, _ := startServers(t, 3)
	base := DefaultTiming.RaftHeartbeat
	paced := func(leader *Server) (bool, string) {
		var got string
		ok := true
		for _, s := range servers {
			want := base
			if s == leader {
				want = leaderHeartbeatTimeout(base)
			}
			hb := s.raft.ReloadableConfig().HeartbeatTimeout
			got += fmt.Sprintf("%s %v (want %v); ", s.Name(), hb, want)
			ok = ok && hb == want
		}
		return ok, got
	}

	first := leaderOf(t, servers)
	wait.For(t, "the leader to pace its heartbeats, its followers not", func() (bool, string) { return paced(first) })

	if err := first.raft.LeadershipTransfer().Error(); err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	var next *Server
	wait.For(t, "another leader", func() (bool, string) {
		next = leaderOf(t, servers)
		return next != first, "leader " + next.Name()
	})
	wait.For(t, "the new leader to pace its heartbeats, the old one to wait as a follower", func() (bool, string) { return paced(next) })
	if got := first.raft.Stats()["term"]; got != next.raft.Stats()["term"] {
		t.Errorf("old leader's term %s, new leader's %s: the old leader stood again", got, next.raft.Stats()["term"])
	}
}
