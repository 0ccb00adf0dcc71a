package fsm

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

// inNamespace moves a test Job (and so its pods) to another namespace.
func inNamespace(ns string) jobOpt { return func(j *api.Job) { j.Metadata.Namespace = ns } }

func TestSameNameInTwoNamespaces(t *testing.T) {
	h := newHarness(t)
	a, b := newJob("pi"), newJob("pi", inNamespace("team-b"))
	b.Metadata.Uid = "uid-pi-b"
	h.must(upsertJob(a, true), upsertJob(b, true))
	if errs := h.apply(upsertJob(newJob("pi", inNamespace("team-b")), true)); errs[0] == nil {
		t.Fatal("a second create of pi in team-b was accepted")
	}
	podA, podB := newPod(a, "pi-aaaaa", -1), newPod(b, "pi-bbbbb", -1)
	podB.Metadata.Namespace = "team-b"
	h.must(createPods(podA, podB))

	s := h.state()
	if got := s.Job("", "pi").GetMetadata().GetUid(); got != "uid-pi" {
		t.Errorf("default/pi has uid %q, want uid-pi", got)
	}
	if got := s.Job("team-b", "pi").GetMetadata().GetUid(); got != "uid-pi-b" {
		t.Errorf("team-b/pi has uid %q, want uid-pi-b", got)
	}
	if got := names(s.PodsOfJob("team-b", "pi")); len(got) != 1 || got[0] != "pi-bbbbb" {
		t.Errorf("pods of team-b/pi = %v, want [pi-bbbbb]", got)
	}

	h.must((&api.DeleteJob{Namespace: "team-b", Name: "pi"}).Command())
	s = h.state()
	if s.Job("team-b", "pi") != nil || s.Pod("pi-bbbbb") != nil {
		t.Error("deleting team-b/pi left the Job or its pod")
	}
	if s.Job("default", "pi") == nil || s.Pod("pi-aaaaa") == nil {
		t.Error("deleting team-b/pi removed default/pi or its pod")
	}
}

func TestCronDecisionCreatesItsJobInTheCronJobsNamespace(t *testing.T) {
	h := newHarness(t)
	cj := newCronJob("tick")
	cj.Metadata.Namespace = "nightly"
	h.must(upsertCronJob(cj, true))
	job := cronJobAt("tick", 1)
	job.Metadata.Namespace = ""
	d := cronDecision("tick", 1, "Created", job)
	d.GetCronDecision().Namespace = "nightly"
	h.must(d)
	s := h.state()
	if got := names(s.JobsOfCronJob("nightly", "tick")); len(got) != 1 {
		t.Fatalf("jobs of nightly/tick = %v, want one", got)
	}
	if got := s.JobsOfCronJob("", "tick"); len(got) != 0 {
		t.Errorf("default/tick, which does not exist, owns %d jobs", len(got))
	}
	if errs := h.apply(cronDecision("tick", 2, "Created", cronJobAt("tick", 2))); errs[0] == nil {
		t.Error("a decision for default/tick, which does not exist, was accepted")
	}
}

// A version 2 snapshot keyed frozen Jobs by name alone: a restore keys
// them by namespace again.
func TestRestoreOfVersion2KeysFrozenJobsByNamespace(t *testing.T) {
	h := newHarness(t)
	finishTwoPods(h)
	h.must(updateJobStatus("done", "uid-done", completeStatus))
	if !storedFrozen(t, h.f, tableJobs, "done") {
		t.Fatal("finished Job not frozen")
	}
	g := New(nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(asVersion2(t, persist(t, h.f))))); err != nil {
		t.Fatalf("Restore of version 2: %v", err)
	}
	if g.State().Job("default", "done") == nil {
		t.Fatal("after restoring a version 2 snapshot, default/done is not found")
	}
	if got := len(g.State().PodsOfJob("default", "done")); got != 2 {
		t.Errorf("default/done has %d pods after restore, want 2", got)
	}
	if !storedFrozen(t, g, tableJobs, "done") {
		t.Error("the restored finished Job is not frozen")
	}
}

// asVersion2 rewrites a snapshot as version 2 wrote it: frozen records
// named by the object's name and keyed by owner names, without namespace.
func asVersion2(t *testing.T, snap []byte) []byte {
	t.Helper()
	return rewriteFrozen(t, snap, 2, dictionary, func(f *frozen, raw []byte) {
		f.name = strings.TrimPrefix(f.name, "default/")
		f.key = strings.TrimPrefix(f.key, "default/")
		f.data = deflated(t, raw, dictionary)
	})
}
