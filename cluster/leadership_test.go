package cluster

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// indexOf is the position of s among the cluster's servers.
func indexOf(c *testCluster, s *Server) int {
	for i, n := range c.nodes {
		if n.server == s {
			return i
		}
	}
	c.t.Fatalf("server %s is not running", s.Name())
	return -1
}

func TestWritesFollowTheLeaderAcrossAChange(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	first := c.leader()
	submit(t, c.follower(), testJob("before"))

	stopped := indexOf(c, first)
	c.stop(stopped)
	next := c.leader()
	submit(t, c.follower(), testJob("after"))
	wait.For(t, "both jobs on the running servers", func() (bool, string) {
		for _, s := range c.running() {
			if s.fsm.State().Job("", "before") == nil || s.fsm.State().Job("", "after") == nil {
				return false, s.Name() + " lacks a job"
			}
		}
		return true, ""
	})

	// Members shows each server's view of Raft, and the stopped one as
	// failed.
	resp, err := client(t, c.follower()).Members(testCtx(t), &api.MembersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	leaders := 0
	for _, m := range resp.GetItems() {
		got[m.GetName()] = m.GetStatus() + "/" + m.GetRaftState()
		if m.GetLeader() {
			leaders++
		}
	}
	if got[first.Name()] != "failed/" || got[next.Name()] != "alive/Leader" || leaders != 1 {
		t.Errorf("members = %v with %d leaders, want %s failed and %s leading", got, leaders, first.Name(), next.Name())
	}

	// The old leader comes back from its Raft state and catches up; every
	// replica holds the same state.
	back := c.start(stopped)
	wait.For(t, "the restarted server to catch up", func() (bool, string) {
		return back.fsm.State().Job("", "after") != nil, fmt.Sprintf("applied index %d", back.fsm.AppliedIndex())
	})
	if _, err := client(t, back).Get(testCtx(t), &api.GetRequest{Kind: "job", Name: "before"}); err != nil {
		t.Errorf("read from the restarted server: %v", err)
	}
	wait.For(t, "replicas agree", func() (bool, string) {
		d := stateDigest(c.running()[0])
		for _, s := range c.running()[1:] {
			if stateDigest(s) != d {
				return false, s.Name() + " differs"
			}
		}
		return true, ""
	})
}

func TestWritesWithoutALeaderAreUnavailable(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	survivor := c.follower()
	for _, s := range c.running() {
		if s != survivor {
			c.stop(indexOf(c, s))
		}
	}
	wait.For(t, "the survivor to refuse writes", func() (bool, string) {
		_, err := client(t, survivor).Submit(testCtx(t), &api.SubmitRequest{Objects: []*api.Object{testJob("lonely")}})
		return errCode(err) == codes.Unavailable && contains(err, "retry in a moment"), fmt.Sprint(err)
	})
	// Reads are still answered from the survivor's own state.
	if _, err := client(t, survivor).List(testCtx(t), &api.ListRequest{Kind: "jobs"}); err != nil {
		t.Errorf("list on the survivor: %v", err)
	}
}

func TestForwardingNamesAnUnreachableLeader(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	leader := c.leader()
	follower := c.follower()
	// Gossip advertises an address where nothing listens.
	dead := freeAddrs(t, testIP(), 1)[0]
	for _, m := range c.gossip.list() {
		if m.Name == leader.Name() {
			meta := clone(m.Meta)
			meta.RpcAddr = dead
			m.Meta = meta
			c.gossip.set(m)
		}
	}
	_, err := client(t, follower).Submit(testCtx(t), &api.SubmitRequest{Objects: []*api.Object{testJob("x")}})
	if errCode(err) != codes.Unavailable || !contains(err, "leader at "+dead+" unreachable") {
		t.Errorf("submit through the follower: %v, want the unreachable leader named", err)
	}
}

func TestAForwardedWriteIsNotForwardedAgain(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	follower := c.follower()
	ctx := metadata.AppendToOutgoingContext(testCtx(t), forwardedKey, "s9")
	_, err := client(t, follower).Delete(ctx, &api.DeleteRequest{Kind: "job", Name: "x"})
	if errCode(err) != codes.Unavailable || !contains(err, "not the leader") {
		t.Errorf("forwarded delete on a follower: %v, want not the leader", err)
	}
}

func TestLateServerIsAddedAndLeavingRemovesIt(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	leader := c.leader()
	late := c.addServer("s4")
	voters := func() map[string]bool {
		f := leader.raft.GetConfiguration()
		if err := f.Error(); err != nil {
			return nil
		}
		out := map[string]bool{}
		for _, srv := range f.Configuration().Servers {
			if srv.Suffrage == raft.Voter {
				out[string(srv.ID)] = true
			}
		}
		return out
	}
	wait.For(t, "s4 added as a voter", func() (bool, string) {
		v := voters()
		return v["s4"] && len(v) == 4, fmt.Sprint(v)
	})
	wait.For(t, "s4 catches up", func() (bool, string) {
		return late.fsm.AppliedIndex() >= leader.fsm.AppliedIndex(), fmt.Sprint(late.fsm.AppliedIndex())
	})
	late.Leave()
	c.stop(indexOf(c, late))
	wait.For(t, "s4 removed after leaving", func() (bool, string) {
		v := voters()
		return !v["s4"] && len(v) == 3, fmt.Sprint(v)
	})
	for _, m := range c.gossip.list() {
		if m.Name == "s4" && m.Status != gossip.StatusLeft {
			t.Errorf("s4 is %s in gossip, want left", m.Status)
		}
	}
}

func TestLeaderLeavingHandsOverLeadership(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	first := c.leader()
	first.Leave()
	wait.For(t, "another server to lead", func() (bool, string) {
		for _, s := range c.running() {
			if s != first && s.IsLeader() {
				return true, ""
			}
		}
		return false, "no other leader"
	})
	if first.IsLeader() {
		t.Error("the server that left still leads")
	}
}

func errCode(err error) codes.Code { return status.Code(err) }

// contains reports whether err's status message holds s.
func contains(err error, s string) bool {
	return err != nil && strings.Contains(status.Convert(err).Message(), s)
}
