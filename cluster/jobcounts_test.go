package cluster

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	checkJobPages(t, cl)
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

// checkJobPages: a page of Jobs is the Jobs kept, whole, in the table's
// order, the failed one (frozen) among them, and bad input is refused
// naming the field.
func checkJobPages(t *testing.T, cl api.ControlClient) {
	t.Helper()
	ctx := testCtx(t)
	page := func(req *api.JobPageRequest) *api.JobPageResponse {
		t.Helper()
		resp, err := cl.JobPage(ctx, req)
		if err != nil {
			t.Fatalf("JobPage %v: %v", req, err)
		}
		return resp
	}
	names := func(resp *api.JobPageResponse) string {
		var out []string
		for _, j := range resp.GetJobs() {
			out = append(out, j.GetMetadata().GetName())
		}
		return fmt.Sprintf("%v page %d/%d total %d all %d in %v", out, resp.GetPage(), resp.GetPages(), resp.GetTotal(), resp.GetAll(), resp.GetNamespaces())
	}
	if got, want := names(page(&api.JobPageRequest{Sort: "name", Page: 2, PageSize: 2})), "[waiting] page 2/2 total 3 all 3 in [default]"; got != want {
		t.Errorf("page 2 by name: %s, want %s", got, want)
	}
	failed := page(&api.JobPageRequest{State: "Failed", PageSize: 10})
	if got, want := names(failed), "[late] page 1/1 total 1 all 3 in [default]"; got != want {
		t.Errorf("Failed Jobs: %s, want %s", got, want)
	}
	whole, err := cl.Get(ctx, &api.GetRequest{Kind: "jobs", Name: "late"})
	if err != nil {
		t.Fatalf("get late: %v", err)
	}
	if len(failed.GetJobs()) == 1 && !proto.Equal(failed.GetJobs()[0], whole.GetJob()) {
		t.Errorf("the page's late differs from the Job got:\n%v\n%v", failed.GetJobs()[0], whole.GetJob())
	}
	if got, want := names(page(&api.JobPageRequest{LabelSelector: "app=none", PageSize: 10})), "[] page 1/1 total 0 all 0 in []"; got != want {
		t.Errorf("Jobs labeled app=none: %s, want %s", got, want)
	}
	for req, want := range map[*api.JobPageRequest]string{
		{Sort: "size", PageSize: 10}:         `sort: "size" is not a column`,
		{State: "Done", PageSize: 10}:        `state: "Done" is not a Job state`,
		{PageSize: 5000}:                     "page_size: 5000 is out of range; give 1 to 1000",
		{LabelSelector: "a in", PageSize: 1}: `unable to parse requirement: "a in"`,
	} {
		_, err := cl.JobPage(ctx, req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), want) {
			t.Errorf("JobPage %v: %v, want InvalidArgument saying %q", req, err, want)
		}
	}
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
	// A page names every namespace's Jobs, whichever namespace it shows.
	page, open := aclNeeds(api.Control_JobPage_FullMethodName, &api.JobPageRequest{Namespace: "team-a"})
	if open || !cmp.Equal(page, list) {
		t.Errorf("JobPage needs %v (open %v), want %v", page, open, list)
	}
}
