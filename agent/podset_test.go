package agent

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
)

// frameOf is set as an agent receives it: encoded by the servers, read as
// a PodSetFrame.
func frameOf(t testing.TB, set *api.PodSet) *api.PodSetFrame {
	t.Helper()
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	f := &api.PodSetFrame{}
	if err := proto.Unmarshal(b, f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPodSetDecoderReusesUnchangedPods(t *testing.T) {
	a := testPod{name: "a", uid: "uid-a", scripts: []string{"true"}}.build()
	b := testPod{name: "b", uid: "uid-b", scripts: []string{"true"}}.build()
	c := testPod{name: "c", uid: "uid-c", scripts: []string{"sleep 1"}}.build()
	bRunning := proto.CloneOf(b)
	bRunning.Status = &api.PodStatus{Phase: api.PodRunning}
	config := &api.ConfigMap{Metadata: &api.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"k": "v"}}

	var d podSetDecoder
	sets := []struct {
		name string
		set  *api.PodSet
		// same names the pods that must be the objects decoded for the
		// set before.
		same []string
	}{
		{name: "first", set: &api.PodSet{Index: 3, Pods: []*api.Pod{a, b}, ConfigMaps: []*api.ConfigMap{config}, Held: []string{"uid-b"}, Timed: []string{"uid-a"}}},
		{name: "one added", set: &api.PodSet{Index: 4, Pods: []*api.Pod{a, b, c}}, same: []string{"a", "b"}},
		{name: "one changed", set: &api.PodSet{Index: 5, Pods: []*api.Pod{a, bRunning, c}}, same: []string{"a", "c"}},
		{name: "one gone", set: &api.PodSet{Index: 6, Pods: []*api.Pod{bRunning, c}}, same: []string{"b", "c"}},
		{name: "back after a set without it", set: &api.PodSet{Index: 7, Pods: []*api.Pod{a, bRunning, c}}, same: []string{"b", "c"}},
	}
	before := map[string]*api.Pod{}
	for _, tt := range sets {
		got, err := d.decode(frameOf(t, tt.set))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.set, got, protocmp.Transform()); diff != "" {
			t.Errorf("%s: decoded set (-sent +got):\n%s", tt.name, diff)
		}
		now := map[string]*api.Pod{}
		for _, p := range got.GetPods() {
			now[p.GetMetadata().GetName()] = p
		}
		for name, p := range now {
			reused := before[name] == p
			if want := slices.Contains(tt.same, name); reused != want {
				t.Errorf("%s: pod %s is the object decoded before: %v, want %v", tt.name, name, reused, want)
			}
		}
		if len(d.last) != len(got.GetPods()) {
			t.Errorf("%s: the decoder keeps %d pods, want the set's %d", tt.name, len(d.last), len(got.GetPods()))
		}
		before = now
	}

	bad := frameOf(t, &api.PodSet{Index: 8, Pods: []*api.Pod{a}})
	bad.Pods = append(bad.Pods, []byte{0xff, 0xff})
	if _, err := d.decode(bad); err == nil || !strings.Contains(err.Error(), "pod set 8: pod 1") {
		t.Errorf("a set with a pod that does not decode: %v, want an error naming set 8's pod 1", err)
	}
}

// BenchmarkPodSetDecode decodes a set of 67 pods in which one pod is new,
// as an agent running 67 pods of a big Job does after each change: every
// pod decoded, or only the new one.
func BenchmarkPodSetDecode(b *testing.B) {
	pods := make([]*api.Pod, 68)
	for i := range pods {
		pods[i] = testPod{name: fmt.Sprintf("job-x7k2p-%d", i), uid: fmt.Sprintf("0b9e5c9c-4a6f-4c7e-9d55-%012d", i), scripts: []string{"true"},
			labels: map[string]string{api.LabelJobName: "job", "batch.kubernetes.io/controller-uid": "9c7b1c99-5fdf-499f-965c-2a5a778b94ca"}}.build()
	}
	// The servers encode each version of a pod once, so a pod that stays
	// in the set is the same bytes in every set.
	encoded := make([][]byte, len(pods))
	for i, p := range pods {
		encoded[i] = mustMarshal(b, p)
	}
	raw := [][]byte{mustMarshal(b, &api.PodSetFrame{Pods: encoded[:67]}), mustMarshal(b, &api.PodSetFrame{Pods: encoded[1:]})}
	b.Run("every-pod", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			set := &api.PodSet{}
			if err := proto.Unmarshal(raw[i%2], set); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("new-pods", func(b *testing.B) {
		var d podSetDecoder
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			f := &api.PodSetFrame{}
			if err := proto.Unmarshal(raw[i%2], f); err != nil {
				b.Fatal(err)
			}
			if _, err := d.decode(f); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func mustMarshal(b *testing.B, m proto.Message) []byte {
	b.Helper()
	out, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
