package fsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// Each list command carrying a Job of 30,000 pods, far past the entry
// limit, is split into parts that each fit the command bound, keep every
// element in order, and keep the command's shared fields.
func TestSplitBoundsEveryListCommand(t *testing.T) {
	const n = 30000
	// Names as long as Kubernetes allows a Job's: 63 characters.
	job := newJob(strings.Repeat("j", 57)+"-huge", parallelism(n), completions(n))
	var (
		all      = pods(job, n)
		names    = make([]string, n)
		updates  = make([]*api.PodStatusUpdate, n)
		bindings = make([]*api.PodBinding, n)
		events   = make([]*api.Event, n)
	)
	for i, p := range all {
		names[i] = p.GetMetadata().GetName()
		updates[i] = &api.PodStatusUpdate{Name: names[i], Uid: "uid-" + names[i], Node: "n1", Status: &api.PodStatus{
			Phase: api.PodFailed, Reason: api.ReasonNodeLost, Message: "node n1 was lost: no lease renewal for 3.25s"}}
		bindings[i] = &api.PodBinding{Pod: names[i], Node: "n1"}
		events[i] = newEvent(names[i]+".e", "Pod", names[i], "Scheduled", 1)
	}
	tests := []struct {
		name  string
		cmd   *api.Command
		count func(*api.Command) int
	}{
		{"create pods", createPods(all...), func(c *api.Command) int { return len(c.GetCreatePods().GetPods()) }},
		{"update pod status", updatePodStatus(updates...), func(c *api.Command) int { return len(c.GetUpdatePodStatus().GetUpdates()) }},
		{"stop pods", stopPods("ExcessPod", 3, names...), func(c *api.Command) int { return len(c.GetStopPods().GetNames()) }},
		{"delete pods", deletePods(names...), func(c *api.Command) int { return len(c.GetDeletePods().GetNames()) }},
		{"bind pods", (&api.BindPods{Bindings: bindings, Time: at(3)}).Command(), func(c *api.Command) int { return len(c.GetBindPods().GetBindings()) }},
		{"record events", recordEvents(events...), func(c *api.Command) int { return len(c.GetRecordEvents().GetEvents()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if size := proto.Size(tt.cmd); size <= MaxCommandBytes {
				t.Fatalf("the whole command is only %d bytes; the test needs one over the limit", size)
			}
			parts, err := SplitAll([]*api.Command{tt.cmd})
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for i, part := range parts {
				if size := proto.Size(part); size > MaxCommandBytes {
					t.Errorf("part %d is %d bytes, over %d", i, size, MaxCommandBytes)
				}
				if part.GetType() != tt.cmd.GetType() || !part.PayloadMatchesType() {
					t.Errorf("part %d has type %v, want %v", i, part.GetType(), tt.cmd.GetType())
				}
				total += tt.count(part)
			}
			if total != n {
				t.Errorf("parts carry %d elements, want %d", total, n)
			}
			if data, err := Encode(parts[0]); err != nil || len(data) > MaxEntryBytes {
				t.Errorf("the first part encodes to %d bytes (%v)", len(data), err)
			}
		})
	}
	stop := parts(t, stopPods("DeadlineExceeded", 7, names...))
	for _, p := range stop {
		if sp := p.GetStopPods(); sp.GetReason() != "DeadlineExceeded" || !proto.Equal(sp.GetTime(), at(7)) {
			t.Fatalf("a part of StopPods lost its reason or time: %v", sp)
		}
	}
}

func parts(t *testing.T, c *api.Command) []*api.Command {
	t.Helper()
	out, err := SplitAll([]*api.Command{c})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Applying the parts of a split command leaves the same state as applying
// it whole, including the re-check against parallelism.
func TestSplitPartsApplyAsTheWhole(t *testing.T) {
	job := newJob("big", parallelism(15000), completions(20000))
	create := createPods(pods(job, 20000)...) // 5,000 past parallelism: refused either way
	whole, split := newHarness(t), newHarness(t)
	whole.must(upsertJob(job, true))
	split.must(upsertJob(job, true))
	whole.apply(create)
	ps := parts(t, create)
	if len(ps) < 2 {
		t.Fatalf("a %d-byte CreatePods was not split", proto.Size(create))
	}
	split.apply(ps...)
	if got, want := len(split.state().Pods()), len(whole.state().Pods()); got != want || want != 15000 {
		t.Fatalf("split apply stored %d pods, whole apply %d; want 15000 for both", got, want)
	}
	if diff := diffObjects(names(whole.state().Pods()), names(split.state().Pods())); diff != "" {
		t.Errorf("pods differ (-whole +split):\n%s", diff)
	}
}

// A command that cannot be split and is over the entry limit alone is
// refused before it is proposed, naming the limit.
func TestSplitAllRefusesAnOversizedSingleObject(t *testing.T) {
	job := newJob("fat")
	job.Metadata.Annotations = map[string]string{"blob": strings.Repeat("x", MaxEntryBytes)}
	_, err := SplitAll([]*api.Command{upsertJob(job, true)})
	if !errors.Is(err, ErrEntryTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(MaxEntryBytes)) {
		t.Fatalf("SplitAll = %v, want ErrEntryTooLarge naming the limit", err)
	}
	small := upsertJob(newJob("thin"), true)
	if got := parts(t, small); len(got) != 1 || got[0] != small {
		t.Fatalf("a small command was changed: %v", got)
	}
}
