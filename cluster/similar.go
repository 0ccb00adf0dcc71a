package cluster

import (
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// Similar events are combined as Kubernetes' event recorder combines them
// (client-go's EventAggregator): once an object has had maxSimilarEvents
// events of one type and reason with different messages, each less than
// similarWindow after the one before, every further one counts on a single
// event whose message is combinedPrefix and the latest message, instead of
// being one more event. A Job of 20,000 pods so has nine "Created pod"
// events and one combined event counted 19,991 times, rather than 20,000
// events that push out every other object's.
const (
	maxSimilarEvents = 10
	similarWindow    = 10 * time.Minute
	combinedPrefix   = "(combined from similar events): "
	// maxSimilarRecords bounds the objects whose events are followed, as
	// Kubernetes bounds its cache (4096 entries).
	maxSimilarRecords = 4096
)

// similarKey is what makes events similar: the same object, type and
// reason.
type similarKey struct {
	kind, namespace, name, uid, typ, reason string
}

func similarKeyOf(e *api.Event) similarKey {
	o := e.GetInvolvedObject()
	return similarKey{kind: o.GetKind(), namespace: o.GetNamespace(), name: o.GetName(), uid: o.GetUid(), typ: e.GetType(), reason: e.GetReason()}
}

// similarRecord is what is remembered of an object's similar events.
type similarRecord struct {
	// messages are distinct messages seen, fewer than maxSimilarEvents.
	messages []string
	// last is when the latest of them happened.
	last time.Time
	// combined names the combined event once there is one, made at since.
	combined string
	since    time.Time
}

// observe is the record after an event with message msg at time at, and
// whether that event is to be combined. It mirrors EventAggregate: a gap
// of more than similarWindow starts afresh, and the event that makes
// maxSimilarEvents distinct messages is the first combined; one message
// is then forgotten, so that the record stays bounded.
func (r similarRecord) observe(msg string, at time.Time) (similarRecord, bool) {
	if at.Sub(r.last) > similarWindow {
		r = similarRecord{}
	}
	r.last = at
	if !slices.Contains(r.messages, msg) {
		r.messages = append(slices.Clip(r.messages), msg)
	}
	if len(r.messages) < maxSimilarEvents {
		return r, false
	}
	r.messages = r.messages[1:]
	return r, true
}

// similarEvents follows the events the leader records, to combine similar
// ones. It lives in the leader's memory, as Kubernetes' lives in each
// controller's: a new leader starts counting afresh, which only ever
// records an event more.
type similarEvents struct {
	mu      sync.Mutex
	records map[similarKey]similarRecord
}

// correlate returns what to record for events: each event as it is, or
// one combined event per object, type and reason in its place, with the
// count of the events it stands for.
func (s *similarEvents) correlate(events []*api.Event) []*api.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.records == nil {
		s.records = map[similarKey]similarRecord{}
	}
	out := make([]*api.Event, 0, len(events))
	combined := map[similarKey]*api.Event{}
	for _, e := range events {
		k := similarKeyOf(e)
		at := e.GetLastTimestamp().AsTime()
		r, ok := s.records[k]
		if !ok {
			s.makeRoom(at)
		}
		r, combine := r.observe(e.GetMessage(), at)
		if combine && r.combined == "" {
			r.combined, r.since = e.GetMetadata().GetName(), at
		}
		s.records[k] = r
		if !combine {
			out = append(out, e)
			continue
		}
		if c := combined[k]; c != nil {
			c.Count += max(e.GetCount(), 1)
			c.Message = combinedPrefix + e.GetMessage()
			c.LastTimestamp = e.GetLastTimestamp()
			continue
		}
		c := &api.Event{
			ApiVersion: e.GetApiVersion(), Kind: e.GetKind(),
			Metadata:       &api.ObjectMeta{Name: r.combined, Namespace: e.GetMetadata().GetNamespace(), CreationTimestamp: timestamppb.New(r.since)},
			InvolvedObject: e.GetInvolvedObject(),
			Type:           e.GetType(),
			Reason:         e.GetReason(),
			Message:        combinedPrefix + e.GetMessage(),
			FirstTimestamp: timestamppb.New(r.since),
			LastTimestamp:  e.GetLastTimestamp(),
			Count:          max(e.GetCount(), 1),
		}
		combined[k] = c
		out = append(out, c)
	}
	return out
}

// makeRoom keeps the records under maxSimilarRecords: at the bound it
// drops those whose window has passed, and all of them when that frees
// too little (objects whose events are counted afresh).
func (s *similarEvents) makeRoom(now time.Time) {
	if len(s.records) < maxSimilarRecords {
		return
	}
	for k, r := range s.records {
		if now.Sub(r.last) > similarWindow {
			delete(s.records, k)
		}
	}
	if len(s.records) > maxSimilarRecords*3/4 {
		clear(s.records)
	}
}
