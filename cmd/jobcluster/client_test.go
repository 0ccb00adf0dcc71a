package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

func membersCall(got *int) call {
	return func(ctx context.Context, cl api.ControlClient) error {
		resp, err := cl.Members(ctx, &api.MembersRequest{})
		if err == nil {
			*got = len(resp.GetItems())
		}
		return err
	}
}

func TestClientFailsOver(t *testing.T) {
	fake := newFakeServer()
	fake.members = []*api.Member{{Name: "s1", Role: "server"}}
	good := serve(t, fake)

	tests := []struct {
		name  string
		addrs []string
	}{
		{name: "answering server first", addrs: []string{good}},
		{name: "nothing listens on the first address", addrs: []string{closedAddr(t), good}},
		{name: "first server accepts but never answers", addrs: []string{silentAddr(t), good}},
		{name: "two dead addresses before the answering one", addrs: []string{closedAddr(t), silentAddr(t), good}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newClient(strings.Join(tc.addrs, ","))
			if err != nil {
				t.Fatalf("newClient: %v", err)
			}
			defer c.Close()
			c.attempt = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			var got int
			if err := c.read(ctx, membersCall(&got)); err != nil {
				t.Fatalf("read: %v", err)
			}
			if got != 1 {
				t.Errorf("members answered = %d, want 1", got)
			}
		})
	}
}

func TestClientErrorsSayWhatHappened(t *testing.T) {
	closed, closed2 := closedAddr(t), closedAddr(t)
	silent, silent2 := silentAddr(t), silentAddr(t)
	hangUp := hangUpAddr(t)
	noLeader := newFakeServer()
	noLeader.noLeader = 1 << 30
	leaderless := serve(t, noLeader)

	const devHint = `; start one with "jobcluster dev" or point --addr / JOBCLUSTER_ADDR at a server`
	const busyHint = "; it may be overloaded: retry later, or ask another server with --addr"
	tests := []struct {
		name  string
		addrs []string
		want  string
	}{
		{name: "nothing listens", addrs: []string{closed},
			want: "no jobcluster server reachable at " + closed + " (dial tcp " + closed + ": connect: connection refused)" + devHint},
		{name: "nothing listens at any address", addrs: []string{closed, closed2},
			want: "no jobcluster server reachable at " + closed + "," + closed2 + " (dial tcp " + closed2 + ": connect: connection refused)" + devHint},
		{name: "server accepts but never answers", addrs: []string{silent},
			want: "server " + silent + " did not answer within 300ms" + busyHint},
		{name: "one address refused, the other never answers", addrs: []string{closed, silent},
			want: "server " + silent + " did not answer within 300ms" + busyHint},
		{name: "two servers never answer", addrs: []string{silent, silent2},
			want: "servers " + silent + ", " + silent2 + " did not answer within 300ms; they may be overloaded"},
		{name: "program that hangs up", addrs: []string{hangUp},
			want: "server " + hangUp + " accepted a connection but did not answer"},
		{name: "server without a leader, other address refused", addrs: []string{closed, leaderless},
			want: "Error from server (ServiceUnavailable): " + noLeaderAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newClient(strings.Join(tc.addrs, ","))
			if err != nil {
				t.Fatalf("newClient: %v", err)
			}
			defer c.Close()
			c.attempt = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			err = c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
				_, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "job", Name: "huge"})
				return err
			})
			if got := errorString(err); !strings.HasPrefix(got, tc.want) {
				t.Errorf("error text\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestUnreachableWithoutRefusalHasNoDevHint(t *testing.T) {
	// A dial that timed out: something may listen behind a firewall, so
	// starting a dev cluster is not the advice.
	addr := "127.0.0.1:7400"
	log := newDialLog()
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	log.last[addr] = timeout
	var f failures
	if final := f.add(log, addr, 3*time.Second, status.Error(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: "+timeout.Error()+"\"")); final != nil {
		t.Fatalf("add = %v, want the failure kept", final)
	}
	err := f.giveUp([]string{addr}, log, nil)
	want := "no jobcluster server reachable at 127.0.0.1:7400 (dial tcp: i/o timeout); check --addr / JOBCLUSTER_ADDR and that this machine can reach the servers"
	if err.Error() != want {
		t.Errorf("error text\n got: %s\nwant: %s", err, want)
	}
	if !outOfReach(err) {
		t.Error("outOfReach is false for an unreachable error")
	}
}

func TestClientAttemptCutByCommandTimeout(t *testing.T) {
	silent := silentAddr(t)
	c, err := newClient(silent)
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
		_, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "job", Name: "huge"})
		return err
	})
	var noAnswer *noAnswerError
	if !errors.As(err, &noAnswer) || noAnswer.within > 500*time.Millisecond || noAnswer.within < 400*time.Millisecond {
		t.Fatalf("write error = %v, want no answer within the 500ms left", err)
	}
}

func TestClientWriteWaitsForLeader(t *testing.T) {
	tests := []struct {
		name        string
		refusals    int
		timeout     time.Duration
		wantErr     string
		wantSubmits int
	}{
		{name: "leader elected after two refusals", refusals: 2, timeout: 10 * time.Second, wantSubmits: 1},
		{name: "no leader until the timeout", refusals: 1 << 30, timeout: 300 * time.Millisecond,
			wantErr: "Error from server (ServiceUnavailable): " + noLeaderAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeServer()
			fake.noLeader = tc.refusals
			c, err := newClient(closedAddr(t) + "," + serve(t, fake))
			if err != nil {
				t.Fatalf("newClient: %v", err)
			}
			defer c.Close()
			c.backoff = 10 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()

			err = c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
				_, err := cl.Submit(ctx, &api.SubmitRequest{})
				return err
			})
			if got := errorString(err); got != tc.wantErr {
				t.Errorf("write error = %q, want %q", got, tc.wantErr)
			}
			if got := fake.submitCount(); got != tc.wantSubmits {
				t.Errorf("submits accepted = %d, want %d", got, tc.wantSubmits)
			}
		})
	}
}

func TestNewClientParsesAddresses(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{name: "one address", in: "127.0.0.1:7400", want: []string{"127.0.0.1:7400"}},
		{name: "list with spaces and empty entries", in: " 127.0.0.1:1, ,127.0.0.2:2,", want: []string{"127.0.0.1:1", "127.0.0.2:2"}},
		{name: "empty", in: " , ", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newClient(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("newClient error = %v, want error %t", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if strings.Join(c.addrs, " ") != strings.Join(tc.want, " ") {
				t.Errorf("addrs = %q, want %q", c.addrs, tc.want)
			}
		})
	}
}

func errorString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestClientOpenStreamFailsOver(t *testing.T) {
	fake := newFakeServer()
	fake.put(&api.Object{Kind: &api.Object_Pod{Pod: &api.Pod{Metadata: &api.ObjectMeta{Name: "p"}}}})
	fake.logChunks = []string{"hello\n"}
	good := serve(t, fake)
	tests := []struct {
		name  string
		addrs []string
	}{
		{name: "nothing listens on the first address", addrs: []string{closedAddr(t), good}},
		{name: "first server accepts but never answers", addrs: []string{silentAddr(t), good}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newClient(strings.Join(tc.addrs, ","))
			if err != nil {
				t.Fatalf("newClient: %v", err)
			}
			defer c.Close()
			c.attempt = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			var first string
			err = c.openStream(ctx, func(ctx context.Context, cl api.ControlClient) error {
				s, err := cl.Logs(ctx, &api.LogsRequest{Pod: "p"})
				if err != nil {
					return err
				}
				chunk, err := s.Recv()
				if err != nil {
					return err
				}
				first = string(chunk.GetData())
				return nil
			})
			if err != nil {
				t.Fatalf("openStream: %v", err)
			}
			if first != "hello\n" {
				t.Errorf("first chunk = %q, want %q", first, "hello\n")
			}
		})
	}
}
