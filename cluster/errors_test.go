package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
)

func TestToStatusMapsErrorsToCodes(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"no error", nil, codes.OK, ""},
		{"already a status", status.Error(codes.PermissionDenied, "no"), codes.PermissionDenied, "no"},
		{"missing object", fmt.Errorf("job %q: %w", "a", fsm.ErrNotFound), codes.NotFound, `job "a"`},
		{"name taken", fmt.Errorf("job %q: %w", "a", fsm.ErrAlreadyExists), codes.AlreadyExists, `job "a"`},
		{"changed meanwhile", fmt.Errorf("job: %w", fsm.ErrConflict), codes.Aborted, "job"},
		{"no leader yet", ErrNoLeader, codes.Unavailable, "no leader elected yet; the cluster is electing a leader, retry in a moment"},
		{"leadership lost", ErrNotLeader, codes.Unavailable, "retry in a moment"},
		{"raft not leader", raft.ErrNotLeader, codes.Unavailable, "retry in a moment"},
		{"raft leadership lost while committing", raft.ErrLeadershipLost, codes.Unavailable, "outcome unknown: leadership lost while committing log; the cluster is electing a leader, check before you retry"},
		{"leadership moving", raft.ErrLeadershipTransferInProgress, codes.Unavailable, "retry in a moment"},
		{"timed out", fmt.Errorf("outcome unknown: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "outcome unknown"},
		{"cancelled", context.Canceled, codes.Canceled, "canceled"},
		{"invalid field", fmt.Errorf("job: %w", &api.FieldError{Type: api.ErrorTypeRequired, Field: "spec.template"}), codes.InvalidArgument, "spec.template"},
		{"anything else", fmt.Errorf("disk on fire"), codes.Internal, "disk on fire"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := status.Convert(toStatus(tc.err))
			if st.Code() != tc.code || (tc.msg != "" && !strings.Contains(st.Message(), tc.msg)) {
				t.Errorf("toStatus(%v) = %s %q, want %s containing %q", tc.err, st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

func TestKindMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{name: "unknown kind", err: badKind("deployments"),
			want: `rpc error: code = InvalidArgument desc = the server doesn't have a resource type "deployments": use jobs, cronjobs, pods, nodes, events, configmaps or secrets`},
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
