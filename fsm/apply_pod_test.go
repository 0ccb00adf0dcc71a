package fsm

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

func TestCreatePods(t *testing.T) {
	plain := newJob("j", parallelism(2), completions(5))
	queue := newJob("j", parallelism(3), workQueue())
	idx := newJob("j", parallelism(3), completions(3), indexed())
	ip := func(name string, index int) *api.Pod { return newPod(idx, name, index) }
	status := func(typ string) []*api.Command {
		return []*api.Command{updateJobStatus("j", "uid-j", &api.JobStatus{Conditions: []*api.JobCondition{{Type: typ, Status: "True"}}})}
	}
	otherUID := newJob("j", parallelism(2), completions(5))
	otherUID.Metadata.Uid = "uid-previous"
	unset := newJob("j", completions(3))
	unset.Spec.Parallelism = nil

	tests := []struct {
		name string
		// setup: the Job, its pods already there by phase, then more commands.
		job                        *api.Job
		running, succeeded, failed []*api.Pod
		then                       []*api.Command
		create                     []*api.Pod
		wantCreated                []string
	}{
		{name: "fills up to parallelism", job: plain, create: pods(plain, 3), wantCreated: []string{"j-0", "j-1"}},
		{
			name: "running pods count against parallelism", job: plain,
			running: []*api.Pod{newPod(plain, "old", -1)}, create: pods(plain, 2), wantCreated: []string{"j-0"},
		},
		{
			name: "failed pods do not count", job: plain,
			failed: []*api.Pod{newPod(plain, "old-0", -1), newPod(plain, "old-1", -1)}, create: pods(plain, 3), wantCreated: []string{"j-0", "j-1"},
		},
		{
			name: "never more than the completions still missing", job: newJob("j", parallelism(3), completions(3)),
			succeeded: []*api.Pod{newPod(plain, "done", -1)}, running: []*api.Pod{newPod(plain, "old", -1)}, create: []*api.Pod{newPod(plain, "x", -1), newPod(plain, "y", -1)},
			wantCreated: []string{"x"},
		},
		{
			name: "completions reached", job: newJob("j", parallelism(2), completions(2)),
			succeeded: pods(plain, 2), create: []*api.Pod{newPod(plain, "x", -1)},
		},
		{name: "work queue starts up to parallelism", job: queue, create: pods(queue, 4), wantCreated: []string{"j-0", "j-1", "j-2"}},
		{
			name: "work queue starts nothing after a success", job: queue,
			succeeded: []*api.Pod{newPod(queue, "old", -1)}, create: pods(queue, 1),
		},
		{
			name: "unset parallelism means one", job: unset,
			create: pods(unset, 2), wantCreated: []string{"j-0"},
		},
		{
			name: "zero parallelism starts nothing", job: newJob("j", parallelism(0), completions(3)),
			create: pods(plain, 1),
		},
		{
			name: "indexed: one pod per free index", job: idx,
			create: []*api.Pod{ip("a", 0), ip("b", 1), ip("c", 2)}, wantCreated: []string{"a", "b", "c"},
		},
		{
			name: "indexed: an index that runs is refused", job: idx,
			running: []*api.Pod{ip("old", 1)}, create: []*api.Pod{ip("a", 1), ip("b", 2)}, wantCreated: []string{"b"},
		},
		{
			name: "indexed: an index that succeeded is refused", job: idx,
			succeeded: []*api.Pod{ip("old", 1)}, create: []*api.Pod{ip("a", 1), ip("b", 0)}, wantCreated: []string{"b"},
		},
		{
			name: "indexed: a failed index may run again", job: idx,
			failed: []*api.Pod{ip("old", 1)}, create: []*api.Pod{ip("a", 1)}, wantCreated: []string{"a"},
		},
		{
			name: "indexed: an index out of range is refused", job: idx,
			create: []*api.Pod{ip("a", 3), ip("b", 100), ip("c", -1), ip("d", 2)}, wantCreated: []string{"d"},
		},
		{
			name: "indexed: one index twice in a batch", job: idx,
			create: []*api.Pod{ip("a", 0), ip("b", 0)}, wantCreated: []string{"a"},
		},
		{name: "missing job", job: newJob("other"), create: pods(plain, 1)},
		{name: "job of another uid", job: otherUID, create: pods(plain, 1)},
		{name: "pod without a job label", job: plain, create: func() []*api.Pod {
			p := newPod(plain, "x", -1)
			delete(p.Metadata.Labels, api.LabelJobName)
			return []*api.Pod{p}
		}()},
		{name: "suspended job", job: plain, then: []*api.Command{upsertJob(newJob("j", parallelism(2), completions(5), suspended()), false)}, create: pods(plain, 1)},
		{name: "job with FailureTarget", job: plain, then: status(api.JobFailureTarget), create: pods(plain, 1)},
		{name: "job with SuccessCriteriaMet", job: plain, then: status(api.JobSuccessCriteriaMet), create: pods(plain, 1)},
		{name: "complete job", job: plain, then: status(api.JobComplete), create: pods(plain, 1)},
		{name: "failed job", job: plain, then: status(api.JobFailed), create: pods(plain, 1)},
		{
			name: "a condition that is not true does not block", job: plain,
			then:   []*api.Command{updateJobStatus("j", "uid-j", &api.JobStatus{Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "False"}}})},
			create: pods(plain, 1), wantCreated: []string{"j-0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertJob(tt.job, true))
			var existing []string
			for _, group := range []struct {
				phase string
				pods  []*api.Pod
			}{{api.PodSucceeded, tt.succeeded}, {api.PodFailed, tt.failed}, {api.PodRunning, tt.running}} {
				ph := group.phase
				for _, p := range group.pods {
					p = proto.Clone(p).(*api.Pod)
					p.Metadata.Labels[api.LabelControllerUID] = tt.job.GetMetadata().GetUid()
					h.must(createPods(p), updatePodStatus(phase(p.GetMetadata().GetName(), "", ph)))
					if got := h.state().Pod(p.GetMetadata().GetName()).GetStatus().GetPhase(); got != ph {
						t.Fatalf("setup: pod %s is %q, want %q", p.GetMetadata().GetName(), got, ph)
					}
					existing = append(existing, p.GetMetadata().GetName())
				}
			}
			h.must(tt.then...)
			before := dump(h.state())

			if err := h.apply(createPods(tt.create...))[0]; err != nil {
				t.Fatalf("CreatePods returned %v, want nil: refused pods are dropped", err)
			}
			s := h.state()
			var created []string
			for _, p := range s.Pods() {
				if n := p.GetMetadata().GetName(); !slices.Contains(existing, n) {
					created = append(created, n)
				}
			}
			if diff := cmp.Diff(tt.wantCreated, created); diff != "" {
				t.Errorf("created pods (-want +got):\n%s", diff)
			}
			for _, name := range tt.wantCreated {
				want := podNamed(tt.create, name)
				if diff := diffObjects(want, s.Pod(name), ignoreVersion); diff != "" {
					t.Errorf("stored pod %s (-want +got):\n%s", name, diff)
				}
			}
			if diff := diffObjects(before.Jobs, s.Jobs()); diff != "" {
				t.Errorf("CreatePods changed the Job (-before +after):\n%s", diff)
			}
		})
	}
}

func podNamed(ps []*api.Pod, name string) *api.Pod {
	for _, p := range ps {
		if p.GetMetadata().GetName() == name {
			return p
		}
	}
	return nil
}

func TestCreatePodsKeepsAnExistingPod(t *testing.T) {
	h := newHarness(t)
	job := newJob("j", parallelism(2), completions(2))
	h.must(upsertNode(newNode("n1")), upsertJob(job, true), createPods(newPod(job, "p", -1)), bindPods(3, "p", "n1"))
	want := h.state().Pod("p")
	again := newPod(job, "p", -1)
	again.Spec.Containers[0].Command = []string{"false"}
	h.must(createPods(again))
	if diff := diffObjects(want, h.state().Pod("p")); diff != "" {
		t.Errorf("pod after a second create (-want +got):\n%s", diff)
	}
	if got := len(h.state().Pods()); got != 1 {
		t.Errorf("%d pods, want 1", got)
	}
}

func TestUpdatePodStatus(t *testing.T) {
	type view struct{ Phase, Reason, Message, Node string }
	job := newJob("j", parallelism(2), completions(2))
	withReason := func(u *api.PodStatusUpdate, reason string) *api.PodStatusUpdate {
		u.Status.Reason, u.Status.Message = reason, reason+" from node"
		return u
	}
	withUID := func(u *api.PodStatusUpdate, uid string) *api.PodStatusUpdate { u.Uid = uid; return u }
	tests := []struct {
		name   string
		setup  []*api.Command
		update *api.PodStatusUpdate
		want   view
	}{
		{name: "the node reports running", update: phase("p", "n1", api.PodRunning), want: view{Phase: api.PodRunning, Node: "n1"}},
		{name: "the node reports success", update: phase("p", "n1", api.PodSucceeded), want: view{Phase: api.PodSucceeded, Node: "n1"}},
		{name: "matching uid", update: withUID(phase("p", "n1", api.PodRunning), "uid-p"), want: view{Phase: api.PodRunning, Node: "n1"}},
		{name: "another uid is ignored", update: withUID(phase("p", "n1", api.PodRunning), "uid-old"), want: view{Phase: api.PodPending, Node: "n1"}},
		{name: "another node is ignored", update: phase("p", "n2", api.PodFailed), want: view{Phase: api.PodPending, Node: "n1"}},
		{
			name:   "the leader marks a lost pod failed",
			update: withReason(phase("p", "", api.PodFailed), api.ReasonNodeLost),
			want:   view{Phase: api.PodFailed, Reason: api.ReasonNodeLost, Message: "NodeLost from node", Node: "n1"},
		},
		{
			name:   "a succeeded pod never changes",
			setup:  []*api.Command{updatePodStatus(phase("p", "n1", api.PodSucceeded))},
			update: withReason(phase("p", "", api.PodFailed), api.ReasonNodeLost),
			want:   view{Phase: api.PodSucceeded, Node: "n1"},
		},
		{
			name:   "a failed pod never runs again",
			setup:  []*api.Command{updatePodStatus(phase("p", "n1", api.PodFailed))},
			update: phase("p", "n1", api.PodRunning),
			want:   view{Phase: api.PodFailed, Node: "n1"},
		},
		{
			name:   "the stop reason is kept when the node gives none",
			setup:  []*api.Command{stopPods("DeadlineExceeded", 7, "p")},
			update: phase("p", "n1", api.PodFailed),
			want:   view{Phase: api.PodFailed, Reason: "DeadlineExceeded", Message: "DeadlineExceeded message", Node: "n1"},
		},
		{
			name:   "the node's own reason wins over the stop reason",
			setup:  []*api.Command{stopPods("DeadlineExceeded", 7, "p")},
			update: withReason(phase("p", "n1", api.PodFailed), "Error"),
			want:   view{Phase: api.PodFailed, Reason: "Error", Message: "Error from node", Node: "n1"},
		},
		{name: "an unknown pod is ignored", update: phase("nope", "n1", api.PodRunning), want: view{Phase: api.PodPending, Node: "n1"}},
		{name: "an update without status is ignored", update: &api.PodStatusUpdate{Name: "p", Node: "n1"}, want: view{Phase: api.PodPending, Node: "n1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertNode(newNode("n1")), upsertNode(newNode("n2")), upsertJob(job, true), createPods(newPod(job, "p", -1)), bindPods(2, "p", "n1"))
			h.must(tt.setup...)
			h.must(updatePodStatus(tt.update))
			p := h.state().Pod("p")
			got := view{Phase: p.GetStatus().GetPhase(), Reason: p.GetStatus().GetReason(), Message: p.GetStatus().GetMessage(), Node: p.GetSpec().GetNodeName()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pod (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdatePodStatusKeepsWhatTheNodeLeavesOut(t *testing.T) {
	h := newHarness(t)
	job := newJob("j")
	h.must(upsertNode(newNode("n1")), upsertJob(job, true), createPods(newPod(job, "p", -1)), bindPods(2, "p", "n1"))
	h.must(updatePodStatus(phase("p", "n1", api.PodRunning)))
	h.must(updatePodStatus(&api.PodStatusUpdate{Name: "p", Node: "n1", Status: &api.PodStatus{
		Phase:             api.PodRunning,
		ContainerStatuses: []*api.ContainerStatus{{Name: "main", RestartCount: 1}},
	}}))
	st := h.state().Pod("p").GetStatus()
	want := &api.PodStatus{
		Phase:             api.PodRunning,
		StartTime:         at(3),
		Conditions:        []*api.PodCondition{{Type: "PodScheduled", Status: "True", LastTransitionTime: at(2)}},
		ContainerStatuses: []*api.ContainerStatus{{Name: "main", RestartCount: 1}},
	}
	if diff := diffObjects(want, st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestStopPods(t *testing.T) {
	type view struct {
		Phase, Reason string
		Deletion      int64 // seconds after t0, -1 when unset
	}
	job := newJob("j", parallelism(3), completions(3))
	setup := []*api.Command{
		upsertNode(newNode("n1")), upsertJob(job, true),
		createPods(newPod(job, "bound", -1), newPod(job, "unbound", -1), newPod(job, "done", -1)),
		bindPods(2, "bound", "n1", "done", "n1"),
		updatePodStatus(phase("bound", "n1", api.PodRunning), phase("done", "n1", api.PodSucceeded)),
	}
	tests := []struct {
		name string
		cmds []*api.Command
		want map[string]view
	}{
		{
			name: "a bound pod is marked and keeps running until its node stops it",
			cmds: []*api.Command{stopPods("JobSuspended", 10, "bound")},
			want: map[string]view{"bound": {api.PodRunning, "JobSuspended", 10}, "unbound": {api.PodPending, "", -1}, "done": {api.PodSucceeded, "", -1}},
		},
		{
			name: "an unbound pod fails at once",
			cmds: []*api.Command{stopPods("ExcessPod", 10, "unbound")},
			want: map[string]view{"bound": {api.PodRunning, "", -1}, "unbound": {api.PodFailed, "ExcessPod", 10}, "done": {api.PodSucceeded, "", -1}},
		},
		{
			name: "a finished pod is left alone",
			cmds: []*api.Command{stopPods("ExcessPod", 10, "done", "missing")},
			want: map[string]view{"bound": {api.PodRunning, "", -1}, "unbound": {api.PodPending, "", -1}, "done": {api.PodSucceeded, "", -1}},
		},
		{
			name: "a second stop keeps the first time and reason",
			cmds: []*api.Command{stopPods("JobSuspended", 10, "bound"), stopPods("DeadlineExceeded", 20, "bound")},
			want: map[string]view{"bound": {api.PodRunning, "JobSuspended", 10}, "unbound": {api.PodPending, "", -1}, "done": {api.PodSucceeded, "", -1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(setup...)
			for _, c := range tt.cmds {
				h.must(c)
			}
			got := map[string]view{}
			for _, p := range h.state().Pods() {
				v := view{Phase: p.GetStatus().GetPhase(), Reason: p.GetStatus().GetReason(), Deletion: -1}
				if d := p.GetMetadata().GetDeletionTimestamp(); d != nil {
					v.Deletion = int64(d.AsTime().Sub(t0).Seconds())
				}
				got[p.GetMetadata().GetName()] = v
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pods (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeletePods(t *testing.T) {
	h := newHarness(t)
	job := newJob("j", parallelism(2), completions(2))
	h.must(upsertJob(job, true), createPods(pods(job, 2)...), recordEvents(
		newEvent("j-0.a", "Pod", "j-0", "Scheduled", 1),
		newEvent("j-1.a", "Pod", "j-1", "Scheduled", 1),
		newEvent("j.a", "Job", "j", "SuccessfulCreate", 1),
	))
	h.must(deletePods("j-0", "missing"))
	s := h.state()
	if diff := cmp.Diff([]string{"j-1"}, names(s.Pods())); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"j-1.a", "j.a"}, names(s.AllEvents())); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestBindPods(t *testing.T) {
	type view struct{ Node, Phase string }
	job := newJob("j", parallelism(3), completions(3))
	tests := []struct {
		name    string
		setup   []*api.Command
		bind    *api.Command
		wantErr error
		want    map[string]view
	}{
		{
			name: "pending pods are placed",
			bind: bindPods(5, "a", "n1", "b", "n2"),
			want: map[string]view{"a": {"n1", api.PodPending}, "b": {"n2", api.PodPending}, "c": {"", api.PodPending}},
		},
		{
			name:  "a pod keeps the first node",
			setup: []*api.Command{bindPods(4, "a", "n1")},
			bind:  bindPods(5, "a", "n2"),
			want:  map[string]view{"a": {"n1", api.PodPending}, "b": {"", api.PodPending}, "c": {"", api.PodPending}},
		},
		{
			name:    "an unknown node is refused and the other bindings stand",
			bind:    bindPods(5, "a", "n1", "b", "gone", "c", "n2"),
			wantErr: ErrNotFound,
			want:    map[string]view{"a": {"n1", api.PodPending}, "b": {"", api.PodPending}, "c": {"n2", api.PodPending}},
		},
		{
			name:  "a pod being stopped is not placed",
			setup: []*api.Command{bindPods(4, "a", "n1"), stopPods("ExcessPod", 4, "a", "b")},
			bind:  bindPods(5, "b", "n1"),
			want:  map[string]view{"a": {"n1", api.PodPending}, "b": {"", api.PodFailed}, "c": {"", api.PodPending}},
		},
		{
			name:  "a finished pod is not placed",
			setup: []*api.Command{updatePodStatus(phase("a", "", api.PodFailed))},
			bind:  bindPods(5, "a", "n1", "missing", "n1"),
			want:  map[string]view{"a": {"", api.PodFailed}, "b": {"", api.PodPending}, "c": {"", api.PodPending}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertNode(newNode("n1")), upsertNode(newNode("n2")), upsertJob(job, true),
				createPods(newPod(job, "a", -1), newPod(job, "b", -1), newPod(job, "c", -1)))
			h.must(tt.setup...)
			if err := h.apply(tt.bind)[0]; !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			got := map[string]view{}
			for _, p := range h.state().Pods() {
				got[p.GetMetadata().GetName()] = view{p.GetSpec().GetNodeName(), p.GetStatus().GetPhase()}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pods (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBindPodsSetsPodScheduled(t *testing.T) {
	h := newHarness(t)
	job := newJob("j")
	p := newPod(job, "p", -1)
	p.Status = nil
	h.must(upsertNode(newNode("n1")), upsertJob(job, true), createPods(p), bindPods(5, "p", "n1"))
	want := &api.PodStatus{Phase: api.PodPending, Conditions: []*api.PodCondition{{Type: "PodScheduled", Status: "True", LastTransitionTime: at(5)}}}
	if diff := diffObjects(want, h.state().Pod("p").GetStatus()); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

// TestStatusUpdateKeepsTheRestOfThePod checks that a status update keeps
// every field of the pod but its status and resource version, and leaves
// the version it replaces as it was: withStatus builds the next version
// field by field, so a field added to Pod must be added there too.
func TestStatusUpdateKeepsTheRestOfThePod(t *testing.T) {
	var fields []string
	for i := range (&api.Pod{}).ProtoReflect().Descriptor().Fields().Len() {
		fields = append(fields, string((&api.Pod{}).ProtoReflect().Descriptor().Fields().Get(i).Name()))
	}
	if want := []string{"api_version", "kind", "metadata", "spec", "status"}; !slices.Equal(fields, want) {
		t.Fatalf("Pod has fields %v, withStatus copies %v: copy the new ones there", fields, want)
	}
	h := newHarness(t)
	j := newJob("j")
	p := newPod(j, "j-1", -1)
	p.Metadata.Annotations = map[string]string{"note": "kept"}
	p.Spec.Containers[0].Env = []*api.EnvVar{{Name: "A", Value: "1"}}
	h.apply(upsertNode(newNode("n1")), upsertJob(j, false), createPods(p))
	h.apply(bindPods(3, "j-1", "n1"))
	before := proto.Clone(h.state().Pod("j-1")).(*api.Pod)
	stored := h.state().Pod("j-1")
	h.apply(updatePodStatus(phase("j-1", "n1", api.PodRunning)))
	after := h.state().Pod("j-1")
	if after.GetStatus().GetPhase() != api.PodRunning {
		t.Fatalf("phase %q after the update, want Running", after.GetStatus().GetPhase())
	}
	if after.GetMetadata().GetResourceVersion() == before.GetMetadata().GetResourceVersion() {
		t.Error("the resource version did not change")
	}
	if !proto.Equal(stored, before) {
		t.Errorf("the update changed the version it replaced:\n%v\nwas\n%v", stored, before)
	}
	want := proto.Clone(before).(*api.Pod)
	want.Status = after.GetStatus()
	if diff := diffObjects(want, after, ignoreVersion); diff != "" {
		t.Errorf("the update changed more than the status (-want +got):\n%s", diff)
	}
}

func TestPodsRemovedIndexMovesWhenAPodGoes(t *testing.T) {
	job := newJob("j", parallelism(3), completions(3))
	empty := newJob("empty", parallelism(0), completions(1))
	tests := []struct {
		name  string
		cmd   *api.Command
		moves bool
	}{
		{name: "a pod runs", cmd: updatePodStatus(phase("j-0", "n1", api.PodRunning))},
		{name: "a pod succeeds", cmd: updatePodStatus(phase("j-0", "n1", api.PodSucceeded))},
		{name: "a pod is created", cmd: createPods(newPod(job, "j-2", -1))},
		{name: "a pod is bound", cmd: bindPods(2, "j-1", "n1")},
		{name: "a pod is stopped", cmd: stopPods("DeadlineExceeded", 7, "j-0")},
		{name: "an unknown pod is deleted", cmd: deletePods("nope")},
		{name: "a Job without pods is deleted", cmd: deleteJob("empty", "")},
		{name: "a pod is deleted", cmd: deletePods("j-1"), moves: true},
		{name: "a Job with pods is deleted", cmd: deleteJob("j", ""), moves: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if got := h.state().PodsRemovedIndex(); got != 0 {
				t.Fatalf("before any entry: %d, want 0", got)
			}
			h.must(upsertNode(newNode("n1")), upsertJob(job, true), upsertJob(empty, true))
			h.must(createPods(newPod(job, "j-0", -1), newPod(job, "j-1", -1)), bindPods(1, "j-0", "n1"))
			before := h.state().PodsRemovedIndex()
			if before == 0 {
				t.Fatal("after two entries the index is still 0")
			}
			h.must(tt.cmd)
			got := h.state().PodsRemovedIndex()
			switch {
			case tt.moves && got != h.index:
				t.Errorf("a pod was removed at index %d, PodsRemovedIndex is %d", h.index, got)
			case !tt.moves && got != before:
				t.Errorf("no pod was removed, PodsRemovedIndex moved from %d to %d", before, got)
			}
		})
	}
}

func TestPodsRemovedIndexAfterRestoreIsTheSnapshots(t *testing.T) {
	h := newHarness(t)
	job := newJob("j", parallelism(1), completions(1))
	h.must(upsertJob(job, true), createPods(newPod(job, "j-0", -1)))
	h.must(updatePodStatus(phase("j-0", "", api.PodRunning)))
	if got := h.state().PodsRemovedIndex(); got != 1 {
		t.Fatalf("PodsRemovedIndex %d, want 1 (the first entry)", got)
	}
	// What the restored state held before is unknown: any pod may be gone.
	if got := restored(t, h.f).State().PodsRemovedIndex(); got != h.index {
		t.Errorf("restored at index %d, PodsRemovedIndex %d", h.index, got)
	}
}
