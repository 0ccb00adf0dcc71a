package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

const piManifest = `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl:5.34
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(20)"]
`

const helloManifest = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: hello
            command: ["date"]
`

func writeManifest(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write manifest: %v", err)
	}
	return path
}

func jobObject(j *api.Job) *api.Object { return &api.Object{Kind: &api.Object_Job{Job: j}} }

func namedJob(name string) *api.Job {
	return &api.Job{
		Metadata: &api.ObjectMeta{Name: name, CreationTimestamp: timestamppb.New(time.Now().Add(-time.Minute))},
		Spec:     &api.JobSpec{Completions: proto.Int32(1), Parallelism: proto.Int32(1), Suspend: proto.Bool(false)},
	}
}

// cliResult is what a user sees of one command: its two streams and the
// text main prints for its error.
type cliResult struct {
	Stdout, Stderr, Error string
}

func run(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	out, errOut, err := runCLI(t, stdin, args...)
	res := cliResult{Stdout: out, Stderr: errOut}
	if err != nil {
		res.Error = errorText(err)
	}
	return res
}

func TestCommandsAgainstServer(t *testing.T) {
	pi := writeManifest(t, "pi.yaml", piManifest)
	both := writeManifest(t, "both.yaml", piManifest+"---\n"+helloManifest)
	bad := writeManifest(t, "bad.yaml", helloManifest+"---\n"+strings.Replace(piManifest, "image:", "imag:", 1))

	tests := []struct {
		name  string
		setup func(f *fakeServer)
		stdin string
		args  []string
		want  cliResult
		// wantErrPrefix is checked instead of want.Error when the rest of
		// the message comes from package api.
		wantErrPrefix string
		check         func(t *testing.T, f *fakeServer)
	}{
		{
			name: "submit creates every object of a file",
			args: []string{"submit", both},
			want: cliResult{Stdout: "job.batch/pi created\ncronjob.batch/hello created\n"},
		},
		{
			name:  "submit reads stdin",
			stdin: piManifest,
			args:  []string{"submit", "-"},
			want:  cliResult{Stdout: "job.batch/pi created\n"},
		},
		{
			name:  "submit refuses an existing name",
			setup: func(f *fakeServer) { f.put(jobObject(namedJob("pi"))) },
			args:  []string{"submit", both},
			want: cliResult{Stdout: "cronjob.batch/hello created\n",
				Error: `Error from server (AlreadyExists): jobs.batch "pi" already exists`},
		},
		{
			name:          "submit of a file with one invalid document creates nothing",
			args:          []string{"submit", pi, bad},
			wantErrPrefix: `error: error validating "` + bad + `": `,
			check: func(t *testing.T, f *fakeServer) {
				if n := f.submitCount(); n != 0 {
					t.Errorf("server got %d submits, want none", n)
				}
			},
		},
		{
			name:  "apply updates an existing job",
			setup: func(f *fakeServer) { f.put(jobObject(namedJob("pi"))) },
			args:  []string{"apply", "-f", pi},
			want:  cliResult{Stdout: "job.batch/pi configured\n"},
		},
		{
			name:  "get a missing job",
			args:  []string{"get", "job", "nope"},
			want:  cliResult{Error: `Error from server (NotFound): jobs.batch "nope" not found`},
			setup: func(f *fakeServer) { f.put(jobObject(namedJob("pi"))) },
		},
		{
			name: "get of an empty list",
			args: []string{"get", "jobs"},
			want: cliResult{Stderr: "No resources found in default namespace.\n"},
		},
		{
			name: "get names by label",
			setup: func(f *fakeServer) {
				for _, name := range []string{"pi-b", "pi-a", "other"} {
					job := "pi"
					if name == "other" {
						job = "other"
					}
					f.put(&api.Object{Kind: &api.Object_Pod{Pod: &api.Pod{Metadata: &api.ObjectMeta{Name: name, Labels: map[string]string{api.LabelJobName: job}}}}})
				}
			},
			args: []string{"get", "pods", "-l", "job-name=pi", "-o", "name"},
			want: cliResult{Stdout: "pod/pi-a\npod/pi-b\n"},
		},
		{
			name:  "delete a job",
			setup: func(f *fakeServer) { f.put(jobObject(namedJob("pi"))) },
			args:  []string{"delete", "job", "pi", "gone"},
			want: cliResult{Stdout: "job.batch \"pi\" deleted\n",
				Error: `Error from server (NotFound): jobs.batch "gone" not found`},
		},
		{
			name: "logs of a pod",
			setup: func(f *fakeServer) {
				f.put(&api.Object{Kind: &api.Object_Pod{Pod: &api.Pod{Metadata: &api.ObjectMeta{Name: "pi-a"}}}})
				f.logChunks = []string{"3.14159", "26535\n"}
			},
			args: []string{"logs", "pi-a"},
			want: cliResult{Stdout: "3.1415926535\n"},
		},
		{
			name: "logs of a missing pod",
			args: []string{"logs", "pi-x"},
			want: cliResult{Error: `Error from server (NotFound): pods "pi-x" not found`},
		},
		{
			name: "members table",
			setup: func(f *fakeServer) {
				f.members = []*api.Member{
					{Name: "agent-1", Role: "agent", Address: "127.0.0.1:7500", Status: "alive"},
					{Name: "server-1", Role: "server", Address: "127.0.0.1:7400", Status: "alive", RaftState: "Leader", Leader: true, AppliedIndex: 42, CommitIndex: 43},
				}
			},
			args: []string{"members"},
			want: cliResult{Stdout: "" +
				"NAME       ROLE     ADDRESS          STATUS   RAFT STATE   LEADER   APPLIED INDEX   COMMIT INDEX\n" +
				"server-1   server   127.0.0.1:7400   alive    Leader       true     42              43\n" +
				"agent-1    agent    127.0.0.1:7500   alive    <none>       <none>   <none>          <none>\n"},
		},
		{
			name:  "suspend a job",
			setup: func(f *fakeServer) { f.put(jobObject(namedJob("pi"))) },
			args:  []string{"suspend", "job", "pi"},
			want:  cliResult{Stdout: "job.batch/pi suspended\n"},
			check: func(t *testing.T, f *fakeServer) {
				submits := f.submitted()
				if len(submits) != 1 {
					t.Fatalf("server got %d submits, want 1", len(submits))
				}
				req := submits[0]
				if !req.GetApply() || len(req.GetObjects()) != 1 || !req.GetObjects()[0].GetJob().GetSpec().GetSuspend() {
					t.Errorf("submitted %v, want an apply of the job with spec.suspend true", req)
				}
			},
		},
		{
			name: "create a job from a cronjob",
			setup: func(f *fakeServer) {
				f.put(&api.Object{Kind: &api.Object_CronJob{CronJob: &api.CronJob{Metadata: &api.ObjectMeta{Name: "hello"}}}})
			},
			args: []string{"create", "job", "hello-now", "--from=cronjob/hello"},
			want: cliResult{Stdout: "job.batch/hello-now created\n"},
		},
		{
			name: "create a job from something not a cronjob",
			args: []string{"create", "job", "x", "--from=job/pi"},
			want: cliResult{Error: `error: from must be an existing cronjob, given as cronjob/NAME: "job/pi"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeServer()
			if tc.setup != nil {
				tc.setup(fake)
			}
			addrs := closedAddr(t) + "," + serve(t, fake)
			got := run(t, tc.stdin, append([]string{"--addr", addrs}, tc.args...)...)
			if tc.check != nil {
				tc.check(t, fake)
			}
			if tc.wantErrPrefix != "" {
				if !strings.HasPrefix(got.Error, tc.wantErrPrefix) {
					t.Errorf("error = %q, want it to start with %q", got.Error, tc.wantErrPrefix)
				}
				got.Error = ""
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("jobcluster %s (-want +got):\n%s", strings.Join(tc.args, " "), diff)
			}
		})
	}
}

func TestSubmitInvalidFileWording(t *testing.T) {
	bad := writeManifest(t, "bad.yaml", strings.Replace(piManifest, "image:", "imag:", 1))
	fake := newFakeServer()
	got := run(t, "", "--addr", serve(t, fake), "submit", bad)
	wantPrefix := `error: error validating "` + bad + `": `
	if !strings.HasPrefix(got.Error, wantPrefix) || !strings.Contains(got.Error, "imag") {
		t.Errorf("error = %q, want it to start with %q and name the bad field", got.Error, wantPrefix)
	}
	if got.Stdout != "" || fake.submitCount() != 0 {
		t.Errorf("stdout = %q with %d submits, want nothing created", got.Stdout, fake.submitCount())
	}
}

func TestGetJobAsJSON(t *testing.T) {
	fake := newFakeServer()
	fake.put(jobObject(namedJob("pi")))
	got := run(t, "", "--addr", serve(t, fake), "get", "job/pi", "-o", "json")
	if got.Error != "" {
		t.Fatalf("get failed: %s", got.Error)
	}
	var job struct {
		Kind     string
		Metadata struct{ Name string }
	}
	if err := json.Unmarshal([]byte(got.Stdout), &job); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got.Stdout)
	}
	if job.Kind != "Job" || job.Metadata.Name != "pi" {
		t.Errorf("printed kind %q name %q, want the Job pi itself", job.Kind, job.Metadata.Name)
	}
}

func TestSubmitWait(t *testing.T) {
	pi := writeManifest(t, "pi.yaml", piManifest)
	running := namedJob("pi")
	running.Status = &api.JobStatus{Active: 1, StartTime: timestamppb.Now()}
	complete := proto.Clone(running).(*api.Job)
	complete.Status = &api.JobStatus{Succeeded: 1, Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "True"}}}
	failed := proto.Clone(running).(*api.Job)
	failed.Status = &api.JobStatus{Failed: 7, Conditions: []*api.JobCondition{{Type: api.JobFailed, Status: "True",
		Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}}}

	tests := []struct {
		name   string
		states []*api.Job
		want   cliResult
	}{
		{
			name:   "job completes",
			states: []*api.Job{running, running, complete},
			want:   cliResult{Stdout: "job.batch/pi created\njob.batch/pi Running 0/1\njob.batch/pi Complete 1/1\n"},
		},
		{
			name:   "job fails",
			states: []*api.Job{running, failed},
			want: cliResult{
				Stdout: "job.batch/pi created\njob.batch/pi Running 0/1\n" +
					"job.batch/pi Failed 0/1: BackoffLimitExceeded: Job has reached the specified backoff limit\n",
				Error: "error: job.batch/pi failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeServer()
			fake.jobStates["pi"] = tc.states
			got := run(t, "", "--addr", serve(t, fake), "submit", "--wait", pi)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("submit --wait (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoServerReachable(t *testing.T) {
	addr := closedAddr(t)
	got := run(t, "", "--addr", addr, "get", "jobs")
	want := "error: no jobcluster server reachable at " + addr + " (dial tcp " + addr + ": connect: connection refused); " +
		`start one with "jobcluster dev" or point --addr / JOBCLUSTER_ADDR at a server`
	if got.Error != want {
		t.Errorf("error\n got: %s\nwant: %s", got.Error, want)
	}
}

func TestBusyServerIsNotCalledUnreachable(t *testing.T) {
	addr := silentAddr(t)
	got := run(t, "", "--addr", addr, "--timeout", "1s", "delete", "job", "huge")
	want := "error: server " + addr + " did not answer within 1s; it may be overloaded: retry later, or ask another server with --addr"
	if got.Error != want {
		t.Errorf("error\n got: %s\nwant: %s", got.Error, want)
	}
}

// replayingServer answers reads as a server still replaying its log does.
type replayingServer struct{ *fakeServer }

func (replayingServer) List(context.Context, *api.ListRequest) (*api.ListResponse, error) {
	return nil, status.Error(codes.Unavailable, "server s2 is still replaying its log (applied index 5 of 10); retry in a moment or ask another server")
}

func TestCatchingUpServerAnswerIsShown(t *testing.T) {
	addr := serve(t, replayingServer{newFakeServer()})
	got := run(t, "", "--addr", closedAddr(t)+","+addr, "get", "jobs")
	want := "Error from server (ServiceUnavailable): server s2 is still replaying its log (applied index 5 of 10); retry in a moment or ask another server"
	if got.Error != want {
		t.Errorf("error\n got: %s\nwant: %s", got.Error, want)
	}
}

func TestMembersJSON(t *testing.T) {
	fake := newFakeServer()
	fake.members = []*api.Member{
		{Name: "server-1", Role: "server", Address: "127.0.0.1:7400", Status: "alive", RaftState: "Leader", Leader: true, AppliedIndex: 42},
		{Name: "agent-1", Role: "agent", Address: "127.0.0.1:7500", Status: "alive"},
	}
	got := run(t, "", "--addr", serve(t, fake), "members", "-o", "json")
	if got.Error != "" {
		t.Fatalf("members failed: %s", got.Error)
	}
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal([]byte(got.Stdout), &list); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got.Stdout)
	}
	want := []map[string]any{
		{"name": "server-1", "role": "server", "address": "127.0.0.1:7400", "status": "alive", "raftState": "Leader", "leader": true, "appliedIndex": float64(42)},
		{"name": "agent-1", "role": "agent", "address": "127.0.0.1:7500", "status": "alive"},
	}
	if list.Kind != "List" {
		t.Errorf("kind = %q, want List", list.Kind)
	}
	if diff := cmp.Diff(want, list.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
}

func TestDescribeShowsOnlyTheObjectsEvents(t *testing.T) {
	fake := newFakeServer()
	fake.put(jobObject(namedJob("pi")))
	event := func(name, kind, reason string) *api.Object {
		return &api.Object{Kind: &api.Object_Event{Event: &api.Event{
			Metadata:       &api.ObjectMeta{Name: name},
			InvolvedObject: &api.ObjectReference{Kind: kind, Name: "pi"},
			Type:           "Normal", Reason: reason, Message: reason + " message",
			FirstTimestamp: timestamppb.Now(), LastTimestamp: timestamppb.Now(), Count: 1,
		}}}
	}
	fake.put(event("e1", "Job", "SuccessfulCreate"))
	fake.put(event("e2", "Pod", "Started"))

	got := run(t, "", "--addr", serve(t, fake), "describe", "job", "pi")
	if got.Error != "" {
		t.Fatalf("describe failed: %s", got.Error)
	}
	_, events, _ := strings.Cut(got.Stdout, "Events:")
	if !strings.Contains(events, "SuccessfulCreate message") || strings.Contains(events, "Started") {
		t.Errorf("events section = %q, want the Job's event and not the pod's", events)
	}
	if !strings.HasPrefix(got.Stdout, "Name:") {
		t.Errorf("description starts with %q, want Name:", strings.SplitN(got.Stdout, "\n", 2)[0])
	}
}

// A submit whose first attempt was applied while the leader was lost, and
// whose retry then finds the Job, says that it may be its own.
func TestSubmitRetriedAfterALostLeaderSaysTheJobMayBeItsOwn(t *testing.T) {
	fake := newFakeServer()
	fake.lostWhileCommitting = 1
	addr := serve(t, fake)
	got := run(t, piManifest, "--addr", addr, "submit", "-")
	want := `Error from server (AlreadyExists): jobs.batch "pi" already exists (an earlier attempt of this command, whose answer was lost when the leader changed, may have made it: check with ` + "`jobcluster get`" + `)`
	if got.Error != want {
		t.Errorf("error\n got: %s\nwant: %s", got.Error, want)
	}
}

// A write whose attempt was lost with the leader, and which no leader
// answered after that, ends saying that its outcome is unknown.
func TestWriteWithoutAnswerAfterALostLeaderSaysTheOutcomeIsUnknown(t *testing.T) {
	fake := newFakeServer()
	fake.lostWhileCommitting = 1
	fake.leaderlessAfterLoss = true
	addr := serve(t, fake)
	got := run(t, piManifest, "--addr", addr, "--timeout", "500ms", "submit", "-")
	want := "Error from server (ServiceUnavailable): " + noLeaderAnswer + "\n" + mayHaveAppliedNote
	if got.Error != want {
		t.Errorf("error\n got: %s\nwant: %s", got.Error, want)
	}
}

// An attempt's limit reads as the timeout given, though a moment of it
// passed before the attempt began.
func TestRoundBound(t *testing.T) {
	for _, tt := range []struct{ in, want time.Duration }{
		{999400 * time.Microsecond, time.Second},
		{999 * time.Millisecond, time.Second},
		{249400 * time.Microsecond, 250 * time.Millisecond},
		{1234 * time.Millisecond, 1200 * time.Millisecond},
		{3 * time.Second, 3 * time.Second},
		{12340 * time.Millisecond, 12 * time.Second},
		{2999800 * time.Nanosecond, 3 * time.Millisecond},
	} {
		if got := roundBound(tt.in); got != tt.want {
			t.Errorf("roundBound(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// upgradingServers answers the first page of a list as a server of this
// release does and the next as one of an earlier release, which ignores
// limit and continue, does.
type upgradingServers struct {
	*fakeServer
	calls int
}

func (u *upgradingServers) List(_ context.Context, req *api.ListRequest) (*api.ListResponse, error) {
	u.calls++
	var all []*api.Object
	for _, name := range []string{"a", "b", "c"} {
		all = append(all, jobObject(namedJob(name)))
	}
	if u.calls == 1 {
		return &api.ListResponse{Items: all[:req.GetLimit()], Continue: "next"}, nil
	}
	return &api.ListResponse{Items: all}, nil
}

func TestAListAnsweredWholeByAnEarlierServerIsShownOnce(t *testing.T) {
	got := run(t, "", "--addr", serve(t, &upgradingServers{fakeServer: newFakeServer()}), "get", "jobs", "--chunk-size", "2", "-o", "name")
	if want := "job.batch/a\njob.batch/b\njob.batch/c\n"; got.Error != "" || got.Stdout != want {
		t.Errorf("get jobs: %q, error %q; want %q", got.Stdout, got.Error, want)
	}
}

// pagingServer lists pods as a server does: in its store's order, by name
// whatever their namespace, a page of limit at a time.
type pagingServer struct {
	*fakeServer
	pods  []*api.Object
	calls int
}

func (p *pagingServer) List(_ context.Context, req *api.ListRequest) (*api.ListResponse, error) {
	p.calls++
	from, _ := strconv.Atoi(req.GetContinue())
	to := len(p.pods)
	if req.GetLimit() > 0 {
		to = min(from+int(req.GetLimit()), to)
	}
	resp := &api.ListResponse{Items: p.pods[from:to]}
	if to < len(p.pods) {
		resp.Continue = strconv.Itoa(to)
	}
	return resp, nil
}

// A table read in pages is the table of the whole list: its rows ordered
// by namespace and name, its columns as wide as their widest cell on any
// page.
func TestAListReadInPagesPrintsAsOneTable(t *testing.T) {
	p := &pagingServer{fakeServer: newFakeServer()}
	for _, pod := range []struct{ namespace, name, team string }{
		{"team-b", "a-pod", "b"}, {"default", "b-pod-with-a-long-name", ""}, {"team-b", "c", "b"}, {"default", "d-pod", "a"}, {"another", "e-pod", "c"},
	} {
		p.pods = append(p.pods, &api.Object{Kind: &api.Object_Pod{Pod: &api.Pod{
			Metadata: &api.ObjectMeta{Namespace: pod.namespace, Name: pod.name, Labels: map[string]string{"team": pod.team}},
			Status:   &api.PodStatus{Phase: api.PodSucceeded}}}})
	}
	addr := serve(t, p)
	table := run(t, "", "--addr", addr, "get", "pods", "-A", "--chunk-size", "2", "-L", "team")
	want := `NAMESPACE   NAME                     READY   STATUS      RESTARTS   AGE         TEAM
another     e-pod                    0/0     Succeeded   0          <unknown>   c
default     b-pod-with-a-long-name   0/0     Succeeded   0          <unknown>   
default     d-pod                    0/0     Succeeded   0          <unknown>   a
team-b      a-pod                    0/0     Succeeded   0          <unknown>   b
team-b      c                        0/0     Succeeded   0          <unknown>   b
`
	if table.Error != "" || table.Stdout != want {
		t.Errorf("get pods -A --chunk-size 2 -L team:\n%s(error %q)\nwant\n%s", table.Stdout, table.Error, want)
	}
	if p.calls != 3 {
		t.Errorf("get pods -A --chunk-size 2 made %d List calls, want 3 for 5 pods", p.calls)
	}
	names := run(t, "", "--addr", addr, "get", "pods", "-A", "--chunk-size", "2", "-o", "name")
	if want := "pod/e-pod\npod/b-pod-with-a-long-name\npod/d-pod\npod/a-pod\npod/c\n"; names.Error != "" || names.Stdout != want {
		t.Errorf("get pods -A -o name: %q (error %q), want %q", names.Stdout, names.Error, want)
	}
}
