package transport

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// bigMembers answers Members with a message larger than gRPC's default
// 4 MiB limit.
type bigMembers struct {
	api.UnimplementedControlServer
}

func (bigMembers) Members(context.Context, *api.MembersRequest) (*api.MembersResponse, error) {
	return &api.MembersResponse{Items: []*api.Member{{Name: strings.Repeat("x", 5<<20)}}}, nil
}

func TestDialAndServerCarryLargeMessages(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{})
	api.RegisterControlServer(srv, bigMembers{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})

	var dialled atomic.Int32
	cfg := Config{Dialer: func(ctx context.Context, addr string) (net.Conn, error) {
		dialled.Add(1)
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}
	cc, err := Dial(lis.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := api.NewControlClient(cc).Members(ctx, &api.MembersRequest{})
	if err != nil {
		t.Fatalf("members: %v", err)
	}
	if got := len(resp.GetItems()[0].GetName()); got != 5<<20 {
		t.Errorf("name length = %d, want %d", got, 5<<20)
	}
	if dialled.Load() == 0 {
		t.Error("the configured dialer was never used")
	}
}

func TestDialRefusesBadTarget(t *testing.T) {
	if _, err := Dial("dns://a/b/c:%%", Config{}); err == nil {
		t.Fatal("Dial of a malformed target succeeded")
	}
}
