package agent

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// fakeControl is a server as the agent sees it: it streams the pod set
// set by the test, records status reports and answers heartbeats. While
// partitioned it refuses everything and ends open watch streams.
type fakeControl struct {
	api.UnimplementedControlServer

	mu          sync.Mutex
	index       uint64
	set         *api.PodSet
	changed     chan struct{}
	partitioned bool
	reports     []*api.PodStatusUpdate
	sent        []uint64 // indexes of the sets sent
	leader      string   // the leader its heartbeats name
	watching    int      // watch streams open now
}

var errPartitioned = status.Error(codes.Unavailable, "partitioned")

func startFakeControl(t *testing.T) (*fakeControl, string) {
	t.Helper()
	f := &fakeControl{changed: make(chan struct{})}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	api.RegisterControlServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f, lis.Addr().String()
}

func (f *fakeControl) broadcast() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeControl) setPods(pods ...*api.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	f.set = &api.PodSet{Index: f.index, Pods: pods}
	f.broadcast()
}

// setPodsAt sends a set with the given index, as a lagging server would.
func (f *fakeControl) setPodsAt(index uint64, pods ...*api.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index = index
	f.set = &api.PodSet{Index: f.index, Pods: pods}
	f.broadcast()
}

func (f *fakeControl) waitSent(t *testing.T, index uint64) {
	t.Helper()
	wait.For(t, fmt.Sprintf("set %d sent", index), func() (bool, string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Contains(f.sent, index), fmt.Sprintf("sent %v", f.sent)
	})
}

func (f *fakeControl) partition(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.partitioned = on
	f.broadcast()
}

func (f *fakeControl) WatchPods(req *api.WatchPodsRequest, stream api.Control_WatchPodsServer) error {
	f.mu.Lock()
	f.watching++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.watching--
		f.mu.Unlock()
	}()
	for {
		f.mu.Lock()
		set, changed, partitioned := f.set, f.changed, f.partitioned
		f.mu.Unlock()
		if partitioned {
			return errPartitioned
		}
		if set != nil {
			if err := stream.Send(set); err != nil {
				return err
			}
			f.mu.Lock()
			f.sent = append(f.sent, set.GetIndex())
			f.mu.Unlock()
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (f *fakeControl) ReportPodStatus(_ context.Context, req *api.ReportPodStatusRequest) (*api.ReportPodStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.partitioned {
		return nil, errPartitioned
	}
	for _, u := range req.GetUpdates() {
		f.reports = append(f.reports, proto.CloneOf(u))
	}
	return &api.ReportPodStatusResponse{}, nil
}

func (f *fakeControl) Heartbeat(context.Context, *api.HeartbeatRequest) (*api.HeartbeatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.partitioned {
		return nil, errPartitioned
	}
	return &api.HeartbeatResponse{LeaderRpcAddr: f.leader}, nil
}

// waitReport waits for a reported status of the pod that satisfies ok.
func (f *fakeControl) waitReport(t *testing.T, uid string, ok func(*api.PodStatus) bool) *api.PodStatus {
	t.Helper()
	var found *api.PodStatus
	wait.For(t, "report for "+uid, func() (bool, string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var seen []string
		for _, u := range f.reports {
			if u.GetUid() == uid {
				if ok(u.GetStatus()) {
					found = u.GetStatus()
					return true, ""
				}
				seen = append(seen, u.GetStatus().GetPhase())
			}
		}
		return false, fmt.Sprintf("reports so far: %v", seen)
	})
	return found
}

func phaseIs(phase string) func(*api.PodStatus) bool {
	return func(st *api.PodStatus) bool { return st.GetPhase() == phase }
}

type fakeMembers struct{ addrs []string }

func (m fakeMembers) serverAddrs() []string     { return m.addrs }
func (m fakeMembers) changed() <-chan struct{}  { return nil }
func (m fakeMembers) leave(time.Duration) error { return nil }
