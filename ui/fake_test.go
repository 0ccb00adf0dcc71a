package ui

import (
	"context"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// fakeControl is an in-memory Control service: objects by kind, answers
// the way a server does, and a record of the writes it was asked for.
type fakeControl struct {
	api.ControlClient // calls the UI must not make panic

	mu      sync.Mutex
	objects map[string][]*api.Object // by singular kind
	members []*api.Member
	logs    map[string][]string
	listErr error
	// token, when set, is the only ACL token List accepts.
	token     string
	submitted []*api.SubmitRequest
	deleted   []*api.DeleteRequest
	triggered []*api.CreateJobFromCronRequest
	selectors []string
	// index is the state's index every List answers with; jobsDelay is
	// how long a List of Jobs or a JobPage takes, and jobLists counts
	// them.
	index     uint64
	jobsDelay time.Duration
	jobLists  int
	// jobCounts counts JobCounts calls.
	jobCounts int
}

func newFakeControl() *fakeControl {
	return &fakeControl{objects: map[string][]*api.Object{}, logs: map[string][]string{}}
}

func (f *fakeControl) add(objs ...*api.Object) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range objs {
		k := api.ResourceOf(o).Singular
		f.objects[k] = append(f.objects[k], o)
	}
}

func (f *fakeControl) find(kind, name string) (int, *api.Object) {
	for i, o := range f.objects[kind] {
		if api.NameOf(o) == name {
			return i, o
		}
	}
	return -1, nil
}

func (f *fakeControl) Get(_ context.Context, in *api.GetRequest, _ ...grpc.CallOption) (*api.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, _ := api.LookupResource(in.GetKind())
	if _, o := f.find(in.GetKind(), in.GetName()); o != nil {
		return proto.Clone(o).(*api.Object), nil
	}
	return nil, status.Error(codes.NotFound, r.NotFound(in.GetName()))
}

func (f *fakeControl) List(ctx context.Context, in *api.ListRequest, _ ...grpc.CallOption) (*api.ListResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.answerList(ctx, in.GetLabelSelector(), in.GetKind() == api.JobResource.Singular); err != nil {
		return nil, err
	}
	resp := &api.ListResponse{Index: f.index}
	for _, o := range f.objects[in.GetKind()] {
		if e := o.GetEvent(); e != nil && in.GetInvolvedName() != "" &&
			(e.GetInvolvedObject().GetKind() != in.GetInvolvedKind() || e.GetInvolvedObject().GetName() != in.GetInvolvedName()) {
			continue
		}
		if p := o.GetPod(); p != nil && in.GetLabelSelector() != "" &&
			api.LabelJobName+"="+p.GetMetadata().GetLabels()[api.LabelJobName] != in.GetLabelSelector() {
			continue
		}
		resp.Items = append(resp.Items, o)
	}
	return resp, nil
}

// answerList is what a list call does first, under f.mu: fail as told,
// refuse a call without the token when one is set, record the label
// selector and, for Jobs, count the call and take jobsDelay.
func (f *fakeControl) answerList(ctx context.Context, selector string, jobs bool) error {
	if f.listErr != nil {
		return f.listErr
	}
	if f.token != "" {
		md, _ := metadata.FromOutgoingContext(ctx)
		if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+f.token {
			return status.Error(codes.Unauthenticated, "ACL token missing or unknown: pass --token or JOBCLUSTER_TOKEN")
		}
	}
	f.selectors = append(f.selectors, selector)
	if jobs {
		f.jobLists++
		time.Sleep(f.jobsDelay)
	}
	return nil
}

// JobPage pages the Jobs held as the servers do, with api.PageJobs. It
// records label selectors and does not apply them.
func (f *fakeControl) JobPage(ctx context.Context, in *api.JobPageRequest, _ ...grpc.CallOption) (*api.JobPageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.answerList(ctx, in.GetLabelSelector(), true); err != nil {
		return nil, err
	}
	q := in.Query()
	if err := q.Check(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	jobs := map[string]*api.Job{}
	var sums []*api.JobSummary
	for _, o := range f.objects[api.JobResource.Singular] {
		sum := api.SummarizeJob(o.GetJob())
		sums = append(sums, &sum)
		jobs[api.Key(sum.Namespace, sum.Name)] = o.GetJob()
	}
	p := api.PageJobs(sums, q, time.Now())
	resp := &api.JobPageResponse{Page: p.Page, Pages: p.Pages, Total: p.Total, All: p.All, Namespaces: p.Namespaces, Index: f.index}
	for _, sum := range p.Rows {
		resp.Jobs = append(resp.Jobs, proto.Clone(jobs[api.Key(sum.Namespace, sum.Name)]).(*api.Job))
	}
	return resp, nil
}

// JobCounts counts the Jobs held by state, as the servers' counts do.
func (f *fakeControl) JobCounts(context.Context, *api.JobCountsRequest, ...grpc.CallOption) (*api.JobCountsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	f.jobCounts++
	resp := &api.JobCountsResponse{States: map[string]int64{}, Index: f.index}
	for _, o := range f.objects[api.JobResource.Singular] {
		resp.States[api.JobStateOf(o.GetJob()).String()]++
	}
	return resp, nil
}

func (f *fakeControl) Members(context.Context, *api.MembersRequest, ...grpc.CallOption) (*api.MembersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &api.MembersResponse{Items: f.members}, nil
}

func (f *fakeControl) Submit(_ context.Context, in *api.SubmitRequest, _ ...grpc.CallOption) (*api.SubmitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitted = append(f.submitted, in)
	resp := &api.SubmitResponse{}
	for _, o := range in.GetObjects() {
		r := api.ResourceOf(o)
		res := &api.SubmitResult{Kind: r.Kind, Name: api.NameOf(o), Action: "created"}
		i, old := f.find(r.Singular, api.NameOf(o))
		switch {
		case old != nil && !in.GetApply():
			res.Action, res.Error, res.Code = "", r.AlreadyExists(api.NameOf(o)), codes.AlreadyExists.String()
		case old != nil:
			res.Action = "configured"
			f.objects[r.Singular][i] = o
		default:
			f.objects[r.Singular] = append(f.objects[r.Singular], o)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

func (f *fakeControl) Delete(_ context.Context, in *api.DeleteRequest, _ ...grpc.CallOption) (*api.DeleteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, in)
	i, o := f.find(in.GetKind(), in.GetName())
	if o == nil {
		r, _ := api.LookupResource(in.GetKind())
		return nil, status.Error(codes.NotFound, r.NotFound(in.GetName()))
	}
	f.objects[in.GetKind()] = append(f.objects[in.GetKind()][:i], f.objects[in.GetKind()][i+1:]...)
	return &api.DeleteResponse{}, nil
}

func (f *fakeControl) CreateJobFromCron(_ context.Context, in *api.CreateJobFromCronRequest, _ ...grpc.CallOption) (*api.SubmitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.triggered = append(f.triggered, in)
	if _, o := f.find(api.CronJobResource.Singular, in.GetCronJob()); o == nil {
		return nil, status.Error(codes.NotFound, api.CronJobResource.NotFound(in.GetCronJob()))
	}
	return &api.SubmitResponse{Results: []*api.SubmitResult{{Kind: api.JobResource.Kind, Name: in.GetJobName(), Action: "created"}}}, nil
}

func (f *fakeControl) Logs(_ context.Context, in *api.LogsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[api.LogChunk], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	chunks, ok := f.logs[in.GetPod()]
	if !ok {
		return nil, status.Error(codes.NotFound, api.PodResource.NotFound(in.GetPod()))
	}
	return &fakeLogStream{chunks: chunks}, nil
}

// fakeLogStream hands out its chunks, then io.EOF.
type fakeLogStream struct {
	grpc.ClientStream
	chunks []string
}

func (s *fakeLogStream) Recv() (*api.LogChunk, error) {
	if len(s.chunks) == 0 {
		return nil, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return &api.LogChunk{Data: []byte(c)}, nil
}

func (s *fakeLogStream) Header() (metadata.MD, error) { return nil, nil }
