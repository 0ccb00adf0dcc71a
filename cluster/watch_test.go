package cluster

import (
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// A list then a watch from the list's index misses no change; a watch
// from an index older than the server remembers is told to list again.
func TestWatchFromAListLosesNothing(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	s := c.leader()
	cl := client(t, s)
	ctx := testCtx(t)
	if _, err := cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{testJob("a")}}); err != nil {
		t.Fatal(err)
	}
	list, err := cl.List(ctx, &api.ListRequest{Kind: "job"})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := cl.Watch(ctx, &api.WatchRequest{Kind: "job", ResourceVersion: list.GetIndex()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{testJob("b")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "job", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for !(seen["ADDED b"] && seen["DELETED a"]) && time.Now().Before(deadline) {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		seen[ev.GetType()+" "+api.NameOf(ev.GetObject())] = true
		if ev.GetType() == "ADDED" && api.NameOf(ev.GetObject()) == "a" {
			t.Error("the watch repeated job a, which the list had")
		}
	}
	if !seen["ADDED b"] || !seen["DELETED a"] {
		t.Fatalf("watch saw %v, want b added and a deleted", seen)
	}
}
