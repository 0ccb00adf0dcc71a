package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/test/testcluster"
	"github.com/jobcluster/jobcluster/transport"
)

// TestFollowerReadsItsOwnWrites writes through a follower and reads back
// at once through the same follower, as `kubectl apply` then `kubectl get`
// do: every read sees the write just acknowledged, although the follower
// forwards writes to the leader and answers reads from its own state.
func TestFollowerReadsItsOwnWrites(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3})
	leader := c.WaitForLeader()
	follower := c.Servers[0]
	if follower == leader {
		follower = c.Servers[1]
	}
	waitFollowing(t, c, follower)
	cc, err := transport.Dial(follower.RPCAddr, transport.Config{}, pki.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	client := api.NewControlClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const writes = 40
	stale := 0
	for i := range writes {
		schedule := fmt.Sprintf("%d %d * * *", i%60, i%24)
		objs, err := api.DecodeManifests([]byte(fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata: {name: rw}
spec:
  schedule: %q
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, command: ["true"]}]
`, schedule)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Submit(ctx, &api.SubmitRequest{Objects: objs, Apply: true})
		if err != nil || resp.GetResults()[0].GetError() != "" {
			t.Fatalf("write %d: %v %v", i, err, resp)
		}
		obj, err := client.Get(ctx, &api.GetRequest{Kind: "cronjob", Name: "rw"})
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if got := obj.GetCronJob().GetSpec().GetSchedule(); got != schedule {
			stale++
			t.Errorf("read %d after its write: schedule %q, want %q", i, got, schedule)
		}
	}
	if stale > 0 {
		t.Errorf("%d of %d reads through the follower missed the write just acknowledged", stale, writes)
	}
}
