package fsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

func TestApplyDecodesRaftLog(t *testing.T) {
	f := New(nil)
	job := newJob("hello")
	data, err := Encode(upsertJob(job, true), createPods(pods(job, 1)...), deleteJob("missing", ""))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Apply(&raft.Log{Index: 7, Term: 2, Type: raft.LogCommand, Data: data})
	res, ok := got.(*Result)
	if !ok {
		t.Fatalf("Apply returned %T, want *Result", got)
	}
	if len(res.Errors) != 3 || res.Errors[0] != nil || res.Errors[1] != nil || !errors.Is(res.Errors[2], ErrNotFound) {
		t.Errorf("errors = %v, want [nil nil ErrNotFound]", res.Errors)
	}
	s := f.State()
	want := proto.Clone(job).(*api.Job)
	want.Metadata.Generation = 1
	if diff := diffObjects(want, s.Job("", "hello"), ignoreVersion); diff != "" {
		t.Errorf("stored job (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"hello-0"}, names(s.PodsOfJob("", "hello"))); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}
	if s.Index() != 7 || f.AppliedIndex() != 7 {
		t.Errorf("state index %d, applied index %d, want 7", s.Index(), f.AppliedIndex())
	}
	if rv := s.Job("", "hello").GetMetadata().GetResourceVersion(); rv != "7" {
		t.Errorf("resourceVersion = %q, want the log index 7", rv)
	}
}

func TestApplyIgnoresOtherLogTypes(t *testing.T) {
	f := New(nil)
	for _, typ := range []raft.LogType{raft.LogNoop, raft.LogBarrier, raft.LogConfiguration} {
		if got := f.Apply(&raft.Log{Index: 3, Type: typ, Data: []byte("not a batch")}); got != nil {
			t.Errorf("Apply(%v) = %v, want nil", typ, got)
		}
	}
	if f.AppliedIndex() != 0 {
		t.Errorf("applied index = %d after non-command entries, want 0", f.AppliedIndex())
	}
}

func TestApplyPanicsOnWhatItCannotApply(t *testing.T) {
	unknown, err := proto.Marshal(&api.CommandBatch{Commands: []*api.Command{{Type: api.CommandType(999)}}})
	if err != nil {
		t.Fatal(err)
	}
	invalid, err := proto.Marshal(&api.CommandBatch{Commands: []*api.Command{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mismatched, err := proto.Marshal(&api.CommandBatch{Commands: []*api.Command{{
		Type: api.CommandType_COMMAND_TYPE_DELETE_JOB, Payload: &api.Command_UpsertJob{UpsertJob: &api.UpsertJob{}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		data      []byte
		wantPanic string
	}{
		{name: "undecodable data", data: []byte{0xff, 0xff, 0xff}, wantPanic: "undecodable"},
		{name: "type and payload disagree", data: mismatched, wantPanic: "carries a *api.Command_UpsertJob payload"},
		{name: "unknown command type", data: unknown, wantPanic: "unknown command type 999"},
		{name: "zero command type", data: invalid, wantPanic: "unknown command type 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(nil)
			got := func() (msg string) {
				defer func() {
					if r := recover(); r != nil {
						msg = fmt.Sprint(r)
					}
				}()
				f.Apply(&raft.Log{Index: 5, Type: raft.LogCommand, Data: tt.data})
				return ""
			}()
			if !strings.Contains(got, tt.wantPanic) {
				t.Errorf("panic = %q, want one containing %q", got, tt.wantPanic)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	tests := []struct {
		name       string
		cmds       []*api.Command
		wantClosed bool
	}{
		{name: "an applied command closes it", cmds: []*api.Command{upsertNode(newNode("n2"))}, wantClosed: true},
		{name: "a batch with one change closes it", cmds: []*api.Command{deleteJob("missing", ""), upsertNode(newNode("n2"))}, wantClosed: true},
		{name: "a refused command leaves it open", cmds: []*api.Command{deleteJob("missing", ""), upsertJob(newJob("a"), true)}},
		{name: "a command that finds nothing to do leaves it open", cmds: []*api.Command{createPods(pods(newJob("missing"), 1)...), stopPods("X", 1, "nope")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertNode(newNode("n1")), upsertJob(newJob("a"), true))
			ch := h.f.Changed()
			h.apply(tt.cmds...)
			closed := false
			select {
			case <-ch:
				closed = true
			default:
			}
			if closed != tt.wantClosed {
				t.Errorf("Changed closed = %v, want %v", closed, tt.wantClosed)
			}
			if h.f.AppliedIndex() != h.index {
				t.Errorf("applied index = %d, want %d", h.f.AppliedIndex(), h.index)
			}
			if tt.wantClosed {
				select {
				case <-h.f.Changed():
					t.Error("the next Changed channel is already closed")
				default:
				}
			}
		})
	}
}

func TestLivePodsOnNode(t *testing.T) {
	h := newHarness(t)
	job := newJob("work", parallelism(4), completions(4))
	ps := pods(job, 4)
	h.must(upsertNode(newNode("n1")), upsertNode(newNode("n10")), upsertJob(job, true), createPods(ps...))
	h.must(bindPods(3, "work-0", "n1", "work-1", "n1", "work-2", "n1", "work-3", "n10"))
	h.must(updatePodStatus(phase("work-0", "n1", api.PodRunning), phase("work-1", "n1", api.PodSucceeded)))

	live, ch := h.state().LivePodsOnNode("n1")
	if diff := cmp.Diff([]string{"work-0", "work-2"}, names(live)); diff != "" {
		t.Fatalf("live pods on n1 (-want +got):\n%s", diff)
	}
	live10, _ := h.state().LivePodsOnNode("n10")
	if diff := cmp.Diff([]string{"work-3"}, names(live10)); diff != "" {
		t.Errorf("live pods on n10 (-want +got):\n%s", diff)
	}
	none, _ := h.state().LivePodsOnNode("n2")
	if len(none) != 0 {
		t.Errorf("live pods on unknown node = %v, want none", names(none))
	}

	tests := []struct {
		name   string
		change *api.Command
	}{
		{name: "a live pod starts running", change: updatePodStatus(phase("work-2", "n1", api.PodRunning))},
		{name: "a live pod is asked to stop", change: stopPods("ExcessPod", 9, "work-0")},
		{name: "a live pod finishes", change: updatePodStatus(phase("work-0", "n1", api.PodFailed))},
		{name: "a live pod is deleted", change: deletePods("work-2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ch := h.state().LivePodsOnNode("n1")
			h.must(tt.change)
			select {
			case <-ch:
			default:
				t.Error("watch channel not closed by a change to a pod on the node")
			}
		})
	}
	select {
	case <-ch:
	default:
		t.Error("the first watch channel was not closed by later changes")
	}
	live, _ = h.state().LivePodsOnNode("n1")
	if len(live) != 0 {
		t.Errorf("live pods on n1 after all ended = %v, want none", names(live))
	}
}

func TestLivePodsOnNodeSeesNewBinding(t *testing.T) {
	h := newHarness(t)
	job := newJob("work")
	h.must(upsertNode(newNode("n1")), upsertJob(job, true), createPods(pods(job, 1)...))
	_, ch := h.state().LivePodsOnNode("n1")
	h.must(bindPods(3, "work-0", "n1"))
	select {
	case <-ch:
	default:
		t.Fatal("watch channel not closed when a pod was bound to the node")
	}
	live, _ := h.state().LivePodsOnNode("n1")
	if diff := cmp.Diff([]string{"work-0"}, names(live)); diff != "" {
		t.Errorf("live pods (-want +got):\n%s", diff)
	}
}

func TestNodes(t *testing.T) {
	updated := newNode("n1")
	updated.Metadata.Uid = "uid-other"
	updated.Metadata.CreationTimestamp = at(50)
	updated.Status.Conditions[0].Status = "False"
	wantUpdated := newNode("n1")
	wantUpdated.Status.Conditions[0].Status = "False"

	tests := []struct {
		name     string
		setup    []*api.Command
		cmd      *api.Command
		wantErr  error
		wantNode *api.Node // nil: absent
		wantEvts int
	}{
		{name: "new node", cmd: upsertNode(newNode("n1")), wantNode: newNode("n1")},
		{
			name:     "update keeps uid and creation time",
			setup:    []*api.Command{upsertNode(newNode("n1"))},
			cmd:      upsertNode(updated),
			wantNode: wantUpdated,
		},
		{
			name:  "delete removes the node and its events",
			setup: []*api.Command{upsertNode(newNode("n1")), recordEvents(newEvent("n1.ready", "Node", "n1", "NodeReady", 1))},
			cmd:   deleteNode("n1"),
		},
		{name: "delete of a missing node", cmd: deleteNode("n1"), wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(tt.setup...)
			if err := h.apply(tt.cmd)[0]; !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			s := h.state()
			if diff := diffObjects(tt.wantNode, s.Node("n1"), ignoreVersion); diff != "" {
				t.Errorf("node (-want +got):\n%s", diff)
			}
			if got := len(s.Events("Node", "", "n1")); got != tt.wantEvts {
				t.Errorf("%d events about the node, want %d", got, tt.wantEvts)
			}
		})
	}
}

func TestRecordEvents(t *testing.T) {
	again := newEvent("job-a.create", "Job", "a", "SuccessfulCreate", 30)
	again.Message = "created again"
	many := make([]*api.Event, maxEventsPerObject+5)
	for i := range many {
		many[i] = newEvent(fmt.Sprintf("job-a.e%03d", i), "Job", "a", "Tick", 100+i)
	}
	tests := []struct {
		name  string
		setup []*api.Command
		cmd   *api.Command
		want  []*api.Event // events about Job a, oldest first
	}{
		{
			name: "new events are stored",
			cmd:  recordEvents(newEvent("job-a.create", "Job", "a", "SuccessfulCreate", 10), newEvent("job-a.done", "Job", "a", "Completed", 20)),
			want: []*api.Event{newEvent("job-a.create", "Job", "a", "SuccessfulCreate", 10), newEvent("job-a.done", "Job", "a", "Completed", 20)},
		},
		{
			name:  "a repeat aggregates count and timestamps",
			setup: []*api.Command{recordEvents(newEvent("job-a.create", "Job", "a", "SuccessfulCreate", 10))},
			cmd:   recordEvents(again),
			want: []*api.Event{func() *api.Event {
				e := newEvent("job-a.create", "Job", "a", "SuccessfulCreate", 10)
				e.Count, e.LastTimestamp, e.Message = 2, at(30), "created again"
				return e
			}()},
		},
		{
			name: "events about other objects are apart",
			cmd:  recordEvents(newEvent("job-b.create", "Job", "b", "SuccessfulCreate", 10), newEvent("pod-a.create", "Pod", "a", "Scheduled", 10)),
			want: nil,
		},
		{
			name: "only the newest events of an object are kept",
			cmd:  recordEvents(many...),
			want: many[len(many)-maxEventsPerObject:],
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(tt.setup...)
			h.must(tt.cmd)
			if diff := diffObjects(tt.want, h.state().Events("Job", "", "a"), ignoreVersion); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordEventsKeepsNewestAcrossBatches(t *testing.T) {
	h := newHarness(t)
	for i := range maxEventsPerObject + 3 {
		h.must(recordEvents(newEvent(fmt.Sprintf("pod-x.e%03d", i), "Pod", "x", "Tick", i)))
	}
	got := h.state().Events("Pod", "", "x")
	if len(got) != maxEventsPerObject {
		t.Fatalf("%d events kept, want %d", len(got), maxEventsPerObject)
	}
	if first := got[0].GetMetadata().GetName(); first != "pod-x.e003" {
		t.Errorf("oldest kept event = %s, want pod-x.e003", first)
	}
}

func TestCommandsAppliedTwice(t *testing.T) {
	job := newJob("work", parallelism(3), completions(4))
	finished := &api.JobStatus{Succeeded: 4, Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "True", LastTransitionTime: at(9)}}}
	suspendedCron := newCronJob("tick")
	suspendedCron.Spec.Suspend = proto.Bool(true)
	renamedNode := newNode("n1")
	renamedNode.Metadata.Labels["zone"] = "b"
	setup := []*api.Command{
		upsertNode(newNode("n1")),
		upsertJob(job, true),
		createPods(pods(job, 2)...),
		bindPods(3, "work-0", "n1"),
		upsertCronJob(newCronJob("tick"), true),
		recordEvents(newEvent("work.create", "Job", "work", "SuccessfulCreate", 3)),
	}
	tests := []struct {
		name          string
		cmd           *api.Command
		wantSecondErr error
	}{
		{name: "create a job", cmd: upsertJob(newJob("other"), true), wantSecondErr: ErrAlreadyExists},
		{name: "update a job", cmd: upsertJob(newJob("work", parallelism(1), completions(4)), false)},
		{name: "delete a job", cmd: deleteJob("work", "uid-work"), wantSecondErr: ErrNotFound},
		{name: "create a cronjob", cmd: upsertCronJob(newCronJob("other"), true), wantSecondErr: ErrAlreadyExists},
		{name: "update a cronjob", cmd: upsertCronJob(suspendedCron, false)},
		{name: "delete a cronjob", cmd: deleteCronJob("tick"), wantSecondErr: ErrNotFound},
		{name: "create pods", cmd: createPods(newPod(job, "work-2", -1))},
		{name: "update pod status", cmd: updatePodStatus(phase("work-0", "n1", api.PodSucceeded))},
		{name: "stop pods", cmd: stopPods("ExcessPod", 5, "work-0", "work-1")},
		{name: "delete pods", cmd: deletePods("work-1")},
		{name: "update job status", cmd: updateJobStatus("work", "uid-work", &api.JobStatus{Active: 2, StartTime: at(2)})},
		{name: "finish a job", cmd: updateJobStatus("work", "uid-work", finished), wantSecondErr: ErrFinished},
		{name: "upsert a node", cmd: upsertNode(renamedNode)},
		{name: "delete a node", cmd: deleteNode("n1"), wantSecondErr: ErrNotFound},
		{name: "record events", cmd: recordEvents(newEvent("work.create", "Job", "work", "SuccessfulCreate", 8))},
		{name: "bind pods", cmd: bindPods(4, "work-1", "n1")},
		{name: "cron decision creating a job", cmd: cronDecision("tick", 1, "Created", cronJobAt("tick", 1))},
		{name: "cron decision skipping a run", cmd: cronDecision("tick", 1, "MissSchedule", nil)},
		{name: "update cronjob status", cmd: updateCronJobStatus("tick", "uid-tick", &api.CronJobStatus{LastSuccessfulTime: at(60)})},
	}
	ignoreIndex := cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Index" }, cmp.Ignore())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(setup...)
			before := dump(h.state())
			h.must(tt.cmd)
			once := dump(h.state())
			if diffObjects(before, once, ignoreVersion, ignoreIndex) == "" {
				t.Fatal("the command changed nothing")
			}
			if err := h.apply(tt.cmd)[0]; !errors.Is(err, tt.wantSecondErr) {
				t.Errorf("second apply: error = %v, want %v", err, tt.wantSecondErr)
			}
			if diff := diffObjects(once, dump(h.state()), ignoreVersion, ignoreIndex); diff != "" {
				t.Errorf("state after the second apply (-once +twice):\n%s", diff)
			}
		})
	}
}

// A command that is decodable but malformed is refused with an error: a
// panic would stop every replica at the same entry, again at each restart.
func TestMalformedCommandsAreRefused(t *testing.T) {
	nameless := func() *api.Job { j := newJob("x"); j.Metadata.Name = ""; return j }
	namelessPod := newPod(newJob("a", parallelism(2), completions(2)), "", -1)
	namelessEvent := newEvent("", "Job", "a", "X", 1)
	cronJobless := cronJobAt("tick", 1)
	cronJobless.Metadata = nil
	tests := []struct {
		name    string
		cmd     *api.Command
		wantErr bool
	}{
		{name: "upsert without a job", cmd: upsertJob(nil, false), wantErr: true},
		{name: "upsert of a job without a name", cmd: upsertJob(nameless(), true), wantErr: true},
		{name: "upsert without a cronjob", cmd: upsertCronJob(nil, true), wantErr: true},
		{name: "upsert of a cronjob without metadata", cmd: upsertCronJob(&api.CronJob{}, false), wantErr: true},
		{name: "upsert without a node", cmd: upsertNode(nil), wantErr: true},
		{name: "upsert of a node without a name", cmd: upsertNode(&api.Node{Metadata: &api.ObjectMeta{}}), wantErr: true},
		{name: "cron decision with a job without metadata", cmd: cronDecision("tick", 1, "Created", cronJobless), wantErr: true},
		{name: "event without a name", cmd: recordEvents(namelessEvent, newEvent("ok", "Job", "a", "X", 1)), wantErr: true},
		{name: "pod without a name", cmd: createPods(namelessPod)},
		{name: "pod without anything", cmd: createPods(&api.Pod{})},
		{name: "status update without a status", cmd: updatePodStatus(&api.PodStatusUpdate{Name: "a-0"})},
		{name: "job status without a status", cmd: updateJobStatus("a", "uid-a", nil)},
		{name: "empty payload", cmd: &api.Command{Type: api.CommandType_COMMAND_TYPE_STOP_PODS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			a := newJob("a", parallelism(2), completions(2))
			h.must(upsertJob(a, true), upsertCronJob(newCronJob("tick"), true), createPods(pods(a, 1)...))
			before := dump(h.state())
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("apply panicked: %v", r)
					}
				}()
				err = h.apply(tt.cmd)[0]
			}()
			if (err != nil) != tt.wantErr {
				t.Errorf("error = %v, want an error: %v", err, tt.wantErr)
			}
			for _, j := range h.state().Jobs() {
				if j.GetMetadata().GetName() == "" {
					t.Error("a job without a name was stored")
				}
			}
			if got := len(h.state().Pods()); got != len(before.Pods) {
				t.Errorf("%d pods, want %d", got, len(before.Pods))
			}
		})
	}
}

// TestApplyBatchStoresCopies: a caller of ApplyBatch keeps its commands,
// and changing them afterwards changes nothing stored. Apply keeps the
// objects it decoded instead (every test's harness goes through it).
func TestApplyBatchStoresCopies(t *testing.T) {
	f := New(nil)
	job := newJob("work", parallelism(2), completions(2))
	bound, pending := newPod(job, "work-0", -1), newPod(job, "work-1", -1)
	update := phase("work-0", "n1", api.PodRunning)
	update.LogTails = []*api.ContainerLogTail{{Container: "main", Data: []byte("started\n")}}
	ev := newEvent("ev-1", "Pod", "work-0", "Started", 4)
	status := &api.JobStatus{Active: 2, StartTime: at(3)}
	index := uint64(0)
	for _, cmds := range [][]*api.Command{
		{upsertNode(newNode("n1")), upsertJob(job, true)},
		{createPods(bound, pending)},
		{bindPods(3, "work-0", "n1")},
		{updatePodStatus(update), recordEvents(ev), updateJobStatus("work", "uid-work", status)},
	} {
		index++
		if res := f.ApplyBatch(index, &api.CommandBatch{Commands: cmds}); errors.Join(res.Errors...) != nil {
			t.Fatalf("entry %d refused: %v", index, res.Errors)
		}
	}
	// stored reads what each command's object became in the store.
	stored := func() []string {
		st := f.State()
		evs := st.Events("Pod", "default", "work-0")
		if len(evs) != 1 {
			t.Fatalf("events about work-0: %d, want 1", len(evs))
		}
		return []string{
			"pending pod's labels: " + fmt.Sprint(st.Pod("work-1").GetMetadata().GetLabels()),
			"reported phase: " + st.Pod("work-0").GetStatus().GetPhase(),
			"event: " + evs[0].GetMessage(),
			"log tail: " + string(st.LogTail("work-0", "main", false).GetTail().GetData()),
			"job's active: " + fmt.Sprint(st.Job("default", "work").GetStatus().GetActive()),
		}
	}
	before := stored()
	pending.Metadata.Labels["app"] = "changed"
	update.Status.Phase = api.PodFailed
	ev.Message = "changed"
	update.LogTails[0].Data[0] = 'S'
	status.Active = 7
	if diff := cmp.Diff(before, stored()); diff != "" {
		t.Errorf("changing the commands after ApplyBatch changed the store (-before +after):\n%s", diff)
	}
}
