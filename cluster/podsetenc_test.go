package cluster

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
)

// setPod is a pod of a Job as the store holds it once bound.
func setPod(job string, i int, phase string) *api.Pod {
	uid := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
	t := timestamppb.New(timestamppb.Now().AsTime().Truncate(1e9))
	return &api.Pod{ApiVersion: "v1", Kind: "Pod",
		Metadata: &api.ObjectMeta{Name: fmt.Sprintf("%s-%05d", job, i), GenerateName: job + "-", Namespace: "default", Uid: uid, CreationTimestamp: t, ResourceVersion: fmt.Sprint(1000 + i),
			Labels:          map[string]string{api.LabelBatchControllerUID: "job-uid", api.LabelBatchJobName: job, api.LabelControllerUID: "job-uid", api.LabelJobName: job},
			OwnerReferences: []*api.OwnerReference{{ApiVersion: "batch/v1", Kind: "Job", Name: job, Uid: "job-uid", Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}}},
		Spec: &api.PodSpec{NodeName: "agent-1", RestartPolicy: api.RestartPolicyNever, TerminationGracePeriodSeconds: proto.Int64(30),
			Containers: []*api.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", "echo hello; sleep 1"}}}},
		Status: &api.PodStatus{Phase: phase, HostIp: "127.0.0.1", StartTime: t},
	}
}

// changed is p's next version, as the store makes it: a new pod.
func changed(p *api.Pod, phase string) *api.Pod {
	q := proto.Clone(p).(*api.Pod)
	q.Status.Phase = phase
	q.Metadata.ResourceVersion += "1"
	return q
}

// TestPodSetEncoderSendsEachSetAsItIs encodes a watch's sets one after
// another, as its pods change, and decodes each: it must be the set given,
// whichever pods the encoder kept from the set before.
func TestPodSetEncoderSendsEachSetAsItIs(t *testing.T) {
	a, b, c := setPod("job", 1, api.PodPending), setPod("job", 2, api.PodPending), setPod("job", 3, api.PodPending)
	b2 := changed(b, api.PodRunning)
	d := setPod("job", 4, api.PodPending)
	cm := &api.ConfigMap{Metadata: &api.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	sets := []*api.PodSet{
		{Index: 1},
		{Index: 2, Pods: []*api.Pod{a, b, c}},
		{Index: 3, Pods: []*api.Pod{a, b2, d}, ConfigMaps: []*api.ConfigMap{cm}, Held: []string{d.GetMetadata().GetUid()}},
		{Index: 4, Pods: []*api.Pod{d, a}, Timed: []string{d.GetMetadata().GetUid()}},
		{Index: 5},
	}
	var enc podSetEncoder
	for _, want := range sets {
		wire, err := enc.encode(want)
		if err != nil {
			t.Fatalf("encode set %d: %v", want.GetIndex(), err)
		}
		got := &api.PodSet{}
		if err := proto.Unmarshal(wire, got); err != nil {
			t.Fatalf("decode set %d: %v", want.GetIndex(), err)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("set %d as the agent decodes it (-want +got):\n%s", want.GetIndex(), diff)
		}
		if len(enc.pods) != len(want.GetPods()) {
			t.Errorf("after set %d the encoder keeps %d pods' encodings, want the set's %d", want.GetIndex(), len(enc.pods), len(want.GetPods()))
		}
	}
}

// BenchmarkPodSetEncode encodes an agent's set of 67 pods (a Job of
// parallelism 200 over three agents) after one of them changed, as the
// pod watch does, against encoding the whole set each time.
func BenchmarkPodSetEncode(b *testing.B) {
	// Each pod in two versions: every set has the version of one pod
	// that the set before did not.
	var versions [2][]*api.Pod
	for i := range 67 {
		p := setPod("bench", i, api.PodPending)
		versions[0] = append(versions[0], p)
		versions[1] = append(versions[1], changed(p, api.PodRunning))
	}
	pods := slices.Clone(versions[0])
	next := func(i int) *api.PodSet {
		k := i % len(pods)
		pods[k] = versions[(i/len(pods)+1)%2][k]
		return &api.PodSet{Index: uint64(i), Pods: pods}
	}
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := proto.Marshal(next(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kept", func(b *testing.B) {
		var enc podSetEncoder
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := enc.encode(next(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
