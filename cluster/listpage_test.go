package cluster

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestListPageTakesTheItemsAfterItsTokenUpToItsLimit(t *testing.T) {
	keys := []string{"a", "b", "c", "d"}
	for _, tt := range []struct {
		name      string
		limit     int64
		after     string
		want      string
		wantAfter string // where the next page starts; "" when none follows
	}{
		{"no limit takes all", 0, "", "a,b,c,d", ""},
		{"a limit above the count takes all", 5, "", "a,b,c,d", ""},
		{"a limit of the count takes all, nothing follows", 4, "", "a,b,c,d", ""},
		{"a first page", 2, "", "a,b", "b"},
		{"the next page", 2, "b", "c,d", ""},
		{"after a key between", 2, "bb", "c,d", ""},
		{"after the last key", 2, "d", "", ""},
		{"one at a time", 1, "a", "b", "b"},
	} {
		p := &listPage{limit: tt.limit, after: tt.after}
		for _, k := range keys {
			if !p.add(k, &api.Object{Kind: &api.Object_Node{Node: &api.Node{Metadata: &api.ObjectMeta{Name: k}}}}) {
				break
			}
		}
		var took []string
		for _, o := range p.items {
			took = append(took, api.NameOf(o))
		}
		if got := strings.Join(took, ","); got != tt.want {
			t.Errorf("%s: took %q, want %q", tt.name, got, tt.want)
		}
		next, err := newListPage(tt.limit, p.token())
		if err != nil {
			t.Fatalf("%s: the page's own token %q: %v", tt.name, p.token(), err)
		}
		if next.after != tt.wantAfter {
			t.Errorf("%s: the next page starts after %q, want %q", tt.name, next.after, tt.wantAfter)
		}
	}
}

func TestListPageRefusesABadLimitOrToken(t *testing.T) {
	for _, tt := range []struct {
		limit int64
		token string
		want  string
	}{
		{-1, "", "limit: -1 is negative"},
		{10, "not a token!", `continue: "not a token!" is not a token a list answered; list again without it`},
	} {
		if _, err := newListPage(tt.limit, tt.token); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("limit %d, continue %q: %v, want %q", tt.limit, tt.token, err, tt.want)
		}
	}
}

func TestListInPagesGivesEachItemOnce(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	s := c.leader()
	cl := client(t, s)
	ctx := testCtx(t)
	var objs []*api.Object
	for i := range 7 {
		objs = append(objs, withLabels(testJob(fmt.Sprintf("j%d", i)), map[string]string{"odd": fmt.Sprint(i%2 == 1)}))
	}
	for i := range 3 {
		objs = append(objs, inNamespace(testJob(fmt.Sprintf("t%d", i)), "team-a"))
	}
	wide := testJob("wide")
	three := int32(3)
	wide.GetJob().Spec.Parallelism, wide.GetJob().Spec.Completions = &three, &three
	submit(t, s, append(objs, wide)...)
	// With no node, the controller creates the pods and reports them
	// unschedulable.
	wait.For(t, "the Jobs' pods", func() (bool, string) {
		n := len(s.fsm.State().Pods())
		return n == 13, fmt.Sprintf("%d pods", n)
	})

	names := func(items []*api.Object) []string {
		var out []string
		for _, o := range items {
			out = append(out, api.NameOf(o))
		}
		return out
	}
	// pages follows the continue tokens; between changes the pages after
	// the first.
	pages := func(req *api.ListRequest, between func()) (got []string, sizes []int) {
		for first := true; ; first = false {
			resp, err := cl.List(ctx, req)
			if err != nil {
				t.Fatalf("list %+v: %v", req, err)
			}
			got = append(got, names(resp.GetItems())...)
			sizes = append(sizes, len(resp.GetItems()))
			if resp.GetContinue() == "" {
				return got, sizes
			}
			if first && between != nil {
				between()
			}
			req = proto.Clone(req).(*api.ListRequest)
			req.Continue = resp.GetContinue()
		}
	}
	for _, tt := range []struct {
		name      string
		req       *api.ListRequest
		wantSizes string
	}{
		{"every Job", &api.ListRequest{Kind: "jobs", Limit: 3}, "3,3,3,2"},
		{"one namespace's Jobs", &api.ListRequest{Kind: "jobs", Namespace: "default", Limit: 3}, "3,3,2"},
		{"the other namespace's", &api.ListRequest{Kind: "jobs", Namespace: "team-a", Limit: 2}, "2,1"},
		{"Jobs by label", &api.ListRequest{Kind: "jobs", LabelSelector: "odd=true", Limit: 2}, "2,1"},
		{"Jobs by field", &api.ListRequest{Kind: "jobs", FieldSelector: "metadata.name!=j0", Limit: 5}, "5,5"},
		{"every pod", &api.ListRequest{Kind: "pods", Limit: 5}, "5,5,3"},
		{"one Job's pods", &api.ListRequest{Kind: "pods", Namespace: "default", LabelSelector: "job-name=wide", Limit: 2}, "2,1"},
		{"unfinished pods", &api.ListRequest{Kind: "pods", FieldSelector: "status.phase!=Succeeded,status.phase!=Failed", Limit: 5}, "5,5,3"},
		{"a page as large as the list", &api.ListRequest{Kind: "jobs", Namespace: "team-a", Limit: 3}, "3"},
	} {
		whole := proto.Clone(tt.req).(*api.ListRequest)
		whole.Limit = 0
		want, _ := pages(whole, nil)
		got, sizes := pages(tt.req, nil)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: pages gave %v, the whole list %v", tt.name, got, want)
		}
		if s := fmt.Sprint(sizes); s != "["+strings.ReplaceAll(tt.wantSizes, ",", " ")+"]" {
			t.Errorf("%s: pages of %v, want %s", tt.name, sizes, tt.wantSizes)
		}
	}

	// Each page reads the state of its time: what is created before the
	// cursor is not seen, what is deleted after it is not either, and
	// nothing comes twice.
	got, _ := pages(&api.ListRequest{Kind: "jobs", Namespace: "default", Limit: 3}, func() {
		submit(t, s, testJob("a"), testJob("z"))
		if _, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "jobs", Name: "j5"}); err != nil {
			t.Fatal(err)
		}
	})
	if want := "j0,j1,j2,j3,j4,j6,wide,z"; strings.Join(got, ",") != want {
		t.Errorf("pages across changes gave %v, want %s", got, want)
	}

	// Events are few and listed whole.
	resp, err := cl.List(ctx, &api.ListRequest{Kind: "events", Limit: 1})
	if err != nil || len(resp.GetItems()) < 2 || resp.GetContinue() != "" {
		t.Errorf("events with limit 1: %v, %d items, continue %q; want them all and no continue", err, len(resp.GetItems()), resp.GetContinue())
	}
	_, err = cl.List(ctx, &api.ListRequest{Kind: "jobs", Limit: -5})
	wantStatus(t, "a negative limit", err, codes.InvalidArgument, "limit: -5 is negative")
	_, err = cl.List(ctx, &api.ListRequest{Kind: "jobs", Continue: "%%%"})
	wantStatus(t, "a token no list gave", err, codes.InvalidArgument, `continue: "%%%" is not a token a list answered`)
}
