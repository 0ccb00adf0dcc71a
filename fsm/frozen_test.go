package fsm

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// storedFrozen reports whether the store keeps the named object encoded.
func storedFrozen(t testing.TB, f *FSM, table, name string) bool {
	t.Helper()
	key := name
	if table == tableJobs {
		key = api.Key("", name)
	}
	o, err := f.db.Txn(false).First(table, "id", key)
	if err != nil || o == nil {
		t.Fatalf("%s %q not stored (err %v)", table, name, err)
	}
	_, ok := o.(*frozen)
	return ok
}

// finishTwoPods runs Job "done" with two pods on n1 to success, without
// the Job's final status yet.
func finishTwoPods(h *harness, opts ...jobOpt) {
	h.t.Helper()
	h.must(upsertNode(newNode("n1")), upsertJob(newJob("done", append([]jobOpt{parallelism(2), completions(2)}, opts...)...), true))
	h.must(createPods(pods(newJob("done"), 2)...))
	h.must(bindPods(3, "done-0", "n1", "done-1", "n1"))
	h.must(updatePodStatus(phase("done-0", "n1", api.PodSucceeded), phase("done-1", "n1", api.PodSucceeded)))
}

var completeStatus = &api.JobStatus{Succeeded: 2, StartTime: at(2), CompletionTime: at(8),
	Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "True", LastTransitionTime: at(8)}}}

func TestFinishedJobReadsBackUnchanged(t *testing.T) {
	h := newHarness(t)
	finishTwoPods(h)
	before := h.state()
	wantPods := before.Pods()
	wantJob := clone(before.Job("", "done"))
	if storedFrozen(t, h.f, tableJobs, "done") {
		t.Fatalf("running Job is stored encoded; its controller reads it on every pass")
	}

	h.must(updateJobStatus("done", "uid-done", completeStatus))
	wantJob.Status = completeStatus
	wantJob.Metadata.ResourceVersion = "5"

	for _, n := range []struct{ table, name string }{{tableJobs, "done"}, {tablePods, "done-0"}, {tablePods, "done-1"}} {
		if !storedFrozen(t, h.f, n.table, n.name) {
			t.Errorf("%s %q of a finished Job is not stored encoded", n.table, n.name)
		}
	}
	st := h.state()
	if diff := diffObjects(wantJob, st.Job("", "done")); diff != "" {
		t.Errorf("Job read back differs (-want +got):\n%s", diff)
	}
	if diff := diffObjects(wantPods, st.Pods()); diff != "" {
		t.Errorf("pods read back differ; freezing must not change them, resourceVersion included (-want +got):\n%s", diff)
	}
	if diff := diffObjects(wantPods, st.PodsOfJob("", "done")); diff != "" {
		t.Errorf("PodsOfJob differs (-want +got):\n%s", diff)
	}
	if live, _ := st.LivePodsOnNode("n1"); len(live) != 0 {
		t.Errorf("LivePodsOnNode(n1) = %v, want none", names(live))
	}
	if got := names(st.LiveJobs()); len(got) != 0 {
		t.Errorf("LiveJobs = %v, want none", got)
	}
	if first, again := st.Job("", "done"), st.Job("", "done"); first == again {
		t.Errorf("two reads of a frozen Job share one object; callers that clone-and-change rely on fresh copies or on never changing them")
	}
}

func TestFinishedJobWithTTLStaysDecoded(t *testing.T) {
	h := newHarness(t)
	finishTwoPods(h, func(j *api.Job) { j.Spec.TtlSecondsAfterFinished = proto.Int32(60) })
	h.must(updateJobStatus("done", "uid-done", completeStatus))
	if storedFrozen(t, h.f, tableJobs, "done") {
		t.Errorf("a Job waiting for its TTL is stored encoded; the TTL controller visits it")
	}
	if got := names(h.state().LiveJobs()); len(got) != 1 {
		t.Errorf("LiveJobs = %v, want [done]", got)
	}
}

// A running Job's Succeeded pods are stored encoded at once, and its
// controller and CreatePods count them by their brief; its Failed pods,
// which the controller reads whole, stay decoded until the Job is cold.
func TestSucceededPodsOfARunningJobAreCountedInBrief(t *testing.T) {
	h := newHarness(t)
	job := newJob("big", parallelism(3), completions(4), indexed())
	h.must(upsertNode(newNode("n1")), upsertJob(job, true))
	h.must(createPods(newPod(job, "big-0", 0), newPod(job, "big-1", 1), newPod(job, "big-2", 2)))
	h.must(bindPods(3, "big-0", "n1", "big-1", "n1", "big-2", "n1"))
	done := phase("big-0", "n1", api.PodSucceeded)
	done.Status.ContainerStatuses = []*api.ContainerStatus{{Name: "main", State: &api.ContainerState{
		Terminated: &api.ContainerStateTerminated{FinishedAt: at(7)}}}}
	h.must(updatePodStatus(done, phase("big-1", "n1", api.PodFailed), phase("big-2", "n1", api.PodRunning)))

	for _, n := range []struct {
		name   string
		frozen bool
	}{{"big-0", true}, {"big-1", false}, {"big-2", false}} {
		if got := storedFrozen(t, h.f, tablePods, n.name); got != n.frozen {
			t.Errorf("pod %s stored encoded = %v, want %v", n.name, got, n.frozen)
		}
	}
	st := h.state()
	whole, brief := st.JobPods("", "big")
	if diff := cmp.Diff([]string{"big-1", "big-2"}, names(whole)); diff != "" {
		t.Errorf("JobPods whole pods (-want +got):\n%s", diff)
	}
	want := api.SucceededSum{Count: 1, LastFinished: at(7).AsTime(), Indexes: []int{0}}
	if diff := cmp.Diff(want, brief); diff != "" {
		t.Errorf("JobPods sum of the succeeded in brief (-want +got):\n%s", diff)
	}
	if got := st.Pod("big-0"); got.GetStatus().GetPhase() != api.PodSucceeded || api.PodFinishTime(got) != at(7).AsTime() {
		t.Errorf("big-0 read back as phase %q finished %v, want Succeeded at %v", got.GetStatus().GetPhase(), api.PodFinishTime(got), at(7).AsTime())
	}

	// Index 0 succeeded: CreatePods counts it from the brief and refuses
	// another pod for it, and takes one for index 3.
	h.must(createPods(newPod(job, "big-0-again", 0), newPod(job, "big-3", 3)))
	if diff := cmp.Diff([]string{"big-0", "big-1", "big-2", "big-3"}, names(h.state().PodsOfJob("", "big"))); diff != "" {
		t.Errorf("pods after CreatePods for a succeeded index and a free one (-want +got):\n%s", diff)
	}

	// Once the Job is cold its Failed pod freezes too.
	h.must(updateJobStatus("big", "uid-big", &api.JobStatus{Failed: 1, StartTime: at(2),
		Conditions: []*api.JobCondition{{Type: api.JobFailed, Status: "True", LastTransitionTime: at(8)}}}))
	if !storedFrozen(t, h.f, tablePods, "big-1") {
		t.Errorf("failed pod of a cold Job is not stored encoded")
	}
}

func TestPodFinishingAfterItsJobFreezes(t *testing.T) {
	h := newHarness(t)
	h.must(upsertNode(newNode("n1")), upsertJob(newJob("late", parallelism(2), completions(2)), true))
	h.must(createPods(pods(newJob("late"), 2)...))
	h.must(bindPods(3, "late-0", "n1", "late-1", "n1"))
	h.must(updatePodStatus(phase("late-0", "n1", api.PodFailed)))
	h.must(updateJobStatus("late", "uid-late", &api.JobStatus{Failed: 1, StartTime: at(2),
		Conditions: []*api.JobCondition{{Type: api.JobFailed, Status: "True", LastTransitionTime: at(8)}}}))
	if storedFrozen(t, h.f, tablePods, "late-1") {
		t.Fatalf("a running pod is stored encoded")
	}
	if live, _ := h.state().LivePodsOnNode("n1"); len(live) != 1 {
		t.Fatalf("LivePodsOnNode(n1) = %v, want [late-1]", names(live))
	}
	h.must(updatePodStatus(phase("late-1", "n1", api.PodFailed)))
	if !storedFrozen(t, h.f, tablePods, "late-1") {
		t.Errorf("pod that finished after its Job is not stored encoded")
	}
	if got := h.state().Pod("late-1").GetStatus().GetPhase(); got != api.PodFailed {
		t.Errorf("late-1 phase = %q, want Failed", got)
	}
	// A finished pod never changes again, frozen or not.
	h.must(updatePodStatus(phase("late-1", "n1", api.PodSucceeded)))
	if got := h.state().Pod("late-1").GetStatus().GetPhase(); got != api.PodFailed {
		t.Errorf("late-1 phase after a second report = %q, want Failed", got)
	}
}

func TestFrozenJobUpdateAndDelete(t *testing.T) {
	h := newHarness(t)
	finishTwoPods(h)
	h.must(updateJobStatus("done", "uid-done", completeStatus))

	changed := newJob("done", parallelism(2), completions(2))
	changed.Metadata.Labels["team"] = "a"
	h.must(upsertJob(changed, false))
	got := h.state().Job("", "done")
	if got.GetMetadata().GetLabels()["team"] != "a" || !proto.Equal(got.GetStatus(), completeStatus) {
		t.Errorf("updated finished Job = labels %v status %v; want the new label and the old status", got.GetMetadata().GetLabels(), got.GetStatus())
	}
	if !storedFrozen(t, h.f, tableJobs, "done") {
		t.Errorf("updated finished Job is no longer stored encoded")
	}

	h.must(deleteJob("done", "uid-done"))
	st := h.state()
	if st.Job("", "done") != nil || len(st.Pods()) != 0 || len(st.PodsOfJob("", "done")) != 0 {
		t.Errorf("after delete: job %v, pods %v; want neither", st.Job("", "done"), names(st.Pods()))
	}
}

func TestFrozenCronJobJobs(t *testing.T) {
	h := newHarness(t)
	h.must(upsertCronJob(newCronJob("tick"), true))
	j := cronJobAt("tick", 1)
	h.must(cronDecision("tick", 1, "Created", j))
	name := j.GetMetadata().GetName()
	h.must(updateJobStatus(name, j.GetMetadata().GetUid(), completeStatus))
	if !storedFrozen(t, h.f, tableJobs, name) {
		t.Fatalf("finished Job of a CronJob is not stored encoded")
	}
	if got := names(h.state().JobsOfCronJob("", "tick")); len(got) != 1 || got[0] != name {
		t.Errorf("JobsOfCronJob(tick) = %v, want [%s]", got, name)
	}
	h.must(deleteCronJob("tick"))
	if got := names(h.state().Jobs()); len(got) != 0 {
		t.Errorf("Jobs after deleting their CronJob = %v, want none", got)
	}
}

func TestEachJobByLabelReadsFrozenLabels(t *testing.T) {
	h := newHarness(t)
	finishTwoPods(h)
	h.must(updateJobStatus("done", "uid-done", completeStatus))
	running := newJob("running")
	running.Metadata.Labels = map[string]string{"app": "done", "tier": "b"}
	h.must(upsertJob(running, true))
	if !storedFrozen(t, h.f, tableJobs, "done") {
		t.Fatalf("finished Job is not stored encoded")
	}
	st := h.state()
	collect := func(after string, keep func(LabelLookup) bool) []string {
		var out []string
		for j := range st.EachJob(after, keep) {
			out = append(out, j.GetMetadata().GetName())
		}
		return out
	}
	has := func(key, want string) func(LabelLookup) bool {
		return func(l LabelLookup) bool { v, ok := l(key); return ok && v == want }
	}
	for _, tt := range []struct {
		name  string
		after string
		keep  func(LabelLookup) bool
		want  []string
	}{
		{"all", "", nil, []string{"done", "running"}},
		{"app=done matches both", "", has("app", "done"), []string{"done", "running"}},
		{"tier=b only the running one", "", has("tier", "b"), []string{"running"}},
		{"missing key", "", func(l LabelLookup) bool { _, ok := l("tier"); return !ok }, []string{"done"}},
		{"none", "", has("app", "other"), nil},
		{"after a key before both", api.Key("", "d"), nil, []string{"done", "running"}},
		{"after the finished one's key", api.Key("", "done"), nil, []string{"running"}},
		{"after the finished one's key, by label", api.Key("", "done"), has("app", "done"), []string{"running"}},
		{"after the last key", api.Key("", "running"), nil, nil},
		{"after a key between", api.Key("", "done-"), nil, []string{"running"}},
	} {
		if diff := diffObjects(tt.want, collect(tt.after, tt.keep)); diff != "" {
			t.Errorf("%s: EachJob (-want +got):\n%s", tt.name, diff)
		}
	}
	for j := range st.EachJob("", has("app", "done")) {
		if diff := diffObjects(st.Job("", j.GetMetadata().GetName()), j); diff != "" {
			t.Errorf("EachJob yields %s unlike Job (-want +got):\n%s", j.GetMetadata().GetName(), diff)
		}
	}
	var pods []string
	for p := range st.EachPod("", has(api.LabelJobName, "done")) {
		pods = append(pods, p.GetMetadata().GetName())
	}
	if diff := diffObjects([]string{"done-0", "done-1"}, pods); diff != "" {
		t.Errorf("EachPod by job-name of frozen pods (-want +got):\n%s", diff)
	}
	pods = nil
	for p := range st.EachPod("done-0", has(api.LabelJobName, "done")) {
		pods = append(pods, p.GetMetadata().GetName())
	}
	if diff := diffObjects([]string{"done-1"}, pods); diff != "" {
		t.Errorf("EachPod after done-0 (-want +got):\n%s", diff)
	}
}

// PodIdentity reads a stored pod's UID and node whether the pod is stored
// decoded or encoded, and agrees with Pod.
func TestPodIdentity(t *testing.T) {
	h := newHarness(t)
	finishTwoPods(h)
	h.must(upsertJob(newJob("running", parallelism(2), completions(2)), true))
	h.must(createPods(pods(newJob("running"), 2)...))
	h.must(bindPods(4, "running-0", "n1"))
	h.must(updatePodStatus(phase("done-1", "n1", api.PodSucceeded)))
	h.must(updateJobStatus("done", "uid-done", completeStatus))
	if !storedFrozen(t, h.f, tablePods, "done-0") || storedFrozen(t, h.f, tablePods, "running-0") {
		t.Fatal("the test needs done-0 stored encoded and running-0 decoded")
	}
	st := h.state()
	for _, tc := range []struct {
		pod, uid, node string
		ok             bool
	}{
		{"done-0", "uid-done-0", "n1", true},
		{"done-1", "uid-done-1", "n1", true},
		{"running-0", "uid-running-0", "n1", true},
		{"running-1", "uid-running-1", "", true},
		{"absent", "", "", false},
	} {
		uid, node, ok := st.PodIdentity(tc.pod)
		if uid != tc.uid || node != tc.node || ok != tc.ok {
			t.Errorf("PodIdentity(%q) = %q, %q, %v; want %q, %q, %v", tc.pod, uid, node, ok, tc.uid, tc.node, tc.ok)
		}
		if p := st.Pod(tc.pod); p.GetMetadata().GetUid() != uid || p.GetSpec().GetNodeName() != node {
			t.Errorf("Pod(%q) has UID %q and node %q, PodIdentity says %q and %q",
				tc.pod, p.GetMetadata().GetUid(), p.GetSpec().GetNodeName(), uid, node)
		}
	}
}

// frozenIdentity reads an encoding the way proto.Unmarshal does: a
// message field that occurs twice merges, and of a string that occurs
// twice the last one counts.
func TestFrozenIdentityMergesRepeatedFields(t *testing.T) {
	part := func(p *api.Pod) []byte {
		b, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var enc []byte
	enc = append(enc, part(&api.Pod{Metadata: &api.ObjectMeta{Name: "p", Uid: "first"}, Spec: &api.PodSpec{NodeName: "n1"}})...)
	enc = append(enc, part(&api.Pod{Metadata: &api.ObjectMeta{Uid: "second"}})...)
	enc = append(enc, part(&api.Pod{Metadata: &api.ObjectMeta{Name: "p"}, Spec: &api.PodSpec{Hostname: "h"}})...)
	want := &api.Pod{}
	if err := proto.Unmarshal(enc, want); err != nil {
		t.Fatal(err)
	}
	uid, node := frozenIdentity(&frozen{name: "p", data: compress(enc)})
	if uid != want.GetMetadata().GetUid() || node != want.GetSpec().GetNodeName() {
		t.Errorf("frozenIdentity = %q, %q; proto.Unmarshal reads %q, %q", uid, node, want.GetMetadata().GetUid(), want.GetSpec().GetNodeName())
	}
	if uid != "second" || node != "n1" {
		t.Errorf("frozenIdentity = %q, %q; want %q, %q", uid, node, "second", "n1")
	}
}

// LivePods reads only the pods not yet finished, of every node or one,
// whether they wait for a node or run on one, and of a finished Job none.
func TestLivePodsAreTheUnfinishedOnes(t *testing.T) {
	h := newHarness(t)
	h.must(upsertNode(newNode("n1")), upsertNode(newNode("n2")),
		upsertJob(newJob("run", parallelism(6), completions(6)), true), upsertJob(newJob("done"), true))
	h.must(createPods(pods(newJob("run"), 6)...), createPods(pods(newJob("done"), 1)...))
	h.must(bindPods(3, "run-1", "n1", "run-2", "n1", "run-3", "n2", "run-4", "n2", "run-5", "n2", "done-0", "n1"))
	h.must(updatePodStatus(phase("run-1", "n1", api.PodRunning), phase("run-2", "n1", api.PodSucceeded),
		phase("run-3", "n2", api.PodFailed), phase("run-4", "n2", api.PodRunning), phase("done-0", "n1", api.PodSucceeded)))
	h.must(updateJobStatus("done", "uid-done", &api.JobStatus{Succeeded: 1, StartTime: at(2), CompletionTime: at(8),
		Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "True", LastTransitionTime: at(8)}}}))
	for _, tt := range []struct {
		node string
		want []string
	}{
		{"", []string{"run-0", "run-1", "run-4", "run-5"}},
		{"n1", []string{"run-1"}},
		{"n2", []string{"run-4", "run-5"}},
		{"n3", []string{}},
	} {
		if diff := cmp.Diff(tt.want, names(h.state().LivePods(tt.node))); diff != "" {
			t.Errorf("LivePods(%q) (-want +got):\n%s", tt.node, diff)
		}
	}
}

// TestJobFailedReadsTheEncodedConditions: a restore tells a frozen Job's
// outcome from its encoding, as api.JobStateOf tells it from the Job.
func TestJobFailedReadsTheEncodedConditions(t *testing.T) {
	cond := func(typ, status string) *api.JobCondition {
		return &api.JobCondition{Type: typ, Status: status, Reason: "Because", Message: "a message", LastTransitionTime: at(3)}
	}
	tests := []struct {
		name  string
		conds []*api.JobCondition
		want  bool
	}{
		{"no conditions", nil, false},
		{"complete", []*api.JobCondition{cond(api.JobSuccessCriteriaMet, api.ConditionTrue), cond(api.JobComplete, api.ConditionTrue)}, false},
		{"failed", []*api.JobCondition{cond(api.JobFailureTarget, api.ConditionTrue), cond(api.JobFailed, api.ConditionTrue)}, true},
		{"failed condition not true", []*api.JobCondition{cond(api.JobFailed, api.ConditionFalse)}, false},
		{"complete wins over failed", []*api.JobCondition{cond(api.JobFailed, api.ConditionTrue), cond(api.JobComplete, api.ConditionTrue)}, false},
		{"complete not true", []*api.JobCondition{cond(api.JobComplete, api.ConditionFalse), cond(api.JobFailed, api.ConditionTrue)}, true},
		{"the first condition of a type counts", []*api.JobCondition{cond(api.JobFailed, api.ConditionFalse), cond(api.JobFailed, api.ConditionTrue)}, false},
		{"suspended", []*api.JobCondition{cond(api.JobSuspended, api.ConditionTrue)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJob("j")
			j.Status = &api.JobStatus{Succeeded: 3, Failed: 1, StartTime: at(1), Conditions: tt.conds}
			if got := api.JobStateOf(j) == api.JobStateFailed; got != tt.want {
				t.Fatalf("api.JobStateOf failed = %v, want %v: the table is wrong", got, tt.want)
			}
			b, err := proto.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			if got := jobFailed(b); got != tt.want {
				t.Errorf("jobFailed = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestJobSummariesAreTheJobs: the summaries listed are those of the Jobs
// stored, in key order, filtered by label; a finished Job's is kept from
// when it froze, and after a restore it is made once, when first asked
// for.
func TestJobSummariesAreTheJobs(t *testing.T) {
	h := newHarness(t)
	h.must(upsertJob(newJob("run", completions(3)), true), upsertJob(newJob("done"), true), upsertJob(newJob("broke"), true))
	h.must(updateJobStatus("run", "uid-run", &api.JobStatus{Active: 1, Succeeded: 1, StartTime: at(1)}))
	h.must(updateJobStatus("done", "uid-done", &api.JobStatus{Succeeded: 1, StartTime: at(1), CompletionTime: at(5),
		Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: api.ConditionTrue, LastTransitionTime: at(5)}}}))
	h.must(updateJobStatus("broke", "uid-broke", &api.JobStatus{Failed: 1, StartTime: at(2),
		Conditions: []*api.JobCondition{{Type: api.JobFailed, Status: api.ConditionTrue, LastTransitionTime: at(7)}}}))
	for _, name := range []string{"done", "broke"} {
		if !storedFrozen(t, h.f, tableJobs, name) {
			t.Fatalf("Job %s is not frozen", name)
		}
	}
	decoded := func(s *State) []*api.JobSummary {
		var out []*api.JobSummary
		for _, j := range s.Jobs() {
			sum := api.SummarizeJob(j)
			out = append(out, &sum)
		}
		return out
	}
	want := decoded(h.state())
	if got := h.state().JobSummaries(nil); !cmp.Equal(got, want) {
		t.Fatalf("summaries (-want +got):\n%s", cmp.Diff(want, got))
	}
	if got := h.state().JobSummaries(func(l LabelLookup) bool { v, _ := l("app"); return v == "broke" }); len(got) != 1 || !cmp.Equal(got[0], want[0]) {
		t.Errorf("summaries of app=broke: %v, want the one of broke: %v", got, want[0])
	}
	if d := want[1]; d.Name != "done" || d.State != api.JobStateComplete || d.Duration(time.Time{}) != 4*time.Second {
		t.Errorf("done's summary %+v, want Complete after 4 s", d)
	}
	if sum := kept(t, h.f, "broke"); sum == nil || sum.State != api.JobStateFailed {
		t.Errorf("broke keeps the summary %v, want it kept Failed from when it froze", sum)
	}

	g := restored(t, h.f)
	if sum := kept(t, g, "broke"); sum != nil {
		t.Errorf("a restore made broke's summary %v before anything asked for it", sum)
	}
	first := g.State().JobSummaries(nil)
	if !cmp.Equal(first, want) {
		t.Errorf("summaries after restore (-want +got):\n%s", cmp.Diff(want, first))
	}
	if again := g.State().JobSummaries(nil); again[0] != first[0] {
		t.Error("broke's summary was made again after a restore, want it kept once made")
	}
}

// kept is the summary the store keeps beside a frozen Job, nil for none.
func kept(t *testing.T, f *FSM, name string) *api.JobSummary {
	t.Helper()
	o, err := f.db.Txn(false).First(tableJobs, "id", api.Key("", name))
	if err != nil || o == nil {
		t.Fatalf("Job %q not stored (err %v)", name, err)
	}
	fr, ok := o.(*frozen)
	if !ok {
		t.Fatalf("Job %q is not frozen", name)
	}
	return fr.summary.Load()
}
