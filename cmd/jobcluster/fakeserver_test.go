package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// fakeServer is a small in-memory api.ControlServer: the real one lives in
// package cluster, these tests only need its answers.
type fakeServer struct {
	api.UnimplementedControlServer

	mu sync.Mutex
	// objects by kind and name.
	objects map[string]map[string]*api.Object
	// jobStates are successive answers to Get of a Job, one per call; the
	// last one sticks.
	jobStates map[string][]*api.Job
	members   []*api.Member
	logChunks []string
	// noLeader is how many more writes to refuse with "no leader".
	noLeader int
	// lostWhileCommitting is how many more submits to apply and then
	// answer as a leader lost while committing them does.
	lostWhileCommitting int
	// leaderlessAfterLoss, when set, refuses every write after such an
	// answer with "no leader".
	leaderlessAfterLoss bool
	submits             []*api.SubmitRequest
	deletes             []*api.DeleteRequest
}

func newFakeServer() *fakeServer {
	return &fakeServer{objects: map[string]map[string]*api.Object{}, jobStates: map[string][]*api.Job{}}
}

func (f *fakeServer) put(obj *api.Object) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putLocked(obj)
}

func (f *fakeServer) putLocked(obj *api.Object) {
	kind := strings.ToLower(api.KindOf(obj))
	if f.objects[kind] == nil {
		f.objects[kind] = map[string]*api.Object{}
	}
	f.objects[kind][api.NameOf(obj)] = obj
}

func (f *fakeServer) submitCount() int {
	return len(f.submitted())
}

// submitted returns the accepted submit requests.
func (f *fakeServer) submitted() []*api.SubmitRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*api.SubmitRequest(nil), f.submits...)
}

func notFound(kind, name string) error {
	r, _ := api.LookupResource(kind)
	return status.Error(codes.NotFound, r.NotFound(name))
}

// noLeaderAnswer is what a real server answers when it knows no leader.
const noLeaderAnswer = "no leader elected yet (last leader s1, term 7); the cluster is electing a leader, retry in a moment"

func (f *fakeServer) refuseWithoutLeader() error {
	if f.noLeader > 0 {
		f.noLeader--
		return status.Error(codes.Unavailable, noLeaderAnswer)
	}
	return nil
}

func (f *fakeServer) Submit(_ context.Context, req *api.SubmitRequest) (*api.SubmitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refuseWithoutLeader(); err != nil {
		return nil, err
	}
	f.submits = append(f.submits, proto.Clone(req).(*api.SubmitRequest))
	resp := &api.SubmitResponse{}
	for _, obj := range req.GetObjects() {
		kind, name := strings.ToLower(api.KindOf(obj)), api.NameOf(obj)
		res := &api.SubmitResult{Kind: kind, Name: name, Action: "created"}
		if _, exists := f.objects[kind][name]; exists {
			if !req.GetApply() {
				r, _ := api.LookupResource(kind)
				res.Action, res.Error, res.Code = "", r.AlreadyExists(name), "AlreadyExists"
				resp.Results = append(resp.Results, res)
				continue
			}
			res.Action = "configured"
		}
		f.putLocked(obj)
		resp.Results = append(resp.Results, res)
	}
	if f.lostWhileCommitting > 0 {
		f.lostWhileCommitting--
		if f.leaderlessAfterLoss {
			f.noLeader = 1 << 30
		}
		return nil, status.Error(codes.Unavailable, lostWhileCommittingAnswer)
	}
	return resp, nil
}

// lostWhileCommittingAnswer is what a real server answers when it lost
// the leadership while committing a write.
const lostWhileCommittingAnswer = "outcome unknown: leadership lost while committing log; the cluster is electing a leader, check before you retry"

func (f *fakeServer) Get(_ context.Context, req *api.GetRequest) (*api.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if states := f.jobStates[req.GetName()]; req.GetKind() == api.JobResource.Singular && len(states) > 0 {
		j := states[0]
		if len(states) > 1 {
			f.jobStates[req.GetName()] = states[1:]
		}
		return &api.Object{Kind: &api.Object_Job{Job: j}}, nil
	}
	obj, ok := f.objects[req.GetKind()][req.GetName()]
	if !ok {
		return nil, notFound(req.GetKind(), req.GetName())
	}
	return obj, nil
}

func (f *fakeServer) List(_ context.Context, req *api.ListRequest) (*api.ListResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key, value, _ := strings.Cut(req.GetLabelSelector(), "=")
	resp := &api.ListResponse{}
	for _, obj := range f.objects[req.GetKind()] {
		labels := map[string]string{}
		if m, ok := api.MessageOf(obj).(interface{ GetMetadata() *api.ObjectMeta }); ok {
			labels = m.GetMetadata().GetLabels()
		}
		if key != "" && labels[key] != value {
			continue
		}
		if e := obj.GetEvent(); e != nil && req.GetInvolvedName() != "" && e.GetInvolvedObject().GetName() != req.GetInvolvedName() {
			continue
		}
		resp.Items = append(resp.Items, obj)
	}
	return resp, nil
}

func (f *fakeServer) Delete(_ context.Context, req *api.DeleteRequest) (*api.DeleteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refuseWithoutLeader(); err != nil {
		return nil, err
	}
	if _, ok := f.objects[req.GetKind()][req.GetName()]; !ok {
		return nil, notFound(req.GetKind(), req.GetName())
	}
	delete(f.objects[req.GetKind()], req.GetName())
	f.deletes = append(f.deletes, req)
	return &api.DeleteResponse{}, nil
}

func (f *fakeServer) Members(context.Context, *api.MembersRequest) (*api.MembersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &api.MembersResponse{Items: f.members}, nil
}

func (f *fakeServer) Logs(req *api.LogsRequest, stream grpc.ServerStreamingServer[api.LogChunk]) error {
	f.mu.Lock()
	_, ok := f.objects[api.PodResource.Singular][req.GetPod()]
	chunks := append([]string(nil), f.logChunks...)
	f.mu.Unlock()
	if !ok {
		return notFound(api.PodResource.Singular, req.GetPod())
	}
	for _, c := range chunks {
		if err := stream.Send(&api.LogChunk{Data: []byte(c)}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeServer) CreateJobFromCron(_ context.Context, req *api.CreateJobFromCronRequest) (*api.SubmitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objects[api.CronJobResource.Singular][req.GetCronJob()]; !ok {
		return nil, notFound(api.CronJobResource.Singular, req.GetCronJob())
	}
	job := &api.Job{Metadata: &api.ObjectMeta{Name: req.GetJobName()}}
	f.putLocked(&api.Object{Kind: &api.Object_Job{Job: job}})
	return &api.SubmitResponse{Results: []*api.SubmitResult{{Kind: "job", Name: req.GetJobName(), Action: "created"}}}, nil
}

// serve starts f (usually a fakeServer) on a loopback port for the test's lifetime.
func serve(t *testing.T, f api.ControlServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	api.RegisterControlServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

// silentAddr is a loopback address that accepts connections and never
// answers, like a server that hangs.
func silentAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

// hangUpAddr is a loopback address that accepts connections and closes
// them at once, like a program that does not speak gRPC.
func hangUpAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		<-done
	})
	return lis.Addr().String()
}

// runCLI runs the jobcluster command line with args and returns what it
// printed and the error main would print.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	err = root.Execute()
	return out.String(), errOut.String(), err
}
