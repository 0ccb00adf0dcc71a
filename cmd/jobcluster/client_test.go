package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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

func TestClientReportsUnreachableServers(t *testing.T) {
	closed := closedAddr(t)
	silent := silentAddr(t)
	tests := []struct {
		name      string
		addrs     []string
		wantCause string
	}{
		{name: "connection refused", addrs: []string{closed}, wantCause: "dial tcp " + closed + ": connect: connection refused"},
		{name: "last address does not answer", addrs: []string{closed, silent}, wantCause: silent + ": no answer within 300ms"},
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
			err = c.read(ctx, membersCall(&got))
			var unreachable *unreachableError
			if !errors.As(err, &unreachable) {
				t.Fatalf("read error = %v, want an unreachable error", err)
			}
			want := "no jobcluster server reachable at " + strings.Join(tc.addrs, ",") + " (" + tc.wantCause +
				`); start one with "jobcluster dev" or point --addr / JOBCLUSTER_ADDR at a server`
			if err.Error() != want {
				t.Errorf("error text\n got: %s\nwant: %s", err, want)
			}
		})
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
			wantErr: "Error from server (ServiceUnavailable): no leader elected yet, try again"},
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
