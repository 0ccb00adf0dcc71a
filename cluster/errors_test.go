package cluster

import (
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

func TestKindMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{name: "unknown kind", err: badKind("deployments"),
			want: `rpc error: code = InvalidArgument desc = the server doesn't have a resource type "deployments": use jobs, cronjobs, pods, nodes or events`},
		{name: "missing job", err: notFound(api.JobResource, "pi"),
			want: `rpc error: code = NotFound desc = jobs.batch "pi" not found`},
		{name: "missing pod", err: notFound(api.PodResource, "pi-x"),
			want: `rpc error: code = NotFound desc = pods "pi-x" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("message\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
	res := &api.SubmitResult{Kind: "CronJob", Name: "hello"}
	if got, want := alreadyExists(res), `cronjobs.batch "hello" already exists`; got != want {
		t.Errorf("alreadyExists = %q, want %q", got, want)
	}
}
