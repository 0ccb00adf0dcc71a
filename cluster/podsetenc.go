package cluster

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/transport"
)

// podsField is the field number of PodSet.pods.
var podsField = (&api.PodSet{}).ProtoReflect().Descriptor().Fields().ByName("pods").Number()

// podSetEncoder encodes the pod sets of one watch. A set is sent whole
// every time one of its pods changes, so most of its pods were in the set
// before, unchanged: the encoder keeps each pod's encoding from one set
// to the next, keyed by the stored pod itself. The store never changes a
// stored pod in place (a change stores a new one), so a pod found at the
// same address is the version encoded before.
type podSetEncoder struct {
	pods map[*api.Pod][]byte // the encodings of the last set's pods
	next map[*api.Pod][]byte // the map the next set fills, kept to reuse
}

// encode returns set in its wire form. It reads set and its pods only.
func (e *podSetEncoder) encode(set *api.PodSet) (transport.Encoded, error) {
	rest := &api.PodSet{Index: set.GetIndex(), ConfigMaps: set.GetConfigMaps(), Secrets: set.GetSecrets(), Held: set.GetHeld(), Timed: set.GetTimed()}
	head, err := proto.Marshal(rest)
	if err != nil {
		return nil, fmt.Errorf("encode pod set: %w", err)
	}
	pods := e.next
	if pods == nil {
		pods = make(map[*api.Pod][]byte, len(set.GetPods()))
	}
	size := len(head)
	for _, p := range set.GetPods() {
		b, ok := e.pods[p]
		if !ok {
			if b, err = proto.Marshal(p); err != nil {
				return nil, fmt.Errorf("encode pod %s: %w", p.GetMetadata().GetName(), err)
			}
		}
		pods[p] = b
		size += protowire.SizeTag(podsField) + protowire.SizeBytes(len(b))
	}
	// The pods follow the other fields: a repeated field's elements may
	// come anywhere in a message, in their order.
	out := append(make([]byte, 0, size), head...)
	for _, p := range set.GetPods() {
		out = protowire.AppendTag(out, podsField, protowire.BytesType)
		out = protowire.AppendBytes(out, pods[p])
	}
	e.pods, e.next = pods, e.pods
	clear(e.next) // let go of the versions no longer sent
	return out, nil
}
