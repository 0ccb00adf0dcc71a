package cluster

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// event builds an event about one object; the random name keeps repeats
// apart, as Kubernetes' event names do.
func event(now time.Time, kind, namespace, name, uid, typ, reason, msg string) *api.Event {
	ts := timestamppb.New(now)
	involved := &api.ObjectReference{Kind: kind, Name: name, Uid: uid}
	if r, ok := api.LookupResource(kind); !ok || r.Namespaced {
		involved.Namespace = api.NamespaceOr(namespace)
	}
	return &api.Event{
		ApiVersion: "v1",
		Kind:       "Event",
		// Events about cluster-wide objects live in "default", as in
		// Kubernetes.
		Metadata:       &api.ObjectMeta{Name: name + "." + nameSuffix() + nameSuffix(), Namespace: api.NamespaceOr(namespace), CreationTimestamp: ts},
		InvolvedObject: involved,
		Type:           typ,
		Reason:         reason,
		Message:        msg,
		FirstTimestamp: ts,
		LastTimestamp:  ts,
		Count:          1,
	}
}

// eventCommand records events in one command.
func eventCommand(events ...*api.Event) *api.Command {
	return (&api.RecordEvents{Events: events}).Command()
}

// eventCommand records events in one command, similar ones combined.
func (s *similarEvents) eventCommand(events ...*api.Event) *api.Command {
	return eventCommand(s.correlate(events)...)
}
