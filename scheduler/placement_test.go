package scheduler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobcluster/jobcluster/api"
)

// node builds a Ready node with allocatable cpu, memory and pods ("" leaves
// a resource out).
func node(name, cpu, memory, pods string, mods ...func(*api.Node)) *api.Node {
	alloc := make(map[string]string)
	for k, v := range map[string]string{"cpu": cpu, "memory": memory, "pods": pods} {
		if v != "" {
			alloc[k] = v
		}
	}
	n := &api.Node{
		Metadata: &api.ObjectMeta{Name: name},
		Spec:     &api.NodeSpec{},
		Status: &api.NodeStatus{
			Allocatable: alloc,
			Conditions:  []*api.NodeCondition{{Type: "Ready", Status: "True"}},
		},
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

func notReady(n *api.Node)     { n.Status.Conditions[0].Status = "False" }
func noCondition(n *api.Node)  { n.Status.Conditions = nil }
func cordoned(n *api.Node)     { n.Spec.Unschedulable = true }
func capacityOnly(n *api.Node) { n.Status.Capacity, n.Status.Allocatable = n.Status.Allocatable, nil }
func label(k, v string) func(*api.Node) {
	return func(n *api.Node) { n.Metadata.Labels = map[string]string{k: v} }
}

// placed builds a pod requesting cpu and memory ("" for none), optionally
// bound to a node.
func placed(nodeName, cpu, memory string, mods ...func(*api.Pod)) *api.Pod {
	req := make(map[string]string)
	if cpu != "" {
		req["cpu"] = cpu
	}
	if memory != "" {
		req["memory"] = memory
	}
	p := &api.Pod{
		Metadata: &api.ObjectMeta{Name: "p"},
		Spec: &api.PodSpec{NodeName: nodeName, Containers: []*api.Container{
			{Name: "main", Resources: &api.ResourceRequirements{Requests: req}},
		}},
		Status: &api.PodStatus{Phase: api.PodRunning},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func runtimes(list string) func(*api.Node) {
	return func(n *api.Node) { n.Metadata.Annotations = map[string]string{RuntimesAnnotation: list} }
}

// imageOnly gives the pod's container an image and no command.
func imageOnly(p *api.Pod) { p.Spec.Containers[0].Image = "luksa/batch-job" }

// withCommand gives the pod's container an image and a command.
func withCommand(p *api.Pod) {
	p.Spec.Containers[0].Image = "busybox"
	p.Spec.Containers[0].Command = []string{"sh", "-c", "true"}
}

func runtimeClass(rc string) func(*api.Pod) {
	return func(p *api.Pod) { p.Spec.RuntimeClassName = &rc }
}

func selector(k, v string) func(*api.Pod) {
	return func(p *api.Pod) { p.Spec.NodeSelector = map[string]string{k: v} }
}
func asLimits(p *api.Pod) {
	r := p.Spec.Containers[0].Resources
	r.Limits, r.Requests = r.Requests, nil
}
func phase(ph string) func(*api.Pod) { return func(p *api.Pod) { p.Status.Phase = ph } }

type placement struct{ Node, Reason string }

func TestPlacer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []*api.Node
		bound []*api.Pod
		pods  []*api.Pod // placed one after the other
		want  []placement
	}{
		{name: "spread across three nodes",
			nodes: []*api.Node{node("c", "4", "8Gi", "110"), node("a", "4", "8Gi", "110"), node("b", "4", "8Gi", "110")},
			pods:  []*api.Pod{placed("", "500m", ""), placed("", "500m", ""), placed("", "500m", ""), placed("", "500m", ""), placed("", "500m", ""), placed("", "500m", "")},
			want:  []placement{{"a", ""}, {"b", ""}, {"c", ""}, {"a", ""}, {"b", ""}, {"c", ""}}},
		{name: "bound pods count toward the spread",
			nodes: []*api.Node{node("a", "4", "", ""), node("b", "4", "", ""), node("c", "4", "", "")},
			bound: []*api.Pod{placed("a", "", ""), placed("a", "", ""), placed("c", "", "")},
			pods:  []*api.Pod{placed("", "", ""), placed("", "", ""), placed("", "", "")},
			want:  []placement{{"b", ""}, {"b", ""}, {"c", ""}}},
		{name: "more free cpu breaks a tie in pod count",
			nodes: []*api.Node{node("a", "2", "", ""), node("b", "4", "", "")},
			pods:  []*api.Pod{placed("", "100m", "")},
			want:  []placement{{"b", ""}}},
		{name: "node selector picks the matching node",
			nodes: []*api.Node{node("a", "4", "", ""), node("b", "4", "", "", label("disk", "ssd")), node("c", "4", "", "", label("disk", "hdd"))},
			pods:  []*api.Pod{placed("", "", "", selector("disk", "ssd")), placed("", "", "", selector("disk", "nvme"))},
			want: []placement{{"b", ""},
				{"", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}}},
		{name: "insufficient cpu counts bound requests",
			nodes: []*api.Node{node("a", "1", "", ""), node("b", "500m", "", "")},
			bound: []*api.Pod{placed("a", "800m", "")},
			pods:  []*api.Pod{placed("", "300m", ""), placed("", "300m", "")},
			want:  []placement{{"b", ""}, {"", "0/2 nodes are available: 2 Insufficient cpu."}}},
		{name: "placed pods fill a node",
			nodes: []*api.Node{node("a", "1", "", "")},
			pods:  []*api.Pod{placed("", "600m", ""), placed("", "600m", ""), placed("", "", "")},
			want:  []placement{{"a", ""}, {"", "0/1 nodes are available: 1 Insufficient cpu."}, {"a", ""}}},
		{name: "insufficient memory",
			nodes: []*api.Node{node("a", "4", "1Gi", "")},
			pods:  []*api.Pod{placed("", "", "2G"), placed("", "", "1Gi")},
			want:  []placement{{"", "0/1 nodes are available: 1 Insufficient memory."}, {"a", ""}}},
		{name: "cpu and memory both short on one node",
			nodes: []*api.Node{node("a", "1", "1Gi", "")},
			pods:  []*api.Pod{placed("", "2", "2Gi")},
			want:  []placement{{"", "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."}}},
		{name: "too many pods",
			nodes: []*api.Node{node("a", "", "", "1"), node("b", "", "", "2")},
			bound: []*api.Pod{placed("a", "", ""), placed("b", "", "")},
			pods:  []*api.Pod{placed("", "", ""), placed("", "", "")},
			want:  []placement{{"b", ""}, {"", "0/2 nodes are available: 2 Too many pods."}}},
		{name: "finished bound pods free their node",
			nodes: []*api.Node{node("a", "1", "", "1")},
			bound: []*api.Pod{placed("a", "1", "", phase(api.PodSucceeded)), placed("a", "1", "", phase(api.PodFailed))},
			pods:  []*api.Pod{placed("", "1", "")},
			want:  []placement{{"a", ""}}},
		{name: "not ready and unschedulable nodes are skipped",
			nodes: []*api.Node{node("a", "4", "", "", notReady), node("b", "4", "", "", noCondition), node("c", "4", "", "", cordoned), node("d", "1", "", "")},
			pods:  []*api.Pod{placed("", "", ""), placed("", "2", "")},
			want: []placement{{"d", ""}, {"", "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable, " +
				"2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."}}},
		{name: "reasons of every kind are counted and sorted",
			nodes: []*api.Node{node("a", "1", "", "", label("disk", "hdd")), node("b", "1", "", "", label("disk", "ssd")),
				node("c", "1", "", "", label("disk", "ssd")), node("d", "1", "", "", notReady)},
			pods: []*api.Pod{placed("", "2", "", selector("disk", "ssd"))},
			want: []placement{{"", "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, " +
				"1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 Insufficient cpu."}}},
		{name: "no nodes at all",
			pods: []*api.Pod{placed("", "", "")},
			want: []placement{{"", "no nodes available to schedule pods"}}},
		{name: "capacity stands in for missing allocatable",
			nodes: []*api.Node{node("a", "1", "", "", capacityOnly)},
			pods:  []*api.Pod{placed("", "800m", ""), placed("", "800m", "")},
			want:  []placement{{"a", ""}, {"", "0/1 nodes are available: 1 Insufficient cpu."}}},
		{name: "limits stand in for missing requests",
			nodes: []*api.Node{node("a", "1", "", "")},
			pods:  []*api.Pod{placed("", "2", "", asLimits)},
			want:  []placement{{"", "0/1 nodes are available: 1 Insufficient cpu."}}},
		{name: "an image without a command needs a node with docker",
			nodes: []*api.Node{node("a", "4", "", ""), node("b", "4", "", "", runtimes("process,docker")), node("c", "4", "", "", runtimes("process"))},
			pods:  []*api.Pod{placed("", "", "", imageOnly), placed("", "", "", imageOnly)},
			want:  []placement{{"b", ""}, {"b", ""}}},
		{name: "no node runs container images",
			nodes: []*api.Node{node("a", "4", "", ""), node("b", "4", "", "", runtimes("process")), node("c", "4", "", "", runtimes("process"))},
			pods:  []*api.Pod{placed("", "", "", imageOnly)},
			want:  []placement{{"", "0/3 nodes are available: 3 node(s) cannot run container images."}}},
		{name: "a docker node that is not ready does not count",
			nodes: []*api.Node{node("a", "4", "", ""), node("b", "4", "", "", runtimes("docker"), notReady)},
			pods:  []*api.Pod{placed("", "", "", imageOnly)},
			want: []placement{{"", "0/2 nodes are available: 1 node(s) cannot run container images, " +
				"1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."}}},
		{name: "runtimeClassName docker needs docker even with a command",
			nodes: []*api.Node{node("a", "4", "", ""), node("b", "4", "", "", runtimes("docker"))},
			pods:  []*api.Pod{placed("", "", "", withCommand, runtimeClass("docker")), placed("", "", "", withCommand)},
			want:  []placement{{"b", ""}, {"a", ""}}},
		{name: "runtimeClassName process avoids docker-only nodes",
			nodes: []*api.Node{node("a", "4", "", "", runtimes("docker")), node("b", "4", "", "", runtimes("docker,process"))},
			pods:  []*api.Pod{placed("", "", "", runtimeClass("process")), placed("", "", "", runtimeClass("gvisor"))},
			want:  []placement{{"b", ""}, {"", "0/2 nodes are available: 2 node(s) cannot run runtime class gvisor."}}},
		{name: "a pod that names its node keeps it and uses it up",
			nodes: []*api.Node{node("a", "1", "", ""), node("b", "1", "", "")},
			pods:  []*api.Pod{placed("b", "1", ""), placed("", "1", ""), placed("", "1", "")},
			want:  []placement{{"b", ""}, {"a", ""}, {"", "0/2 nodes are available: 2 Insufficient cpu."}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlacer(tc.nodes, tc.bound)
			var got []placement
			for _, pod := range tc.pods {
				n, r := p.Place(pod)
				got = append(got, placement{n, r})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("placements (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlacerLoads(t *testing.T) {
	nodes := []*api.Node{
		{Metadata: &api.ObjectMeta{Name: "b"}, Status: &api.NodeStatus{Capacity: map[string]string{"cpu": "2", "memory": "1Gi", "pods": "10"}}},
		{Metadata: &api.ObjectMeta{Name: "a"}, Status: &api.NodeStatus{Capacity: map[string]string{"cpu": "500m"}}},
	}
	pod := func(node, cpu string, phase string) *api.Pod {
		return &api.Pod{
			Spec: &api.PodSpec{NodeName: node, Containers: []*api.Container{{
				Resources: &api.ResourceRequirements{Requests: map[string]string{"cpu": cpu, "memory": "64Mi"}},
			}}},
			Status: &api.PodStatus{Phase: phase},
		}
	}
	p := NewPlacer(nodes, []*api.Pod{pod("b", "250m", api.PodRunning), pod("b", "1", api.PodPending), pod("b", "1", api.PodSucceeded), pod("gone", "1", api.PodRunning)})
	want := []NodeLoad{
		{Name: "a", CPUMillis: 500},
		{Name: "b", CPUMillis: 2000, MemoryBytes: 1 << 30, Pods: 10, UsedCPUMillis: 1250, UsedMemory: 128 << 20, UsedPods: 2},
	}
	if diff := cmp.Diff(want, p.Loads()); diff != "" {
		t.Errorf("Loads (-want +got):\n%s", diff)
	}
}
