package cluster

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

func inNamespace(obj *api.Object, ns string) *api.Object {
	api.MetadataOf(obj).Namespace = ns
	return obj
}

func TestNamespacesKeepSameNamesApart(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	s := c.leader()
	cl := client(t, s)
	ctx := testCtx(t)

	// The same name goes to two namespaces: from the object's own
	// metadata, and from the request's namespace.
	resp, err := cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{inNamespace(testJob("pi"), "team-a")}})
	if err != nil || resp.GetResults()[0].GetError() != "" {
		t.Fatalf("submit team-a/pi: %v %+v", err, resp.GetResults())
	}
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Namespace: "team-b", Objects: []*api.Object{testJob("pi")}})
	if err != nil || resp.GetResults()[0].GetError() != "" || resp.GetResults()[0].GetNamespace() != "team-b" {
		t.Fatalf("submit pi with namespace team-b: %v %+v", err, resp.GetResults())
	}
	if rv := resp.GetResults()[0].GetObject().GetJob().GetMetadata().GetResourceVersion(); rv == "" {
		t.Error("a created Job comes back without its resourceVersion")
	}
	// An object naming another namespace than the request is refused.
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Namespace: "team-b", Objects: []*api.Object{inNamespace(testJob("e"), "team-a")}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetResults()[0]; r.GetCode() != codes.InvalidArgument.String() ||
		r.GetError() != `the namespace from the provided object "team-a" does not match the namespace "team-b". You must pass '--namespace=team-a' to perform this operation.` {
		t.Errorf("object of team-a submitted to team-b: %+v", r)
	}
	if s.fsm.State().Job("team-a", "e") != nil || s.fsm.State().Job("team-b", "e") != nil {
		t.Error("the refused Job was stored")
	}

	for _, ns := range []string{"team-a", "team-b"} {
		obj, err := cl.Get(ctx, &api.GetRequest{Kind: "job", Name: "pi", Namespace: ns})
		if err != nil || obj.GetJob().GetMetadata().GetNamespace() != ns {
			t.Errorf("get %s/pi: %v %v", ns, err, obj.GetJob().GetMetadata())
		}
	}
	_, err = cl.Get(ctx, &api.GetRequest{Kind: "job", Name: "pi"})
	wantStatus(t, "get pi in default", err, codes.NotFound, `jobs.batch "pi" not found`)

	list := func(req *api.ListRequest) int {
		t.Helper()
		resp, err := cl.List(ctx, req)
		if err != nil {
			t.Fatalf("list %+v: %v", req, err)
		}
		return len(resp.GetItems())
	}
	if n := list(&api.ListRequest{Kind: "job"}); n != 2 {
		t.Errorf("list jobs of every namespace: %d, want 2", n)
	}
	if n := list(&api.ListRequest{Kind: "job", Namespace: "team-a"}); n != 1 {
		t.Errorf("list jobs of team-a: %d, want 1", n)
	}
	if n := list(&api.ListRequest{Kind: "job", FieldSelector: "metadata.namespace!=team-a"}); n != 1 {
		t.Errorf("list jobs with metadata.namespace!=team-a: %d, want 1", n)
	}
	_, err = cl.List(ctx, &api.ListRequest{Kind: "job", FieldSelector: "spec.nodeName=n1"})
	wantStatus(t, "select jobs by spec.nodeName", err, codes.InvalidArgument, "field label not supported: spec.nodeName")

	// A resourceVersion that is not the stored one is a conflict.
	stale := inNamespace(testJob("pi"), "team-a")
	stale.GetJob().Metadata.ResourceVersion = "1"
	stale.GetJob().Spec.Parallelism = proto.Int32(2)
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Apply: true, Objects: []*api.Object{stale}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetResults()[0]; r.GetCode() != codes.Aborted.String() {
		t.Errorf("apply with a stale resourceVersion: %+v, want Aborted", r)
	}

	if _, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "job", Name: "pi", Namespace: "team-a"}); err != nil {
		t.Fatalf("delete team-a/pi: %v", err)
	}
	if s.fsm.State().Job("team-a", "pi") != nil || s.fsm.State().Job("team-b", "pi") == nil {
		t.Error("deleting team-a/pi did not delete exactly team-a/pi")
	}
}

func TestFieldSelectors(t *testing.T) {
	pod := &api.Object{Kind: &api.Object_Pod{Pod: &api.Pod{
		Metadata: &api.ObjectMeta{Name: "pi-x", Namespace: "ns"},
		Spec:     &api.PodSpec{NodeName: "n1", RestartPolicy: "Never"},
		Status:   &api.PodStatus{Phase: "Running"},
	}}}
	ev := &api.Object{Kind: &api.Object_Event{Event: &api.Event{
		Metadata:       &api.ObjectMeta{Name: "e1"},
		InvolvedObject: &api.ObjectReference{Kind: "Pod", Name: "pi-x", Namespace: "ns", Uid: "u1"},
		Reason:         "Started",
	}}}
	for _, tt := range []struct {
		name     string
		r        *api.Resource
		selector string
		obj      *api.Object
		want     bool
		wantErr  bool
	}{
		{"empty selects all", api.PodResource, "", pod, true, false},
		{"pod by node", api.PodResource, "spec.nodeName=n1", pod, true, false},
		{"pod by other node", api.PodResource, "spec.nodeName=n2", pod, false, false},
		{"pod not on node with ==", api.PodResource, "spec.nodeName==n2", pod, false, false},
		{"pod phase and name", api.PodResource, "status.phase=Running,metadata.name=pi-x", pod, true, false},
		{"pod phase not running", api.PodResource, "status.phase!=Running", pod, false, false},
		{"namespace of pod", api.PodResource, "metadata.namespace=ns", pod, true, false},
		{"event about the pod by uid", api.EventResource, "involvedObject.uid=u1,involvedObject.kind=Pod", ev, true, false},
		{"event about another object", api.EventResource, "involvedObject.name=other", ev, false, false},
		{"event namespace defaults", api.EventResource, "metadata.namespace=default", ev, true, false},
		{"unsupported field", api.JobResource, "spec.nodeName=n1", nil, false, true},
		{"no operator", api.PodResource, "spec.nodeName", nil, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := parseFieldSelector(tt.r, tt.selector)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse %q: err %v, want error %v", tt.selector, err, tt.wantErr)
			}
			if err == nil && sel.matches(tt.obj) != tt.want {
				t.Errorf("%q matches = %v, want %v", tt.selector, !tt.want, tt.want)
			}
		})
	}
}

// A new Job's first pods are created in the Job's own Raft entry, so an
// agent can start them after one commit, not two.
func TestSubmitCreatesTheFirstPodsWithTheJob(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	s := c.leader()
	cl := client(t, s)
	ctx := testCtx(t)
	job := testJob("fast")
	job.GetJob().Spec.Parallelism = proto.Int32(3)
	job.GetJob().Spec.Completions = proto.Int32(3)
	resp, err := cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{job}})
	if err != nil || resp.GetResults()[0].GetError() != "" {
		t.Fatalf("submit: %v %+v", err, resp.GetResults())
	}
	rv := resp.GetResults()[0].GetObject().GetJob().GetMetadata().GetResourceVersion()
	pods := s.fsm.State().PodsOfJob("", "fast")
	if len(pods) != 3 {
		t.Fatalf("%d pods right after the submit returned, want 3", len(pods))
	}
	for _, p := range pods {
		if p.GetMetadata().GetResourceVersion() != rv {
			t.Errorf("pod %s written at index %s, the Job at %s: want one entry", p.GetMetadata().GetName(), p.GetMetadata().GetResourceVersion(), rv)
		}
	}
	// Submitting the same name again creates no pod.
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{testJob("fast")}})
	if err != nil || resp.GetResults()[0].GetCode() != codes.AlreadyExists.String() {
		t.Fatalf("second submit: %v %+v", err, resp.GetResults())
	}
	if n := len(s.fsm.State().PodsOfJob("", "fast")); n != 3 {
		t.Errorf("%d pods after a refused second submit, want 3", n)
	}
}

func TestSubmitOverTheRequestLimitIsRefused(t *testing.T) {
	req := &api.SubmitRequest{}
	for i := range 30 {
		o := testJob(fmt.Sprintf("j%d", i))
		o.GetJob().Metadata.Annotations = map[string]string{"a": strings.Repeat("x", 200<<10)}
		req.Objects = append(req.Objects, o)
	}
	err := admit(req)
	wantStatus(t, "a 6 MiB submit", err, codes.InvalidArgument, "over the limit of 3145728 (3 MiB)")
}
