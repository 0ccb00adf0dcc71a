package fsm

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// t0 is the time every test's clock starts at.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus sec seconds, as a proto timestamp.
func at(sec int) *timestamppb.Timestamp {
	return timestamppb.New(t0.Add(time.Duration(sec) * time.Second))
}

// harness applies batches at increasing log indexes, as Raft would.
type harness struct {
	t     *testing.T
	f     *FSM
	index uint64
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{t: t, f: New(nil)}
}

// apply applies one batch at the next index and returns its errors. It
// goes through Apply, as Raft does: the FSM decodes the entry and keeps
// what it decoded, and the test's commands stay the test's.
func (h *harness) apply(cmds ...*api.Command) []error {
	h.t.Helper()
	h.index++
	data, err := Encode(cmds...)
	if err != nil {
		h.t.Fatal(err)
	}
	res := h.f.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: data}).(*Result)
	if len(res.Errors) != len(cmds) {
		h.t.Fatalf("the entry returned %d errors for %d commands", len(res.Errors), len(cmds))
	}
	return res.Errors
}

// must applies one batch and fails the test on any refused command.
func (h *harness) must(cmds ...*api.Command) {
	h.t.Helper()
	for i, err := range h.apply(cmds...) {
		if err != nil {
			h.t.Fatalf("command %d (%v) refused: %v", i, cmds[i].GetType(), err)
		}
	}
}

func (h *harness) state() *State { return h.f.State() }

// ---------------------------------------------------------------- objects

type jobOpt func(*api.Job)

func parallelism(n int32) jobOpt { return func(j *api.Job) { j.Spec.Parallelism = proto.Int32(n) } }
func completions(n int32) jobOpt { return func(j *api.Job) { j.Spec.Completions = proto.Int32(n) } }
func workQueue() jobOpt          { return func(j *api.Job) { j.Spec.Completions = nil } }
func indexed() jobOpt {
	return func(j *api.Job) { j.Spec.CompletionMode = proto.String(api.CompletionModeIndexed) }
}
func suspended() jobOpt { return func(j *api.Job) { j.Spec.Suspend = proto.Bool(true) } }
func withCondition(typ string) jobOpt {
	return func(j *api.Job) {
		if j.Status == nil {
			j.Status = &api.JobStatus{}
		}
		j.Status.Conditions = append(j.Status.Conditions, &api.JobCondition{Type: typ, Status: "True", LastTransitionTime: at(1)})
	}
}
func ownedBy(cron string) jobOpt {
	return func(j *api.Job) {
		j.Metadata.OwnerReferences = []*api.OwnerReference{{ApiVersion: "batch/v1", Kind: "CronJob", Name: cron, Uid: "uid-" + cron, Controller: proto.Bool(true)}}
	}
}

// newJob is a defaulted Job (parallelism 1, completions 1) with its uid
// "uid-<name>", changed by opts.
func newJob(name string, opts ...jobOpt) *api.Job {
	j := &api.Job{
		ApiVersion: "batch/v1",
		Kind:       "Job",
		Metadata: &api.ObjectMeta{
			Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: at(0),
			Labels: map[string]string{"app": name},
		},
		Spec: &api.JobSpec{
			Parallelism:    proto.Int32(1),
			Completions:    proto.Int32(1),
			BackoffLimit:   proto.Int32(6),
			CompletionMode: proto.String(api.CompletionModeNonIndexed),
			Suspend:        proto.Bool(false),
			Template: &api.PodTemplateSpec{
				Metadata: &api.ObjectMeta{Labels: map[string]string{api.LabelJobName: name}},
				Spec: &api.PodSpec{
					RestartPolicy: api.RestartPolicyNever,
					Containers:    []*api.Container{{Name: "main", Command: []string{"true"}}},
				},
			},
		},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

// newPod is a pending, unbound pod of job; index is its completion index
// label, or -1 for none.
func newPod(job *api.Job, name string, index int) *api.Pod {
	jobName := job.GetMetadata().GetName()
	labels := map[string]string{
		api.LabelJobName:            jobName,
		api.LabelBatchJobName:       jobName,
		api.LabelControllerUID:      job.GetMetadata().GetUid(),
		api.LabelBatchControllerUID: job.GetMetadata().GetUid(),
	}
	if index >= 0 {
		labels[api.LabelCompletionIndex] = strconv.Itoa(index)
	}
	return &api.Pod{
		ApiVersion: "v1",
		Kind:       "Pod",
		Metadata: &api.ObjectMeta{
			Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: at(2), Labels: labels,
			OwnerReferences: []*api.OwnerReference{{ApiVersion: "batch/v1", Kind: "Job", Name: jobName, Uid: job.GetMetadata().GetUid()}},
		},
		Spec: &api.PodSpec{
			RestartPolicy: api.RestartPolicyNever,
			Containers:    []*api.Container{{Name: "main", Command: []string{"true"}}},
		},
		Status: &api.PodStatus{Phase: api.PodPending},
	}
}

// pods makes n pods of job named <job>-0 ... <job>-(n-1), unindexed.
func pods(job *api.Job, n int) []*api.Pod {
	out := make([]*api.Pod, n)
	for i := range out {
		out[i] = newPod(job, fmt.Sprintf("%s-%d", job.GetMetadata().GetName(), i), -1)
	}
	return out
}

func newNode(name string) *api.Node {
	return &api.Node{
		ApiVersion: "v1",
		Kind:       "Node",
		Metadata:   &api.ObjectMeta{Name: name, Uid: "uid-" + name, CreationTimestamp: at(0), Labels: map[string]string{"zone": "a"}},
		Status: &api.NodeStatus{
			Capacity:   map[string]string{"cpu": "2", "pods": "10"},
			Conditions: []*api.NodeCondition{{Type: "Ready", Status: "True", LastHeartbeatTime: at(0)}},
		},
	}
}

func newCronJob(name string) *api.CronJob {
	return &api.CronJob{
		ApiVersion: "batch/v1",
		Kind:       "CronJob",
		Metadata:   &api.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: at(0)},
		Spec: &api.CronJobSpec{
			Schedule:          "*/1 * * * *",
			ConcurrencyPolicy: api.ConcurrencyPolicyAllow,
			JobTemplate:       &api.JobTemplateSpec{Spec: newJob("template").GetSpec()},
		},
	}
}

// cronJobAt is the Job a CronJob makes for the scheduled time t0+min
// minutes, named as the cron controller names it.
func cronJobAt(cron string, min int) *api.Job {
	scheduled := t0.Add(time.Duration(min) * time.Minute)
	j := newJob(fmt.Sprintf("%s-%d", cron, scheduled.Unix()/60), ownedBy(cron))
	j.Metadata.Annotations = map[string]string{api.AnnotationCronJobScheduledTimestamp: scheduled.Format(time.RFC3339)}
	return j
}

func newEvent(name, kind, object, reason string, sec int) *api.Event {
	return &api.Event{
		ApiVersion:     "v1",
		Kind:           "Event",
		Metadata:       &api.ObjectMeta{Name: name, Namespace: "default"},
		InvolvedObject: &api.ObjectReference{Kind: kind, Name: object},
		Reason:         reason,
		Message:        reason + " happened",
		Type:           "Normal",
		FirstTimestamp: at(sec),
		LastTimestamp:  at(sec),
		Count:          1,
	}
}

// ---------------------------------------------------------------- commands

func upsertJob(j *api.Job, createOnly bool) *api.Command {
	return (&api.UpsertJob{Job: j, CreateOnly: createOnly}).Command()
}

func deleteJob(name, uid string) *api.Command {
	return (&api.DeleteJob{Name: name, Uid: uid}).Command()
}

func upsertCronJob(cj *api.CronJob, createOnly bool) *api.Command {
	return (&api.UpsertCronJob{CronJob: cj, CreateOnly: createOnly}).Command()
}

func deleteCronJob(name string) *api.Command {
	return (&api.DeleteCronJob{Name: name}).Command()
}

func createPods(ps ...*api.Pod) *api.Command {
	return (&api.CreatePods{Pods: ps}).Command()
}

func updatePodStatus(us ...*api.PodStatusUpdate) *api.Command {
	return (&api.UpdatePodStatus{Updates: us}).Command()
}

// phase is an observation of a pod by node (no uid check).
func phase(pod, node, ph string) *api.PodStatusUpdate {
	return &api.PodStatusUpdate{Name: pod, Node: node, Status: &api.PodStatus{Phase: ph, StartTime: at(3)}}
}

func stopPods(reason string, sec int, names ...string) *api.Command {
	return (&api.StopPods{Names: names, Reason: reason, Message: reason + " message", Time: at(sec)}).Command()
}

func deletePods(names ...string) *api.Command {
	return (&api.DeletePods{Names: names}).Command()
}

func updateJobStatus(name, uid string, st *api.JobStatus) *api.Command {
	return (&api.UpdateJobStatus{Name: name, Uid: uid, Status: st}).Command()
}

func upsertNode(n *api.Node) *api.Command {
	return (&api.UpsertNode{Node: n}).Command()
}

func deleteNode(name string) *api.Command {
	return (&api.DeleteNode{Name: name}).Command()
}

func recordEvents(evs ...*api.Event) *api.Command {
	return (&api.RecordEvents{Events: evs}).Command()
}

// bindPods binds pod/node pairs: bindPods(sec, "p1", "n1", "p2", "n2").
func bindPods(sec int, podNode ...string) *api.Command {
	b := &api.BindPods{Time: at(sec)}
	for i := 0; i+1 < len(podNode); i += 2 {
		b.Bindings = append(b.Bindings, &api.PodBinding{Pod: podNode[i], Node: podNode[i+1]})
	}
	return b.Command()
}

// cronDecision decides about the scheduled time t0+min minutes; job is nil
// for a skipped run.
func cronDecision(cron string, min int, action string, job *api.Job, replace ...string) *api.Command {
	return (&api.CronDecision{
		CronJob: cron, ScheduledTime: timestamppb.New(t0.Add(time.Duration(min) * time.Minute)),
		Action: action, Job: job, ReplaceJobs: replace, DecidedAt: at(min*60 + 1),
	}).Command()
}

// ---------------------------------------------------------------- reading

// tables is every object of a state, each table in name order.
type tables struct {
	Jobs     []*api.Job
	CronJobs []*api.CronJob
	Pods     []*api.Pod
	Nodes    []*api.Node
	Events   []*api.Event
	Index    uint64
}

func dump(s *State) tables {
	return tables{Jobs: s.Jobs(), CronJobs: s.CronJobs(), Pods: s.Pods(), Nodes: s.Nodes(), Events: s.AllEvents(), Index: s.Index()}
}

// ignoreVersion leaves metadata.resourceVersion out of a comparison.
var ignoreVersion = protocmp.IgnoreFields(&api.ObjectMeta{}, "resource_version")

// diffObjects is a got/want diff of protos or structs holding them.
func diffObjects(want, got any, opts ...cmp.Option) string {
	return cmp.Diff(want, got, append([]cmp.Option{protocmp.Transform()}, opts...)...)
}

// podPhases maps each pod of the state to its phase.
func podPhases(s *State) map[string]string {
	out := map[string]string{}
	for _, p := range s.Pods() {
		out[p.GetMetadata().GetName()] = p.GetStatus().GetPhase()
	}
	return out
}

func names[T interface{ GetMetadata() *api.ObjectMeta }](objs []T) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.GetMetadata().GetName())
	}
	return out
}

// rawLog is a Raft log entry holding data at index.
func rawLog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

func updateCronJobStatus(name, uid string, st *api.CronJobStatus) *api.Command {
	return (&api.UpdateCronJobStatus{Name: name, Uid: uid, Status: st}).Command()
}

// populate fills h with some of everything: nodes, Jobs in every state,
// pods in every phase, a CronJob with its Jobs, and events.
func populate(h *harness) {
	h.t.Helper()
	work := newJob("work", parallelism(3), completions(5))
	idx := newJob("idx", parallelism(2), completions(4), indexed())
	done := newJob("done")
	queue := newJob("queue", parallelism(2), workQueue())
	cron := newCronJob("tick")
	h.must(upsertNode(newNode("n1")), upsertNode(newNode("n2")),
		upsertJob(work, true), upsertJob(idx, true), upsertJob(done, true), upsertJob(queue, true),
		upsertCronJob(cron, true))
	h.must(createPods(pods(work, 3)...), createPods(newPod(idx, "idx-0", 0), newPod(idx, "idx-3", 3)),
		createPods(newPod(done, "done-0", -1)), createPods(pods(queue, 2)...))
	h.must(bindPods(4, "work-0", "n1", "work-1", "n2", "idx-0", "n1", "done-0", "n2", "queue-0", "n1"))
	h.must(updatePodStatus(phase("work-0", "n1", api.PodRunning), phase("work-1", "n2", api.PodSucceeded),
		phase("idx-0", "n1", api.PodSucceeded), phase("done-0", "n2", api.PodSucceeded), phase("queue-0", "n1", api.PodRunning)))
	h.must(stopPods("ExcessPod", 6, "queue-0", "queue-1"),
		updateJobStatus("work", "uid-work", &api.JobStatus{Active: 2, Succeeded: 1, StartTime: at(2), Ready: proto.Int32(1)}),
		updateJobStatus("idx", "uid-idx", &api.JobStatus{Active: 1, Succeeded: 1, CompletedIndexes: "0", StartTime: at(2)}),
		updateJobStatus("done", "uid-done", &api.JobStatus{Succeeded: 1, StartTime: at(2), CompletionTime: at(8),
			Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "True", LastTransitionTime: at(8)}}}))
	first := cronJobAt("tick", 1)
	h.must(cronDecision("tick", 1, "Created", first), cronDecision("tick", 2, "Created", cronJobAt("tick", 2)))
	h.must(createPods(newPod(first, "tick-pod", -1)), bindPods(61, "tick-pod", "n2"),
		updateCronJobStatus("tick", "uid-tick", &api.CronJobStatus{LastSuccessfulTime: at(100)}))
	h.must(recordEvents(
		newEvent("work.a", "Job", "work", "SuccessfulCreate", 2),
		newEvent("work-0.a", "Pod", "work-0", "Scheduled", 4),
		newEvent("tick.a", "CronJob", "tick", "SuccessfulCreate", 60),
		newEvent("n1.a", "Node", "n1", "NodeReady", 0),
	), recordEvents(newEvent("work.a", "Job", "work", "SuccessfulCreate", 9)))
}
