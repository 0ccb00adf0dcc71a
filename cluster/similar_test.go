package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestSimilarRecordObserve(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	nine := similarRecord{last: t0}
	for i := range maxSimilarEvents - 1 {
		nine.messages = append(nine.messages, fmt.Sprint("m", i))
	}
	tests := []struct {
		name        string
		r           similarRecord
		msg         string
		at          time.Time
		wantCombine bool
		wantLen     int
	}{
		{name: "first event", r: similarRecord{}, msg: "m", at: t0, wantLen: 1},
		{name: "ninth distinct message", r: similarRecord{messages: nine.messages[:8], last: t0}, msg: "new", at: t0, wantLen: 9},
		{name: "tenth distinct message is combined", r: nine, msg: "new", at: t0.Add(time.Second), wantCombine: true, wantLen: 9},
		{name: "a message seen before does not count", r: nine, msg: "m3", at: t0.Add(time.Second), wantLen: 9},
		{name: "just within the window", r: nine, msg: "new", at: t0.Add(similarWindow), wantCombine: true, wantLen: 9},
		{name: "after a gap longer than the window it starts afresh", r: nine, msg: "new", at: t0.Add(similarWindow + time.Nanosecond), wantLen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]string(nil), tt.r.messages...)
			got, combine := tt.r.observe(tt.msg, tt.at)
			if combine != tt.wantCombine {
				t.Errorf("combine = %v, want %v", combine, tt.wantCombine)
			}
			if len(got.messages) != tt.wantLen {
				t.Errorf("remembers %d messages %v, want %d", len(got.messages), got.messages, tt.wantLen)
			}
			if !got.last.Equal(tt.at) {
				t.Errorf("last = %v, want %v", got.last, tt.at)
			}
			if strings.Join(tt.r.messages, ",") != strings.Join(before, ",") {
				t.Errorf("observe changed the record it was given: %v, was %v", tt.r.messages, before)
			}
		})
	}
}

func createdPodEvents(job string, at time.Time, from, to int) []*api.Event {
	var out []*api.Event
	for i := from; i < to; i++ {
		out = append(out, event(at, api.JobResource.Kind, "default", job, "uid-"+job, api.EventTypeNormal, api.ReasonSuccessfulCreate, fmt.Sprintf("Created pod: %s-%d", job, i)))
	}
	return out
}

func TestSimilarEventsAreCombinedAsKubernetesDoes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var s similarEvents

	// 25 pods created in one pass: nine events, then one counted 16 times.
	first := s.correlate(createdPodEvents("big", t0, 0, 25))
	if len(first) != 10 {
		t.Fatalf("recorded %d events, want 10", len(first))
	}
	for i, e := range first[:9] {
		if want := fmt.Sprintf("Created pod: big-%d", i); e.GetMessage() != want || e.GetCount() != 1 {
			t.Errorf("event %d: %q x%d, want %q x1", i, e.GetMessage(), e.GetCount(), want)
		}
	}
	combined := first[9]
	if want := combinedPrefix + "Created pod: big-24"; combined.GetMessage() != want || combined.GetCount() != 16 {
		t.Errorf("combined event: %q x%d, want %q x16", combined.GetMessage(), combined.GetCount(), want)
	}
	if combined.GetReason() != api.ReasonSuccessfulCreate || combined.GetInvolvedObject().GetName() != "big" {
		t.Errorf("combined event is %s about %v", combined.GetReason(), combined.GetInvolvedObject())
	}

	// The next pass counts on the same event, as long as each event
	// follows the one before within the window; other reasons, types
	// and objects are apart.
	later := t0.Add(similarWindow)
	next := s.correlate(append(createdPodEvents("big", later, 25, 30),
		event(later, api.JobResource.Kind, "default", "big", "uid-big", api.EventTypeNormal, "Completed", "Job completed"),
		event(later, api.JobResource.Kind, "default", "big", "uid-big", api.EventTypeWarning, api.ReasonSuccessfulCreate, "odd"),
		createdPodEvents("small", later, 0, 1)[0]))
	if len(next) != 4 {
		t.Fatalf("recorded %d events, want 4: %v", len(next), next)
	}
	again := next[0]
	if again.GetMetadata().GetName() != combined.GetMetadata().GetName() || again.GetCount() != 5 ||
		again.GetMessage() != combinedPrefix+"Created pod: big-29" || !again.GetFirstTimestamp().AsTime().Equal(t0) {
		t.Errorf("second combined event %s %q x%d since %v, want %s x5 since %v",
			again.GetMetadata().GetName(), again.GetMessage(), again.GetCount(), again.GetFirstTimestamp().AsTime(), combined.GetMetadata().GetName(), t0)
	}
	for _, e := range next[1:] {
		if e.GetCount() != 1 || strings.HasPrefix(e.GetMessage(), combinedPrefix) {
			t.Errorf("event %s %s %q x%d about %s was combined", e.GetType(), e.GetReason(), e.GetMessage(), e.GetCount(), e.GetInvolvedObject().GetName())
		}
	}

	// After a quiet spell longer than the window, events are single
	// again.
	quiet := later.Add(similarWindow + time.Second)
	if got := s.correlate(createdPodEvents("big", quiet, 30, 31)); len(got) != 1 || got[0].GetMessage() != "Created pod: big-30" {
		t.Errorf("after the window: %v, want the event as it is", got)
	}
}

func TestSimilarEventsStayBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var s similarEvents
	for i := range 3 * maxSimilarRecords {
		s.correlate([]*api.Event{event(t0, api.PodResource.Kind, "default", fmt.Sprint("pod-", i), "", api.EventTypeNormal, "Scheduled", "assigned")})
		if len(s.records) > maxSimilarRecords {
			t.Fatalf("after %d objects %d records are kept, more than %d", i+1, len(s.records), maxSimilarRecords)
		}
	}
}

// TestJobCreatedPodEventsCombined: a Job that creates many pods has its
// "Created pod" events combined on every server, and their counts add up
// to the pods created.
func TestJobCreatedPodEventsCombined(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	leader := c.leader()
	c.gossip.addAgent("a1", "10.1.2.3:7500", nil)
	waitReady(t, leader, "a1", "True", "posting ready status")
	job := testJob("wide")
	job.GetJob().Spec.Completions = proto.Int32(30)
	job.GetJob().Spec.Parallelism = proto.Int32(30)
	submit(t, leader, job)
	wait.For(t, "30 pods' creation counted on every server", func() (bool, string) {
		for _, s := range c.running() {
			var count, single, combined int32
			for _, e := range s.fsm.State().Events(api.JobResource.Kind, "", "wide") {
				if e.GetReason() != api.ReasonSuccessfulCreate {
					continue
				}
				count += e.GetCount()
				if strings.HasPrefix(e.GetMessage(), combinedPrefix+"Created pod: wide-") {
					combined++
				} else {
					single++
				}
			}
			if count != 30 || combined != 1 || single != maxSimilarEvents-1 {
				return false, fmt.Sprintf("%s: %d single and %d combined events counting %d", s.Name(), single, combined, count)
			}
		}
		return true, ""
	})
}
