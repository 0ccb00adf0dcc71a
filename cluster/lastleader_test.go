package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestNoLeaderAnswerNamesTheLastLeader(t *testing.T) {
	servers, _ := startServers(t, 2)
	leader := leaderOf(t, servers)
	follower := servers[0]
	if follower == leader {
		follower = servers[1]
	}
	term := leader.raft.CurrentTerm()
	cl := client(t, follower)
	leader.Shutdown()

	// One server of two cannot elect a leader: it answers that there is
	// none, once it has noticed the leader is gone.
	want := fmt.Sprintf("no leader elected yet (last leader %s, term %d); ", leader.Name(), term)
	wait.For(t, "the follower to answer that there is no leader", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "job", Name: "x"})
		st := status.Convert(err)
		return st.Code() == codes.Unavailable && strings.HasPrefix(st.Message(), want), st.String()
	})
}

func TestNoLeaderAnswerBeforeAnyLeader(t *testing.T) {
	cfg := testConfig(t, "s1", 0, t.TempDir()) // waits to be joined: never leads
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = client(t, s).Delete(ctx, &api.DeleteRequest{Kind: "job", Name: "x"})
	st := status.Convert(err)
	want := "no leader elected yet (none since s1 started, term 0); "
	if st.Code() != codes.Unavailable || !strings.HasPrefix(st.Message(), want) {
		t.Errorf("delete answered %v, want Unavailable starting %q", st, want)
	}
}
