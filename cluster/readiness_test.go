package cluster

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestReadTarget(t *testing.T) {
	tests := []struct {
		name  string
		state replayState
		want  uint64
	}{
		{name: "a fresh start before any leader waits for the log on disk",
			state: replayState{committedCommand: 0, startIndex: 900}, want: 900},
		{name: "a commit index learned from a leader is what counts",
			state: replayState{committedCommand: 1200, startIndex: 900, leaderKnown: true}, want: 1200},
		{name: "an uncommitted tail of the log on disk does not hold reads once a leader speaks",
			state: replayState{committedCommand: 850, startIndex: 900, leaderKnown: true}, want: 850},
		{name: "without a leader, the log on disk still counts after commits seen before",
			state: replayState{committedCommand: 850, startIndex: 900}, want: 900},
		{name: "once caught up, only what is known to be committed counts",
			state: replayState{committedCommand: 1500, startIndex: 900, caughtUp: true}, want: 1500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readTarget(tt.state); got != tt.want {
				t.Errorf("readTarget = %d, want %d", got, tt.want)
			}
		})
	}
}

// A server cut off from the others that has not replayed the log it
// started with neither answers from its older state nor claims to be
// empty: after a short wait it says it is catching up and how far it is.
func TestReadsWaitForTheLogTheServerKnows(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	leader := c.leader()
	submit(t, leader, testJob("kept"))
	s := c.follower()
	wait.For(t, "the follower to hold the job", func() (bool, string) {
		return s.fsm.State().Job("", "kept") != nil, "not yet"
	})
	for i, n := range c.nodes {
		if n.server != nil && n.server != s {
			c.stop(i)
		}
	}
	wait.For(t, "the follower to know it has no leader", func() (bool, string) {
		return s.raft.Leader() == "", "still follows " + string(s.raft.Leader())
	})
	// As after a restart on a log whose last command lies ahead of what
	// the state machine applied, with no leader to say what is committed.
	applied := s.fsm.AppliedIndex()
	s.caughtUp.Store(false)
	s.startIndex.Store(applied + 1000)
	cl := client(t, s)
	ctx := testCtx(t)
	start := time.Now()
	_, err := cl.List(ctx, &api.ListRequest{Kind: "jobs"})
	wantStatus(t, "list while catching up", err, codes.Unavailable,
		fmt.Sprintf("server %s is catching up (applied %d of %d)", s.Name(), applied, applied+1000))
	if waited := time.Since(start); waited < readWait {
		t.Errorf("refused after %s, want a wait of %s for the state machine first", waited, readWait)
	}
	_, err = cl.Get(ctx, &api.GetRequest{Kind: "jobs", Name: "kept"})
	wantStatus(t, "get while catching up", err, codes.Unavailable, "is catching up")

	// Once the state machine has applied that far, reads are answered.
	s.startIndex.Store(applied)
	resp, err := cl.List(ctx, &api.ListRequest{Kind: "jobs"})
	if err != nil || len(resp.GetItems()) != 1 {
		t.Fatalf("list once caught up: %v, %d items", err, len(resp.GetItems()))
	}
}
