package fsm

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

func TestEventsOlderThanTheirTTLAreDropped(t *testing.T) {
	h := newHarness(t)
	h.must(recordEvents(newEvent("old", "Job", "a", "Old", 0), newEvent("recent", "Job", "b", "Recent", 3000)))
	// An event an hour and more after "old" pushes it out; "recent" is
	// within the hour and stays.
	h.must(recordEvents(newEvent("new", "Job", "c", "New", 3601)))
	var got []string
	for _, e := range h.state().AllEvents() {
		got = append(got, e.GetMetadata().GetName())
	}
	if fmt.Sprint(got) != "[recent new]" {
		t.Fatalf("events after the TTL passed = %v, want [recent new]", got)
	}
}

func TestEventCountIsBoundedAcrossRestore(t *testing.T) {
	h := newHarness(t)
	for batch := 0; batch < 5; batch++ {
		var cmds []*eventSpec
		for i := 0; i < maxEvents/4; i++ {
			n := batch*maxEvents/4 + i
			cmds = append(cmds, &eventSpec{name: fmt.Sprintf("e%06d", n), object: fmt.Sprintf("o%d", n), sec: n / 100})
		}
		h.must(recordEvents(buildEvents(cmds)...))
		if batch == 2 {
			// A restored replica counts what it holds and keeps bounding.
			var buf bytes.Buffer
			snap, err := h.f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if err := snap.(*snapshot).write(&buf); err != nil {
				t.Fatal(err)
			}
			f := New(nil)
			if err := f.Restore(io.NopCloser(&buf)); err != nil {
				t.Fatal(err)
			}
			h.f = f
		}
	}
	evs := h.state().AllEvents()
	if len(evs) != maxEvents {
		t.Fatalf("%d events kept, want the newest %d", len(evs), maxEvents)
	}
	if got, want := evs[0].GetMetadata().GetName(), fmt.Sprintf("e%06d", 5*maxEvents/4-maxEvents); got != want {
		t.Fatalf("oldest event kept = %s, want %s", got, want)
	}
}

type eventSpec struct {
	name, object string
	sec          int
}

func buildEvents(specs []*eventSpec) []*api.Event {
	out := make([]*api.Event, 0, len(specs))
	for _, s := range specs {
		out = append(out, newEvent(s.name, "Pod", s.object, "Created", s.sec))
	}
	return out
}
