package kubeapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jobcluster/jobcluster/api"
)

// fakeControl is the part of the service these handlers call; the rest of
// api.ControlClient panics if called.
type fakeControl struct {
	api.ControlClient
	job     *api.Job
	submits []*api.SubmitRequest
	// conflicts is how many submits answer Aborted before one succeeds.
	conflicts int
	deleted   []*api.DeleteRequest
	events    []*api.WatchEvent
	watchErr  error
	watchReq  *api.WatchRequest
	// logsErr is what a Logs stream ends with first.
	logsErr error
}

func (f *fakeControl) Logs(_ context.Context, _ *api.LogsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[api.LogChunk], error) {
	return &fakeLogs{err: f.logsErr}, nil
}

// fakeLogs is a Logs stream that ends at once with err.
type fakeLogs struct {
	grpc.ClientStream
	err error
}

func (l *fakeLogs) Recv() (*api.LogChunk, error) { return nil, l.err }

func (f *fakeControl) Get(_ context.Context, req *api.GetRequest, _ ...grpc.CallOption) (*api.Object, error) {
	if f.job == nil || req.GetName() != f.job.GetMetadata().GetName() {
		return nil, status.Error(codes.NotFound, "not found")
	}
	return &api.Object{Kind: &api.Object_Job{Job: clone(f.job)}}, nil
}

func (f *fakeControl) Submit(_ context.Context, req *api.SubmitRequest, _ ...grpc.CallOption) (*api.SubmitResponse, error) {
	f.submits = append(f.submits, req)
	job := req.GetObjects()[0].GetJob()
	res := &api.SubmitResult{Kind: "Job", Name: job.GetMetadata().GetName(), Namespace: "default"}
	if f.conflicts > 0 {
		f.conflicts--
		res.Code, res.Error = "Aborted", "Operation cannot be fulfilled on jobs.batch \"x\": the object has been modified"
		return &api.SubmitResponse{Results: []*api.SubmitResult{res}}, nil
	}
	stored := clone(job)
	stored.Metadata.ResourceVersion = "8"
	res.Object = &api.Object{Kind: &api.Object_Job{Job: stored}}
	return &api.SubmitResponse{Results: []*api.SubmitResult{res}}, nil
}

func (f *fakeControl) Delete(_ context.Context, req *api.DeleteRequest, _ ...grpc.CallOption) (*api.DeleteResponse, error) {
	if f.job == nil || req.GetName() != f.job.GetMetadata().GetName() {
		return nil, status.Error(codes.NotFound, "not found")
	}
	f.deleted = append(f.deleted, req)
	return &api.DeleteResponse{}, nil
}

func (f *fakeControl) Watch(_ context.Context, req *api.WatchRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[api.WatchEvent], error) {
	f.watchReq = req
	return &fakeWatch{events: f.events, err: f.watchErr}, nil
}

// fakeWatch replays events, then ends with err (io.EOF when nil).
type fakeWatch struct {
	grpc.ClientStream
	events []*api.WatchEvent
	err    error
}

func (w *fakeWatch) Recv() (*api.WatchEvent, error) {
	if len(w.events) == 0 {
		if w.err != nil {
			return nil, w.err
		}
		return nil, io.EOF
	}
	ev := w.events[0]
	w.events = w.events[1:]
	return ev, nil
}

func clone(j *api.Job) *api.Job { return proto.Clone(j).(*api.Job) }

func storedJob() *api.Job {
	return &api.Job{
		ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &api.ObjectMeta{Name: "x", Namespace: "default", Uid: "u1", ResourceVersion: "7", Labels: map[string]string{"keep": "1"}},
		Spec: &api.JobSpec{Template: &api.PodTemplateSpec{Spec: &api.PodSpec{
			RestartPolicy: "Never",
			Containers:    []*api.Container{{Name: "main", Image: "busybox", Command: []string{"true"}}},
		}}},
	}
}

func serve(t *testing.T, f *fakeControl, method, path, contentType, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	h := NewHandler(f, Config{Table: func(string, []*api.Object, time.Time, bool) ([]string, [][]string) {
		return []string{"NAME"}, [][]string{{"x"}}
	}})
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func decodeStatus(t *testing.T, w *httptest.ResponseRecorder) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatalf("decode status %q: %v", w.Body.String(), err)
	}
	return st
}

const jobPath = "/apis/batch/v1/namespaces/default/jobs/x"
