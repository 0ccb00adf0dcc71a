package transport

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

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

// A request over MaxRequestBytes is refused before the service sees it,
// whoever sends it; answers may still be large.
func TestServerRefusesRequestsOverTheLimit(t *testing.T) {
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
	// A client of its own, so that its send limit does not stop the
	// request first.
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	big := &api.SubmitRequest{Namespace: strings.Repeat("x", api.MaxRequestBytes+1)}
	_, err = api.NewControlClient(cc).Submit(ctx, big)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("submit of %d bytes: %v, want ResourceExhausted", api.MaxRequestBytes+1, err)
	}
	// And our own clients do not send it at all.
	own, err := Dial(lis.Addr().String(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { own.Close() })
	if _, err := api.NewControlClient(own).Submit(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("submit of %d bytes through Dial: %v, want ResourceExhausted", api.MaxRequestBytes+1, err)
	}
}
