package cluster

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/acl"
	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// TestJobCountsCountWhatIsKept: a follower's counts by state are what
// listing every Job and sorting it by state gives, a finished Job
// (frozen) among them, and they follow its deletion.
func TestJobCountsCountWhatIsKept(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	s := c.leader()
	ctx := testCtx(t)
	held := testJob("held")
	held.GetJob().Spec.Suspend = proto.Bool(true)
	late := testJob("late")
	late.GetJob().Spec.ActiveDeadlineSeconds = proto.Int64(1) // fails: no node runs it
	submit(t, s, testJob("waiting"), held, late)

	cl := client(t, c.follower())
	listed := func() map[string]int64 {
		resp, err := cl.List(ctx, &api.ListRequest{Kind: "jobs"})
		if err != nil {
			t.Fatalf("list jobs: %v", err)
		}
		out := map[string]int64{}
		for _, o := range resp.GetItems() {
			out[api.JobStateOf(o.GetJob()).String()]++
		}
		return out
	}
	want := map[string]int64{"Running": 1, "Suspended": 1, "Failed": 1}
	wait.For(t, "counts of a Job running, one suspended and one failed", func() (bool, string) {
		resp, err := cl.JobCounts(ctx, &api.JobCountsRequest{})
		if err != nil {
			return false, err.Error()
		}
		return cmp.Equal(resp.GetStates(), want) && cmp.Equal(listed(), want), fmt.Sprintf("counted %v, listed %v", resp.GetStates(), listed())
	})
	if _, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "jobs", Name: "late"}); err != nil {
		t.Fatalf("delete late: %v", err)
	}
	want = map[string]int64{"Running": 1, "Suspended": 1}
	wait.For(t, "the failed Job gone from the counts", func() (bool, string) {
		resp, err := cl.JobCounts(ctx, &api.JobCountsRequest{})
		if err != nil {
			return false, err.Error()
		}
		return cmp.Equal(resp.GetStates(), want) && resp.GetIndex() > 0, fmt.Sprintf("counted %v at %d", resp.GetStates(), resp.GetIndex())
	})
}

// TestJobCountsNeedReadInEveryNamespace: the counts cover every
// namespace, so a token needs what listing Jobs in all of them needs.
func TestJobCountsNeedReadInEveryNamespace(t *testing.T) {
	actions, open := aclNeeds(api.Control_JobCounts_FullMethodName, &api.JobCountsRequest{})
	if want := []acl.Action{{Capability: acl.Read}}; open || !cmp.Equal(actions, want) {
		t.Errorf("JobCounts needs %v (open %v), want %v", actions, open, want)
	}
	list, _ := aclNeeds(api.Control_List_FullMethodName, &api.ListRequest{Kind: "jobs"})
	if !cmp.Equal(actions, list) {
		t.Errorf("JobCounts needs %v, a list of every namespace's Jobs %v", actions, list)
	}
}
