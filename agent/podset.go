package agent

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// podSetDecoder decodes the pod sets of one watch. The servers send the
// whole set whenever one pod in it changes, and encode a pod the same way
// until it changes: a pod whose encoding the last set held already is
// the pod decoded then. The supervisor and the runners only read the
// pods they are given.
type podSetDecoder struct {
	last map[string]decodedPod
}

// decodedPod is a pod of the last set and its encoding, kept as the key.
type decodedPod struct {
	encoded string
	pod     *api.Pod
}

func (d *podSetDecoder) decode(f *api.PodSetFrame) (*api.PodSet, error) {
	set := &api.PodSet{
		Index: f.GetIndex(), Pods: make([]*api.Pod, 0, len(f.GetPods())),
		ConfigMaps: f.GetConfigMaps(), Secrets: f.GetSecrets(), Held: f.GetHeld(), Timed: f.GetTimed(),
	}
	next := make(map[string]decodedPod, len(f.GetPods()))
	for i, b := range f.GetPods() {
		p, ok := d.last[string(b)]
		if !ok {
			pod := &api.Pod{}
			if err := proto.Unmarshal(b, pod); err != nil {
				return nil, fmt.Errorf("pod set %d: pod %d: %w", f.GetIndex(), i, err)
			}
			p = decodedPod{encoded: string(b), pod: pod}
		}
		next[p.encoded] = p
		set.Pods = append(set.Pods, p.pod)
	}
	d.last = next
	return set, nil
}
