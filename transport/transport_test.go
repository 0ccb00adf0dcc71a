package transport

import (
	"context"
	"fmt"
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
	"github.com/jobcluster/jobcluster/internal/wait"
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
	addr := serveControl(t, Config{}, bigMembers{})

	var dialled atomic.Int32
	cfg := Config{Dialer: func(ctx context.Context, addr string) (net.Conn, error) {
		dialled.Add(1)
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}
	cc, err := Dial(addr, cfg)
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
	addr := serveControl(t, Config{}, bigMembers{})
	// A client of its own, so that its send limit does not stop the
	// request first.
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
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
	own, err := Dial(addr, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { own.Close() })
	if _, err := api.NewControlClient(own).Submit(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("submit of %d bytes through Dial: %v, want ResourceExhausted", api.MaxRequestBytes+1, err)
	}
}

// pingCounter reads one direction of an HTTP/2 connection as it passes
// and counts the PING frames (not their acknowledgements) in it.
type pingCounter struct {
	skip  int // the client's connection preface, before any frame
	buf   []byte
	pings atomic.Int32
}

func (p *pingCounter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	if p.skip > 0 {
		n := min(p.skip, len(p.buf))
		p.buf, p.skip = p.buf[n:], p.skip-n
	}
	for len(p.buf) >= 9 {
		size := int(p.buf[0])<<16 | int(p.buf[1])<<8 | int(p.buf[2])
		if len(p.buf) < 9+size {
			break
		}
		const framePing, flagAck = 0x6, 0x1
		if p.buf[3] == framePing && p.buf[4]&flagAck == 0 {
			p.pings.Add(1)
		}
		p.buf = p.buf[9+size:]
	}
	return len(b), nil
}

// countedConn feeds what it reads and writes to two pingCounters.
type countedConn struct {
	net.Conn
	in, out *pingCounter
}

func (c *countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	_, _ = c.in.Write(b[:n])
	return n, err
}

func (c *countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	_, _ = c.out.Write(b[:n])
	return n, err
}

// Every call between jobcluster endpoints, a lease renewal every half
// second for one, costs no flow-control round trip of its own: gRPC's
// bandwidth estimator, which pings the peer after data arrives, is off on
// both ends, so an idle cluster wakes less.
func TestCallsSendNoFlowControlPings(t *testing.T) {
	addr := serveControl(t, Config{}, smallMembers{})

	in, out := &pingCounter{}, &pingCounter{skip: len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")}
	cc, err := Dial(addr, Config{Dialer: func(ctx context.Context, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: conn, in: in, out: out}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := api.NewControlClient(cc)
	for range 20 {
		if _, err := client.Members(ctx, &api.MembersRequest{}); err != nil {
			t.Fatalf("members: %v", err)
		}
	}
	if n := out.pings.Load(); n != 0 {
		t.Errorf("the client sent %d pings over 20 calls, want none", n)
	}
	if n := in.pings.Load(); n != 0 {
		t.Errorf("the server sent %d pings over 20 calls, want none", n)
	}
}

// smallMembers answers Members with one member.
type smallMembers struct {
	api.UnimplementedControlServer
}

func (smallMembers) Members(context.Context, *api.MembersRequest) (*api.MembersResponse, error) {
	return &api.MembersResponse{Items: []*api.Member{{Name: "s1"}}}, nil
}

// TestChannelTriesARestartedPeerAgainWithinHalfASecond calls a peer that
// keeps failing for three seconds, then serves it again on the same
// address: the channel must keep trying at most about half a second apart
// (gRPC's default backoff had grown to 1.6 s by then, and grows to two
// minutes), and reach the server soon after it is back, as agents must
// reach a restarted leader within their lease.
func TestChannelTriesARestartedPeerAgainWithinHalfASecond(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	// The peer accepts each connection and closes it at once, a failed
	// attempt for gRPC, so the attempts can be counted.
	attempts := make(chan time.Time, 1000)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			attempts <- time.Now()
			conn.Close()
		}
	}()
	cc, err := Dial(addr, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	client := api.NewControlClient(cc)
	call := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := client.Members(ctx, &api.MembersRequest{})
		return err
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if err := call(); err == nil {
			t.Fatal("a call succeeded against a peer that closes every connection")
		}
	}
	lis.Close()
	<-accepted
	close(attempts)
	var times []time.Time
	for at := range attempts {
		times = append(times, at)
	}
	if len(times) < 2 {
		t.Fatalf("%d connection attempts in 3 s, want several", len(times))
	}
	var longest time.Duration
	for i := 1; i < len(times); i++ {
		longest = max(longest, times[i].Sub(times[i-1]))
	}
	if longest > 750*time.Millisecond {
		t.Errorf("the channel waited %s between two attempts to connect (%d attempts in 3 s); a restarted peer would go unreached that long", longest.Round(time.Millisecond), len(times))
	}

	back := time.Now()
	serveControlOn(t, addr, Config{}, smallMembers{})
	wait.Within(t, 5*time.Second, "the peer, serving again, to be reached", func() (bool, string) {
		err := call()
		return err == nil, fmt.Sprint(err)
	})
	if took := time.Since(back); took > 1500*time.Millisecond {
		t.Errorf("the peer, serving again, was reached %s later, want within 1.5 s", took.Round(time.Millisecond))
	}
}
