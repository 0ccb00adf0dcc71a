package cluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// wantStatus fails unless err is a gRPC status with code and a message
// containing msg.
func wantStatus(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code || !strings.Contains(st.Message(), msg) {
		t.Errorf("%s: error %v, want %s containing %q", what, err, code, msg)
	}
}

func testCronJob(name, schedule, policy string) *api.Object {
	objs, err := api.DecodeManifests([]byte(strings.NewReplacer("NAME", name, "SCHEDULE", schedule, "POLICY", policy).Replace(`apiVersion: batch/v1
kind: CronJob
metadata:
  name: NAME
spec:
  schedule: "SCHEDULE"
  concurrencyPolicy: POLICY
  jobTemplate:
    metadata:
      labels: {team: batch}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            command: ["true"]
`)))
	if err != nil {
		panic(err)
	}
	return objs[0]
}

func withLabels(obj *api.Object, labels map[string]string) *api.Object {
	obj.GetJob().Metadata.Labels = labels
	return obj
}

func TestSubmitCreatesAppliesAndRefuses(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	s := c.leader()
	cl := client(t, s)
	ctx := testCtx(t)

	resp, err := cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{testJob("a"), testCronJob("nightly", "0 3 * * *", "Allow")}})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	for _, r := range resp.GetResults() {
		if r.GetAction() != "created" || r.GetError() != "" {
			t.Errorf("result %+v, want created", r)
		}
	}
	job := s.fsm.State().Job("", "a")
	if job.GetMetadata().GetUid() == "" || job.GetMetadata().GetNamespace() != "default" || job.GetMetadata().GetCreationTimestamp() == nil {
		t.Errorf("stored job metadata = %v, want a uid, namespace default and a creation time", job.GetMetadata())
	}

	// Submitting again is refused; applying the same is unchanged;
	// applying a new parallelism configures the Job.
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{testJob("a"), testCronJob("nightly", "0 3 * * *", "Allow")}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetResults()[0]; r.GetCode() != "AlreadyExists" || r.GetError() != `jobs.batch "a" already exists` {
		t.Errorf("second create of job = %+v", r)
	}
	if r := resp.GetResults()[1]; r.GetCode() != "AlreadyExists" || r.GetError() != `cronjobs.batch "nightly" already exists` {
		t.Errorf("second create of cronjob = %+v", r)
	}
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Apply: true, Objects: []*api.Object{testJob("a")}})
	if err != nil || resp.GetResults()[0].GetAction() != "unchanged" {
		t.Errorf("apply the same job: %v %+v, want unchanged", err, resp.GetResults())
	}
	wider := testJob("a")
	wider.GetJob().Spec.Parallelism = proto.Int32(3)
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Apply: true, Objects: []*api.Object{wider}})
	if err != nil || resp.GetResults()[0].GetAction() != "configured" {
		t.Errorf("apply a new parallelism: %v %+v, want configured", err, resp.GetResults())
	}
	if got := s.fsm.State().Job("", "a").GetSpec().GetParallelism(); got != 3 {
		t.Errorf("parallelism after apply = %d, want 3", got)
	}
	immutable := testJob("a")
	immutable.GetJob().Spec.Completions = proto.Int32(9)
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Apply: true, Objects: []*api.Object{immutable}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetResults()[0]; r.GetCode() != "InvalidArgument" || !strings.Contains(r.GetError(), `The Job "a" is invalid`) {
		t.Errorf("apply an immutable change = %+v", r)
	}
	cron := testCronJob("nightly", "0 4 * * *", "Allow")
	resp, err = cl.Submit(ctx, &api.SubmitRequest{Apply: true, Objects: []*api.Object{cron}})
	if err != nil || resp.GetResults()[0].GetAction() != "configured" {
		t.Errorf("apply a new schedule: %v %+v, want configured", err, resp.GetResults())
	}

	// One invalid object refuses the whole request.
	bad := testJob("b")
	bad.GetJob().Spec.Template.Spec.Containers = nil
	_, err = cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{testJob("c"), bad}})
	wantStatus(t, "submit an invalid job", err, codes.InvalidArgument, `The Job "b" is invalid`)
	if s.fsm.State().Job("", "c") != nil {
		t.Error("job c was created although its request held an invalid job")
	}
	pod := &api.Object{Kind: &api.Object_Pod{Pod: &api.Pod{Metadata: &api.ObjectMeta{Name: "p"}, Spec: &api.PodSpec{
		RestartPolicy: "Never", Containers: []*api.Container{{Name: "main", Image: "x", Command: []string{"true"}}},
	}}}}
	_, err = cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{pod}})
	wantStatus(t, "submit a pod", err, codes.InvalidArgument, "submit Jobs, CronJobs, ConfigMaps and Secrets")
}

func TestGetListAndDeleteAnswerLikeKubectl(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	s := c.leader()
	cl := client(t, s)
	ctx := testCtx(t)
	submit(t, s, withLabels(testJob("red"), map[string]string{"color": "red"}),
		withLabels(testJob("blue"), map[string]string{"color": "blue"}),
		testCronJob("nightly", "0 3 * * *", "Allow"))
	// With no node, the controller creates the pods and reports them
	// unschedulable.
	wait.For(t, "pods of both jobs", func() (bool, string) {
		n := len(s.fsm.State().Pods())
		return n == 2, fmt.Sprintf("%d pods", n)
	})

	for _, kind := range []string{"jobs", "job.batch", "Job"} {
		obj, err := cl.Get(ctx, &api.GetRequest{Kind: kind, Name: "red"})
		if err != nil || obj.GetJob().GetMetadata().GetName() != "red" {
			t.Errorf("get %s red: %v %v", kind, err, obj)
		}
	}
	if obj, err := cl.Get(ctx, &api.GetRequest{Kind: "cj", Name: "nightly"}); err != nil || obj.GetCronJob() == nil {
		t.Errorf("get cj nightly: %v %v", err, obj)
	}
	pod := s.fsm.State().PodsOfJob("", "red")[0].GetMetadata().GetName()
	if obj, err := cl.Get(ctx, &api.GetRequest{Kind: "po", Name: pod}); err != nil || obj.GetPod() == nil {
		t.Errorf("get po %s: %v %v", pod, err, obj)
	}
	_, err := cl.Get(ctx, &api.GetRequest{Kind: "jobs", Name: "green"})
	wantStatus(t, "get a missing job", err, codes.NotFound, `jobs.batch "green" not found`)
	_, err = cl.Get(ctx, &api.GetRequest{Kind: "nodes", Name: "n1"})
	wantStatus(t, "get a missing node", err, codes.NotFound, `nodes "n1" not found`)
	_, err = cl.Get(ctx, &api.GetRequest{Kind: "widgets", Name: "x"})
	wantStatus(t, "get an unknown kind", err, codes.InvalidArgument, `doesn't have a resource type "widgets"`)

	names := func(resp *api.ListResponse) []string {
		var out []string
		for _, o := range resp.GetItems() {
			out = append(out, api.NameOf(o))
		}
		return out
	}
	list, err := cl.List(ctx, &api.ListRequest{Kind: "jobs", LabelSelector: "color=red"})
	if err != nil || strings.Join(names(list), ",") != "red" {
		t.Errorf("list jobs color=red: %v %v, want red", err, names(list))
	}
	list, err = cl.List(ctx, &api.ListRequest{Kind: "jobs", LabelSelector: "color!=red"})
	if err != nil || strings.Join(names(list), ",") != "blue" {
		t.Errorf("list jobs color!=red: %v %v, want blue", err, names(list))
	}
	list, err = cl.List(ctx, &api.ListRequest{Kind: "pods", LabelSelector: "job-name=blue"})
	if err != nil || len(list.GetItems()) != 1 || list.GetItems()[0].GetPod().GetMetadata().GetLabels()["job-name"] != "blue" {
		t.Errorf("list pods job-name=blue: %v %v", err, names(list))
	}
	list, err = cl.List(ctx, &api.ListRequest{Kind: "pods", LabelSelector: "!missing"})
	if err != nil || len(list.GetItems()) != 2 {
		t.Errorf("list pods !missing: %v %v, want both", err, names(list))
	}
	list, err = cl.List(ctx, &api.ListRequest{Kind: "cronjobs"})
	if err != nil || strings.Join(names(list), ",") != "nightly" {
		t.Errorf("list cronjobs: %v %v", err, names(list))
	}
	list, err = cl.List(ctx, &api.ListRequest{Kind: "nodes"})
	if err != nil || len(list.GetItems()) != 0 {
		t.Errorf("list nodes: %v %v, want none", err, names(list))
	}
	wait.For(t, "a FailedScheduling event of the pod", func() (bool, string) {
		list, err := cl.List(ctx, &api.ListRequest{Kind: "events", InvolvedKind: "pods", InvolvedName: pod})
		if err != nil {
			return false, err.Error()
		}
		for _, o := range list.GetItems() {
			if o.GetEvent().GetReason() == "FailedScheduling" {
				return true, ""
			}
		}
		return false, "no FailedScheduling event"
	})
	if list, err := cl.List(ctx, &api.ListRequest{Kind: "events"}); err != nil || len(list.GetItems()) == 0 {
		t.Errorf("list events: %v, %d items", err, len(list.GetItems()))
	}
	_, err = cl.List(ctx, &api.ListRequest{Kind: "jobs", LabelSelector: "a in (b)"})
	wantStatus(t, "list with a set selector", err, codes.InvalidArgument, "unable to parse requirement")
	_, err = cl.List(ctx, &api.ListRequest{Kind: "widgets"})
	wantStatus(t, "list an unknown kind", err, codes.InvalidArgument, "the server doesn't have a resource type")

	if _, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "pod", Name: pod}); err != nil {
		t.Errorf("delete pod %s: %v", pod, err)
	}
	if _, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "jobs", Name: "red"}); err != nil {
		t.Errorf("delete job red: %v", err)
	}
	if s.fsm.State().Job("", "red") != nil || len(s.fsm.State().PodsOfJob("", "red")) != 0 {
		t.Error("job red or its pods remain after delete")
	}
	if _, err := cl.Delete(ctx, &api.DeleteRequest{Kind: "cronjob", Name: "nightly"}); err != nil {
		t.Errorf("delete cronjob nightly: %v", err)
	}
	_, err = cl.Delete(ctx, &api.DeleteRequest{Kind: "jobs", Name: "red"})
	wantStatus(t, "delete a missing job", err, codes.NotFound, `jobs.batch "red" not found`)
	_, err = cl.Delete(ctx, &api.DeleteRequest{Kind: "pods", Name: "nope"})
	wantStatus(t, "delete a missing pod", err, codes.NotFound, `pods "nope" not found`)
	_, err = cl.Delete(ctx, &api.DeleteRequest{Kind: "node", Name: "nope"})
	wantStatus(t, "delete a missing node", err, codes.NotFound, `nodes "nope" not found`)
	_, err = cl.Delete(ctx, &api.DeleteRequest{Kind: "widgets", Name: "x"})
	wantStatus(t, "delete an unknown kind", err, codes.InvalidArgument, "the server doesn't have a resource type")
}

func TestCreateJobFromCronJob(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	s := c.leader()
	cl := client(t, s)
	ctx := testCtx(t)
	submit(t, s, testCronJob("nightly", "0 3 * * *", "Forbid"))

	_, err := cl.CreateJobFromCron(ctx, &api.CreateJobFromCronRequest{CronJob: "weekly", JobName: "w1"})
	wantStatus(t, "from a missing cronjob", err, codes.NotFound, `cronjobs.batch "weekly" not found`)

	resp, err := cl.CreateJobFromCron(ctx, &api.CreateJobFromCronRequest{CronJob: "nightly", JobName: "manual-1"})
	if err != nil || resp.GetResults()[0].GetAction() != "created" {
		t.Fatalf("create job from cronjob: %v %+v", err, resp.GetResults())
	}
	job := s.fsm.State().Job("", "manual-1")
	owner := job.GetMetadata().GetOwnerReferences()
	if len(owner) != 1 || owner[0].GetKind() != "CronJob" || owner[0].GetName() != "nightly" ||
		job.GetMetadata().GetAnnotations()["cronjob.kubernetes.io/instantiate"] != "manual" ||
		job.GetMetadata().GetLabels()["team"] != "batch" {
		t.Errorf("job from cronjob metadata = %v", job.GetMetadata())
	}
	// Forbid refuses a second run while the first is active, unless forced.
	_, err = cl.CreateJobFromCron(ctx, &api.CreateJobFromCronRequest{CronJob: "nightly", JobName: "manual-2"})
	wantStatus(t, "second run under Forbid", err, codes.FailedPrecondition, `job "manual-1" is still active`)
	if _, err := cl.CreateJobFromCron(ctx, &api.CreateJobFromCronRequest{CronJob: "nightly", JobName: "manual-2", Force: true}); err != nil {
		t.Errorf("forced second run: %v", err)
	}
	_, err = cl.CreateJobFromCron(ctx, &api.CreateJobFromCronRequest{CronJob: "nightly", JobName: "Not_A_Name", Force: true})
	wantStatus(t, "a job name Kubernetes refuses", err, codes.InvalidArgument, `The Job "Not_A_Name" is invalid`)
}

// fakeAgent serves an agent's log stream.
type fakeAgent struct {
	api.UnimplementedAgentServer
	log string
}

func (a *fakeAgent) Logs(req *api.LogsRequest, stream api.Agent_LogsServer) error {
	for _, line := range strings.SplitAfter(a.log, "\n") {
		if err := stream.Send(&api.LogChunk{Data: []byte(line)}); err != nil {
			return err
		}
	}
	return nil
}

// startFakeAgent serves log on a loopback address and returns it.
func startFakeAgent(t *testing.T, log string) string {
	t.Helper()
	lis, err := net.Listen("tcp", testIP()+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	api.RegisterAgentServer(srv, &fakeAgent{log: log})
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

func readLogs(t *testing.T, s *Server, pod string) (string, error) {
	t.Helper()
	stream, err := client(t, s).Logs(testCtx(t), &api.LogsRequest{Pod: pod})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		b.Write(chunk.GetData())
	}
}

// TestAgentAddrOfALogRead: a log read asks the agent gossip here sees
// alive or suspect, and also one it still sees failed once the leader made
// its Node Ready again (this server's view of a returning member can
// lag).
func TestAgentAddrOfALogRead(t *testing.T) {
	member := func(status string) []gossip.Member {
		return []gossip.Member{
			{Name: "a0", Status: gossip.StatusAlive, Meta: &api.MemberMeta{RpcAddr: "10.0.0.1:7500"}},
			{Name: "a1", Status: status, Meta: &api.MemberMeta{RpcAddr: "10.0.0.2:7500"}},
		}
	}
	node := func(ready string) *api.Node {
		return &api.Node{Metadata: &api.ObjectMeta{Name: "a1"}, Status: &api.NodeStatus{Conditions: []*api.NodeCondition{{Type: api.NodeReady, Status: ready}}}}
	}
	for _, tc := range []struct {
		name    string
		members []gossip.Member
		node    *api.Node
		want    string
	}{
		{"alive", member(gossip.StatusAlive), node(api.ConditionFalse), "10.0.0.2:7500"},
		{"suspect", member(gossip.StatusSuspect), node(api.ConditionFalse), "10.0.0.2:7500"},
		{"failed here, Ready to the leader", member(gossip.StatusFailed), node(api.ConditionTrue), "10.0.0.2:7500"},
		{"failed and not Ready", member(gossip.StatusFailed), node(api.ConditionUnknown), ""},
		{"failed, no Node stored", member(gossip.StatusFailed), nil, ""},
		{"unknown to gossip though Ready", member(gossip.StatusAlive)[:1], node(api.ConditionTrue), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := agentAddr(tc.members, "a1", tc.node); got != tc.want {
				t.Errorf("agentAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogsComeFromThePodsAgent(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	s := c.leader()
	submit(t, s, testJob("early"))
	var pending string
	wait.For(t, "a pending pod", func() (bool, string) {
		pods := s.fsm.State().PodsOfJob("", "early")
		if len(pods) == 0 {
			return false, "no pod"
		}
		pending = pods[0].GetMetadata().GetName()
		return true, ""
	})
	_, err := readLogs(t, s, "nope")
	wantStatus(t, "logs of a missing pod", err, codes.NotFound, `pods "nope" not found`)
	_, err = readLogs(t, s, pending)
	wantStatus(t, "logs of a pending pod", err, codes.FailedPrecondition, "has no node yet")

	c.gossip.addAgent("a1", startFakeAgent(t, "hello\nworld\n"), nil)
	var pod string
	wait.For(t, "the pod bound to a1", func() (bool, string) {
		p := s.fsm.State().Pod(pending)
		pod = p.GetMetadata().GetName()
		return p.GetSpec().GetNodeName() == "a1", "node " + p.GetSpec().GetNodeName()
	})
	got, err := readLogs(t, s, pod)
	if err != nil || got != "hello\nworld\n" {
		t.Errorf("logs = %q, %v; want the agent's log", got, err)
	}
	// A node gossip no longer knows cannot be asked.
	c.gossip.mu.Lock()
	delete(c.gossip.members, "a1")
	c.gossip.mu.Unlock()
	_, err = readLogs(t, s, pod)
	wantStatus(t, "logs from a node gone from gossip", err, codes.FailedPrecondition, `agent a1 is gone, and the servers keep no log of pod "`+pod+`"`)
	// The tail the agent shipped is served then, saying so.
	if _, err := s.proposer.Propose(testCtx(t), (&api.UpdatePodStatus{Updates: []*api.PodStatusUpdate{{Name: pod, Node: "a1",
		Status:   &api.PodStatus{Phase: api.PodRunning},
		LogTails: []*api.ContainerLogTail{{Container: "main", Data: []byte("one\ntwo\nthree\n"), Size: 14}},
	}}}).Command()); err != nil {
		t.Fatal(err)
	}
	got, notice := readLogsAndNotice(t, s, &api.LogsRequest{Pod: pod, TailLines: proto.Int64(2)})
	if got != "two\nthree\n" || notice != "(agent a1 is gone; showing the last 2 lines kept by the servers)" {
		t.Errorf("kept logs = %q with notice %q", got, notice)
	}
}

// readLogsAndNotice reads a pod's log and the notice that came with it.
func readLogsAndNotice(t *testing.T, s *Server, req *api.LogsRequest) (string, string) {
	t.Helper()
	stream, err := client(t, s).Logs(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	var data, notice strings.Builder
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return data.String(), notice.String()
		}
		if err != nil {
			t.Fatalf("logs of %s: %v", req.GetPod(), err)
		}
		data.Write(chunk.GetData())
		notice.WriteString(chunk.GetNotice())
	}
}
